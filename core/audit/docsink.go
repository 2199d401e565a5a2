package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Document kinds of the certstore sink.
const (
	DocKindRecord = "audit-record"
	DocKindHead   = "audit-head"
)

// DefaultChain names the chain of a deployment's daemons in the
// certstore.
const DefaultChain = "pkid"

// maxAppendAttempts bounds how often one Append retries after losing a
// race for the next seq to another node.
const maxAppendAttempts = 64

// Retries of a write the store calls unavailable (retryable: SQLite's
// "database is locked" when another process writes the same file): at
// most unavailableRetries, waiting unavailableWait, doubling, between
// them (about 0.3 s in all) before the append fails.
const (
	unavailableRetries = 5
	unavailableWait    = 10 * time.Millisecond
)

// DocLog is the certstore Sink: the chain kept as documents of a shared
// certstore (sdk.DocStore), so that the daemons of several nodes append to
// one chain. Each record is one document whose ID holds its seq; creating
// it (PutDoc with Version 0) is the step that claims the seq, so two nodes
// can never both write seq N: the loser gets ErrAlreadyExists, reads the
// new head and tries N+1. A head document names the last record so that an
// append need not list the chain; when a node died between writing a
// record and moving the head, the next append finds the record, checks it
// and moves the head on.
//
// Records are the same lines as the file sink's (stored as a JSON string,
// so a store that re-encodes JSON cannot change a byte of them), so Verify
// checks them alike (VerifyDocs).
type DocLog struct {
	ds    sdk.DocStore
	chain string
	opts  Options
	// mu makes this process one appender: its goroutines take turns
	// instead of racing each other for every seq; races remain only
	// between nodes.
	mu sync.Mutex
}

var _ Sink = (*DocLog)(nil)

// docLine is a record document's data.
type docLine struct {
	Line string `json:"line"`
}

// docHead is the head document's data.
type docHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	Kind string `json:"kind"`
}

// OpenDocs returns the sink of chain (DefaultChain when empty) in ds.
// Errors: a chain name that is not 1-64 letters, digits, '-' or '_'.
func OpenDocs(ds sdk.DocStore, chain string, opts Options) (*DocLog, error) {
	if chain == "" {
		chain = DefaultChain
	}
	if len(chain) > 64 || strings.Trim(chain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return nil, fmt.Errorf("audit: chain name %q must be 1 to 64 letters, digits, '-' or '_'", chain)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &DocLog{ds: ds, chain: chain, opts: opts}, nil
}

func recordID(chain string, seq uint64) string { return fmt.Sprintf("%s/%020d", chain, seq) }

func (l *DocLog) index() []string { return []string{"chain:" + l.chain} }

// Append implements Sink.
func (l *DocLog) Append(ctx context.Context, kind string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("audit: encoding %s data: %w", kind, err)
	}
	return l.append(ctx, kind, func(*Record, *docHead) (json.RawMessage, error) { return raw, nil })
}

// Checkpoint appends a checkpoint signed by Options.CheckpointKey unless
// the chain's last record already is one. Errors: no key, or Append's.
func (l *DocLog) Checkpoint(ctx context.Context) error {
	key := l.opts.CheckpointKey
	if key == nil {
		return errors.New("audit: no checkpoint key")
	}
	return l.append(ctx, KindCheckpoint, func(r *Record, h *docHead) (json.RawMessage, error) {
		if h.Kind == KindCheckpoint || h.Seq == 0 {
			return nil, errNothingToCheckpoint
		}
		return json.Marshal(checkpointData{Key: KeyID(key.Public().(ed25519.PublicKey)), Sig: ed25519.Sign(key, signedMessage(r))})
	})
}

// RunCheckpoints checkpoints every interval until ctx ends, and once more
// then; failures go to onErr (may be nil). Several nodes may run it: a
// node finding a checkpoint already last adds none.
func (l *DocLog) RunCheckpoints(ctx context.Context, every time.Duration, onErr func(error)) {
	runCheckpoints(ctx, l.Checkpoint, every, onErr)
}

// Close implements Sink; the store belongs to the caller.
func (l *DocLog) Close() error { return nil }

// append claims the next seq with a create-only write, retrying when
// another node claimed it first.
func (l *DocLog) append(ctx context.Context, kind string, data func(*Record, *docHead) (json.RawMessage, error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	retries := 0
	for range maxAppendAttempts {
		head, version, err := l.head(ctx)
		if errors.Is(err, sdk.ErrUnavailable) && retries < unavailableRetries {
			if sleepCtx(ctx, unavailableWait<<retries) != nil {
				return err
			}
			retries++
			continue
		}
		if err != nil {
			return err
		}
		r := &Record{Seq: head.Seq + 1, Time: l.opts.Now().UTC(), Kind: kind, Prev: head.Hash}
		raw, err := data(r, &head)
		if errors.Is(err, errNothingToCheckpoint) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		r.Data = raw
		line, err := r.encode()
		if err != nil {
			return err
		}
		body, _ := json.Marshal(docLine{Line: string(line)})
		_, err = l.ds.PutDoc(ctx, &sdk.Doc{Kind: DocKindRecord, ID: recordID(l.chain, r.Seq), Data: body, Index: l.index()})
		if errors.Is(err, sdk.ErrUnavailable) && retries < unavailableRetries {
			if werr := sleepCtx(ctx, unavailableWait<<retries); werr != nil {
				return fmt.Errorf("audit: writing record %d of chain %s: %w", r.Seq, l.chain, err)
			}
			retries++
			continue
		}
		if errors.Is(err, sdk.ErrAlreadyExists) {
			// Another node took this seq; it moves the head, or the next
			// read repairs it.
			if err := l.rollForward(ctx, head, version); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("audit: writing record %d of chain %s: %w", r.Seq, l.chain, err)
		}
		l.moveHead(ctx, docHead{Seq: r.Seq, Hash: r.Hash, Kind: kind}, version)
		return nil
	}
	return fmt.Errorf("audit: chain %s: no free seq after %d attempts (too many writers): %w", l.chain, maxAppendAttempts, sdk.ErrUnavailable)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// head reads the head document; a chain without one starts at genesis.
func (l *DocLog) head(ctx context.Context) (docHead, int64, error) {
	d, err := l.ds.GetDoc(ctx, DocKindHead, l.chain)
	if errors.Is(err, sdk.ErrNotFound) {
		return docHead{Hash: genesis}, 0, nil
	}
	if err != nil {
		return docHead{}, 0, fmt.Errorf("audit: reading the head of chain %s: %w", l.chain, err)
	}
	var h docHead
	if err := json.Unmarshal(d.Data, &h); err != nil || len(h.Hash) != len(genesis) {
		return docHead{}, 0, fmt.Errorf("audit: the head of chain %s is damaged; refusing to extend it, run pkid audit verify", l.chain)
	}
	return h, d.Version, nil
}

// moveHead advances the head with compare-and-swap; losing the race is
// fine (the winner's head is at least as far, or the next append rolls
// forward), so errors are not returned: the record is durable already.
func (l *DocLog) moveHead(ctx context.Context, h docHead, version int64) {
	body, _ := json.Marshal(h)
	_, _ = l.ds.PutDoc(ctx, &sdk.Doc{Kind: DocKindHead, ID: l.chain, Version: version, Data: body})
}

// rollForward moves a head that lags behind the records (its writer died
// after writing a record) onto the record after it, once that record is
// checked to follow the head. Errors: that record does not follow, or the
// store fails.
func (l *DocLog) rollForward(ctx context.Context, head docHead, version int64) error {
	d, err := l.ds.GetDoc(ctx, DocKindRecord, recordID(l.chain, head.Seq+1))
	if errors.Is(err, sdk.ErrNotFound) {
		return nil // deleted meanwhile (expired?): try again
	}
	if err != nil {
		return fmt.Errorf("audit: chain %s: %w", l.chain, err)
	}
	var dl docLine
	if err := json.Unmarshal(d.Data, &dl); err != nil {
		return fmt.Errorf("audit: record %d of chain %s is damaged; refusing to extend it, run pkid audit verify", head.Seq+1, l.chain)
	}
	r, ok, err := ParseLine([]byte(dl.Line))
	if err != nil || !ok || r.Seq != head.Seq+1 || r.Prev != head.Hash {
		return fmt.Errorf("audit: record %d of chain %s does not follow its head; refusing to extend it, run pkid audit verify", head.Seq+1, l.chain)
	}
	cur, curVersion, err := l.head(ctx)
	if err != nil {
		return err
	}
	if curVersion == version && cur.Seq == head.Seq {
		l.moveHead(ctx, docHead{Seq: r.Seq, Hash: r.Hash, Kind: r.Kind}, version)
	}
	return nil
}

// VerifyDocs checks the chain in ds as Verify checks a file: the records
// in seq order are the "lines" (Problem.Line is then the position in the
// chain). It also reports records missing at the end when the head names
// a later seq than the last record. Errors: reading the store, or ctx.
func VerifyDocs(ctx context.Context, ds sdk.DocStore, chain string, opts VerifyOptions) (*Report, error) {
	if chain == "" {
		chain = DefaultChain
	}
	pr, pw := io.Pipe()
	go func() {
		err := ds.FindDocs(ctx, DocKindRecord, "chain:"+chain, 0, func(d *sdk.Doc) error {
			var dl docLine
			line := []byte("{}") // a damaged document reads as a malformed record
			if json.Unmarshal(d.Data, &dl) == nil && !strings.ContainsRune(dl.Line, '\n') {
				line = []byte(dl.Line)
			}
			_, err := pw.Write(append(line, '\n'))
			return err
		})
		pw.CloseWithError(err)
	}()
	rep, err := Verify(ctx, pr, opts)
	pr.CloseWithError(errors.New("verification ended"))
	if err != nil {
		return rep, fmt.Errorf("audit: chain %s: %w", chain, err)
	}
	d, err := ds.GetDoc(ctx, DocKindHead, chain)
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return rep, fmt.Errorf("audit: chain %s head: %w", chain, err)
	}
	if d != nil {
		var h docHead
		if json.Unmarshal(d.Data, &h) == nil && h.Seq > lastSeq(rep) {
			rep.Problems = append(rep.Problems, Problem{Line: rep.Records + 1, Seq: h.Seq, Kind: ProblemDeleted,
				Detail: fmt.Sprintf("the chain's head names seq %d, but the records end before it: the last records were deleted", h.Seq)})
		}
	}
	return rep, nil
}

func lastSeq(rep *Report) uint64 { return rep.lastSeq }
