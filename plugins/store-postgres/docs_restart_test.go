package storepostgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/sdk"
)

// A server restart between operations (every pooled connection stale) is
// invisible to PutDoc and GetDoc: a try on a dead connection is retried,
// and a retry recognises a write of its own call that committed. Deletes
// are retried only when nothing reached the server, so right after a
// restart one may report ErrUnavailable; it never reports a delete that
// did not happen.
func TestDocsServerRestart(t *testing.T) {
	t.Parallel()
	c := pgtest.New(t)
	s := openDSN(t, c.NewDatabase(t))
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n { // several pooled connections, all stale after the restart
		wg.Go(func() {
			_, errs[i] = s.PutDoc(ctx, &sdk.Doc{Kind: "k", ID: fmt.Sprint("pre", i), Data: json.RawMessage(`{}`)})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * n {
		v, err := s.PutDoc(ctx, &sdk.Doc{Kind: "k", ID: fmt.Sprint("pre", i%n), Version: int64(1 + i/n), Data: json.RawMessage(`{"after":true}`)})
		if err != nil || v != int64(2+i/n) {
			t.Fatalf("PutDoc %d right after a restart: %d, %v", i, v, err)
		}
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		d, err := s.GetDoc(ctx, "k", fmt.Sprint("pre", i))
		if err != nil || d.Version != 3 {
			t.Fatalf("GetDoc %d right after a restart: %+v, %v", i, d, err)
		}
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		err := s.DeleteDoc(ctx, "k", fmt.Sprint("pre", i), 3)
		if err != nil && !errors.Is(err, sdk.ErrUnavailable) {
			t.Fatalf("DeleteDoc %d right after a restart: %v", i, err)
		}
		_, gerr := s.GetDoc(ctx, "k", fmt.Sprint("pre", i))
		if err == nil && !errors.Is(gerr, sdk.ErrNotFound) {
			t.Fatalf("DeleteDoc %d reported success, but GetDoc says %v", i, gerr)
		}
		t.Logf("delete %d: %v", i, err)
	}
}

// A PutDoc whose first try committed but whose answer was lost (the
// connection broke) recognises its own write on the retry: it returns the
// version it wrote, not a conflict; a later call is not fooled.
func TestPutDocRetryFindsOwnWrite(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	putDocCommitted = func(try int) error {
		if try == 1 {
			return fmt.Errorf("reading the answer: %w", io.ErrUnexpectedEOF)
		}
		return nil
	}
	t.Cleanup(func() { putDocCommitted = nil })
	for _, c := range []struct {
		version, want int64
	}{{0, 1}, {1, 2}, {2, 3}} {
		v, err := s.PutDoc(ctx, &sdk.Doc{Kind: "k", ID: "a", Version: c.version, Data: json.RawMessage(`{}`)})
		if err != nil || v != c.want {
			t.Fatalf("PutDoc at version %d with a lost answer: %d, %v; want %d", c.version, v, err, c.want)
		}
	}
	putDocCommitted = nil
	// The same content from another call is still a conflict.
	if _, err := s.PutDoc(ctx, &sdk.Doc{Kind: "k", ID: "a", Version: 2, Data: json.RawMessage(`{}`)}); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Fatalf("stale PutDoc: %v, want ErrFailedPrecondition", err)
	}
	if _, err := s.PutDoc(ctx, &sdk.Doc{Kind: "k", ID: "a", Data: json.RawMessage(`{}`)}); !errors.Is(err, sdk.ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
}
