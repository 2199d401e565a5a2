package plugintest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// trustLive is a trust source a test drives from the plugin's side: it
// yields n copies of one certificate (forever when n < 0), made one at a
// time as the listing asks, and its Watch sends what the test pushes.
type trustLive struct {
	der  []byte
	n    int
	gate func(i int) error // called before certificate i is yielded
	err  error             // Certificates fails with it when set

	listed chan error // each Certificates call's result

	mu       sync.Mutex
	watchers []chan struct{}
	watchErr error
	static   bool
	ended    chan error // each watch's ctx error once it ends
	earlyEnd bool       // close the watch channel without waiting for ctx
}

func newTrustLive(der []byte, n int) *trustLive {
	return &trustLive{der: der, n: n, listed: make(chan error, 16), ended: make(chan error, 16)}
}

func (*trustLive) Close() error { return nil }

func (l *trustLive) Certificates(ctx context.Context, fn func(*sdk.TrustCert) error) (err error) {
	defer func() { l.listed <- err }()
	if l.err != nil {
		return l.err
	}
	for i := 0; l.n < 0 || i < l.n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if l.gate != nil {
			if err := l.gate(i); err != nil {
				return err
			}
		}
		if err := fn(&sdk.TrustCert{DER: l.der, Root: i == 0, Source: fmt.Sprintf("live/%d", i)}); err != nil {
			return err
		}
	}
	return nil
}

func (l *trustLive) Platforms(context.Context) ([]sdk.Platform, error) {
	return []sdk.Platform{
		{Name: "a", Weight: 3, HashAlgo: "SHA1", KeyAlgo: "RSA", Roots: []string{"00112233445566778899aabbccddeeff00112233"}},
		{Name: "b", Weight: 0, HashAlgo: "SHA2", KeyAlgo: "ECDSA384", AllRoots: true},
	}, nil
}

func (l *trustLive) Watch(ctx context.Context) (<-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.watchErr != nil || l.static {
		return nil, l.watchErr
	}
	ch := make(chan struct{})
	l.watchers = append(l.watchers, ch)
	go func() {
		if !l.earlyEnd {
			<-ctx.Done()
		}
		l.mu.Lock()
		for i, w := range l.watchers {
			if w == ch {
				l.watchers = append(l.watchers[:i], l.watchers[i+1:]...)
			}
		}
		l.mu.Unlock()
		close(ch)
		l.ended <- ctx.Err()
	}()
	return ch, nil
}

// change tells every live watcher that the content changed.
func (l *trustLive) change(t *testing.T) {
	l.mu.Lock()
	ws := append([]chan struct{}(nil), l.watchers...)
	l.mu.Unlock()
	if len(ws) == 0 {
		t.Fatal("no watcher in the plugin")
	}
	for _, w := range ws {
		select {
		case w <- struct{}{}:
		case <-time.After(5 * time.Second):
			t.Fatal("the plugin's adapter does not read the watch channel")
		}
	}
}

// serveLive serves src over gRPC and returns the host's view of it.
func serveLive(t *testing.T, src *trustLive) sdk.Trust {
	t.Helper()
	var seen sdk.Config
	c := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindTrust}, inst: func() sdk.Instance { return src }, seen: &seen})
	Configure(t, c, sdk.KindTrust, "live", map[string]any{})
	if caps := c.Capabilities(sdk.KindTrust, "live"); len(caps) != 0 {
		t.Errorf("a trust source reports capabilities %q", caps)
	}
	return c.Trust("live")
}

// wait receives from ch within 5s.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing within 5s", what)
		panic("unreachable")
	}
}

// waitClosed drains ch until it closes, failing after 5s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s: the channel is still open after 5s", what)
		}
	}
}

// A large listing streams: the host sees the first certificate while the
// plugin has not yet made the last one (the source waits for it), so
// neither side holds the listing whole.
func TestTrustGRPCLargeListingStreams(t *testing.T) {
	root, _ := kitCA(t, "big root", nil, nil)
	const n = 5000
	firstSeen := make(chan struct{})
	src := newTrustLive(root.Raw, n)
	src.gate = func(i int) error {
		if i != n-1 {
			return nil
		}
		select {
		case <-firstSeen:
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("the host had not received the first certificate when the last was due: the listing does not stream")
		}
	}
	tr := serveLive(t, src)
	got, roots := 0, 0
	err := tr.Certificates(t.Context(), func(c *sdk.TrustCert) error {
		if got == 0 {
			close(firstSeen)
		}
		if !bytes.Equal(c.DER, root.Raw) || c.Source != fmt.Sprintf("live/%d", got) {
			return fmt.Errorf("certificate %d: source %q, DER equal %v", got, c.Source, bytes.Equal(c.DER, root.Raw))
		}
		if c.Root {
			roots++
		}
		got++
		return nil
	})
	if err != nil || got != n || roots != 1 {
		t.Fatalf("Certificates: %d certificates (%d roots), %v; want %d (1 root)", got, roots, err, n)
	}
	if err := wait(t, src.listed, "plugin's Certificates"); err != nil {
		t.Fatalf("the plugin's listing ended with %v", err)
	}
}

// An error from the host's callback is returned as is and stops the
// plugin's listing, even an endless one.
func TestTrustGRPCCallbackErrorStops(t *testing.T) {
	root, _ := kitCA(t, "endless root", nil, nil)
	src := newTrustLive(root.Raw, -1)
	tr := serveLive(t, src)
	stop := errors.New("host: enough")
	calls := 0
	err := tr.Certificates(t.Context(), func(*sdk.TrustCert) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 3 {
		t.Fatalf("Certificates: %v after %d calls, want the callback's own error after 3", err, calls)
	}
	if perr := wait(t, src.listed, "the plugin's endless listing to stop"); perr == nil {
		t.Fatal("the plugin's listing ended without an error")
	}
}

// Watch: a change in the plugin reaches the host's channel; cancelling the
// host's context closes it and ends the plugin's watch.
func TestTrustGRPCWatch(t *testing.T) {
	root, _ := kitCA(t, "watched root", nil, nil)
	src := newTrustLive(root.Raw, 1)
	tr := serveLive(t, src)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := tr.Watch(ctx)
	if err != nil || ch == nil {
		t.Fatalf("Watch: %v, %v", ch, err)
	}
	for i := range 2 {
		src.change(t)
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("change %d: the channel closed instead", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("change %d did not reach the host within 5s", i)
		}
	}
	select {
	case <-ch:
		t.Fatal("a value with no change behind it")
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	waitClosed(t, ch, "after cancel")
	if err := wait(t, src.ended, "the plugin's watch to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the plugin's watch context ended with %v, want context.Canceled", err)
	}
}

// Changes the host has not read yet are coalesced: they never block the
// plugin's source.
func TestTrustGRPCWatchCoalesces(t *testing.T) {
	src := newTrustLive(nil, 0)
	tr := serveLive(t, src)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := tr.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		src.change(t)
	}
	wait(t, ch, "coalesced change")
	cancel()
	waitClosed(t, ch, "after cancel")
}

// A source that never changes is a nil channel on the host too; Watch's
// own error crosses the wire as its sentinel; a source that breaks the
// contract by closing early closes the host's channel while ctx lives.
func TestTrustGRPCWatchEdges(t *testing.T) {
	static := newTrustLive(nil, 0)
	static.static = true
	if ch, err := serveLive(t, static).Watch(t.Context()); ch != nil || err != nil {
		t.Errorf("Watch of a static source: %v, %v; want a nil channel", ch, err)
	}

	failing := newTrustLive(nil, 0)
	failing.watchErr = fmt.Errorf("watch dir: %w", sdk.ErrUnavailable)
	if _, err := serveLive(t, failing).Watch(t.Context()); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Watch of a failing source: %v, want ErrUnavailable", err)
	}

	early := newTrustLive(nil, 0)
	early.earlyEnd = true
	ch, err := serveLive(t, early).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ch, "a watch the source ended early")
}

// Errors, platforms and an unconfigured instance over the wire.
func TestTrustGRPCErrorsAndPlatforms(t *testing.T) {
	src := newTrustLive(nil, 0)
	src.err = fmt.Errorf("reading /etc/ssl: %w", sdk.ErrUnavailable)
	tr := serveLive(t, src)
	if err := tr.Certificates(t.Context(), func(*sdk.TrustCert) error { return nil }); !errors.Is(err, sdk.ErrUnavailable) || !bytes.Contains([]byte(err.Error()), []byte("/etc/ssl")) {
		t.Errorf("Certificates of a failing source: %v, want ErrUnavailable with the source's message", err)
	}
	want, _ := src.Platforms(t.Context())
	got, err := tr.Platforms(t.Context())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Platforms over gRPC:\n got %+v, %v\nwant %+v", got, err, want)
	}

	var seen sdk.Config
	c := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindTrust}, inst: func() sdk.Instance { return src }, seen: &seen})
	if err := c.Trust("nobody").Certificates(t.Context(), func(*sdk.TrustCert) error { return nil }); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("Certificates of an unconfigured instance: %v, want ErrFailedPrecondition", err)
	}
	if _, err := c.Trust("nobody").Watch(t.Context()); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("Watch of an unconfigured instance: %v, want ErrFailedPrecondition", err)
	}
}
