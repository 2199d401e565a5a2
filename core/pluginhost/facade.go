package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// InstanceError names the plugin instance a call failed in, so messages and
// logs say which part failed ("certstore \"main\": ... database or disk is
// full"). It unwraps to the plugin's error: errors.Is still matches the sdk
// sentinels.
type InstanceError struct {
	Kind     string // sdk.KindKeyStore, sdk.KindCertStore, sdk.KindTrust, sdk.KindScanCheck
	Instance string
	Err      error
}

func (e *InstanceError) Error() string { return e.Part() + ": " + e.Err.Error() }
func (e *InstanceError) Unwrap() error { return e.Err }

// Part is the failing part's name, e.g. `certstore "main"`.
func (e *InstanceError) Part() string { return fmt.Sprintf("%s %q", e.Kind, e.Instance) }

// part is the instance a facade calls.
type part struct{ kind, name string }

// wrap names the part in err. A cancellation the caller did not ask for
// means the connection closed under the call (the plugin process died or is
// being replaced): that is sdk.ErrUnavailable, retryable. Errors about the
// request itself (not found, already exists, invalid argument, failed
// precondition) stay as they are: their text goes to clients.
func (pt part) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if ctx.Err() != nil {
			return err // the caller's own cancellation or deadline
		}
		if errors.Is(err, context.Canceled) && !errors.Is(err, sdk.ErrUnavailable) {
			err = fmt.Errorf("connection to the plugin closed mid-call (%v): %w", err, sdk.ErrUnavailable)
		}
	}
	for _, keep := range []error{sdk.ErrNotFound, sdk.ErrAlreadyExists, sdk.ErrInvalidArgument, sdk.ErrFailedPrecondition, sdk.ErrHeld} {
		if errors.Is(err, keep) {
			return err
		}
	}
	var ie *InstanceError
	if errors.As(err, &ie) {
		return err
	}
	return &InstanceError{Kind: pt.kind, Instance: pt.name, Err: err}
}

// keyStore is the host's view of an out-of-process keystore instance. It
// looks up the live connection on every call, so it survives restarts.
type keyStore struct {
	p    *Process
	name string
	part part
}

// Close is a no-op: the host closes instances when it closes.
func (k *keyStore) Close() error { return nil }

func (k *keyStore) GenerateKey(ctx context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	return call(ctx, k.p, k.part, func(c *rpc.Client) (*sdk.KeyInfo, error) { return c.KeyStore(k.name).GenerateKey(ctx, req) })
}

// importingKeyStore is the view of a keystore whose instance implements
// sdk.KeyImporter, as its plugin's adapter reported when it was configured:
// the host asks the instance's interfaces, not the plugin, what it can do.
type importingKeyStore struct{ *keyStore }

func (k importingKeyStore) ImportKey(ctx context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	return call(ctx, k.p, k.part, func(c *rpc.Client) (*sdk.KeyInfo, error) {
		imp, ok := c.KeyStore(k.name).(sdk.KeyImporter)
		if !ok { // a restart brought a build that cannot import
			return nil, fmt.Errorf("keystore %q cannot import keys: %w", k.name, sdk.ErrUnimplemented)
		}
		return imp.ImportKey(ctx, req)
	})
}

// keyStore returns the facade of the configured keystore instance name,
// implementing sdk.KeyImporter when the instance does.
func (p *Process) keyStore(ctx context.Context, name string) (sdk.Instance, error) {
	conn, err := p.Conn(ctx)
	if err != nil {
		return nil, err
	}
	k := &keyStore{p: p, name: name, part: part{sdk.KindKeyStore, name}}
	if slices.Contains(conn.Capabilities(sdk.KindKeyStore, name), rpc.CapImportKey) {
		return importingKeyStore{k}, nil
	}
	return k, nil
}

func (k *keyStore) ListKeys(ctx context.Context) ([]sdk.KeyInfo, error) {
	return call(ctx, k.p, k.part, func(c *rpc.Client) ([]sdk.KeyInfo, error) { return c.KeyStore(k.name).ListKeys(ctx) })
}

func (k *keyStore) PublicKey(ctx context.Context, id string) (*sdk.KeyInfo, error) {
	return call(ctx, k.p, k.part, func(c *rpc.Client) (*sdk.KeyInfo, error) { return c.KeyStore(k.name).PublicKey(ctx, id) })
}

func (k *keyStore) Sign(ctx context.Context, req sdk.SignRequest) ([]byte, error) {
	return call(ctx, k.p, k.part, func(c *rpc.Client) ([]byte, error) { return c.KeyStore(k.name).Sign(ctx, req) })
}

// certStore is the host's view of an out-of-process certstore instance.
type certStore struct {
	p    *Process
	name string
	part part

	mu         sync.Mutex
	writeErr   error // the last write's retryable failure; nil after a success
	writeErrAt time.Time
}

// WriteFailureWindow is how long a certstore's failed write (disk full,
// database down) keeps its Check failing when no write succeeds since:
// reads still work on a full disk, so only writes tell; the window lets
// health recover once the cause is fixed even if no traffic comes.
var WriteFailureWindow = time.Minute

// noteWrite records the outcome of a write for Check.
func (s *certStore) noteWrite(err error) {
	if err != nil && !errors.Is(err, sdk.ErrUnavailable) {
		return // a refused record says nothing about the store's health
	}
	s.mu.Lock()
	s.writeErr, s.writeErrAt = err, time.Now()
	s.mu.Unlock()
}

// Check is a health probe: it fails (wrapping sdk.ErrUnavailable, with the
// cause) while the last write failed retryably within WriteFailureWindow.
func (s *certStore) Check(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr == nil || time.Since(s.writeErrAt) > WriteFailureWindow {
		return nil
	}
	return fmt.Errorf("last write failed %s ago: %w", time.Since(s.writeErrAt).Round(time.Second), s.writeErr)
}

func (s *certStore) Close() error { return nil }

type none struct{}

func (s *certStore) Put(ctx context.Context, rec *sdk.CertRecord) error {
	_, err := call(ctx, s.p, s.part, func(c *rpc.Client) (none, error) { return none{}, c.CertStore(s.name).Put(ctx, rec) })
	s.noteWrite(err)
	return err
}

// PutBatch sends the records together over the group-commit stream. Every
// out-of-process certstore gets it, whether or not its instance reported
// rpc.CapPutBatch: the stream saves round trips either way, and the
// plugin's adapter puts one record at a time for a store without PutBatch.
func (s *certStore) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	defer observeBatch(s.name, len(recs), time.Now())
	errs, err := call(ctx, s.p, s.part, func(c *rpc.Client) ([]error, error) {
		return c.CertStore(s.name).(sdk.BatchPutter).PutBatch(ctx, recs)
	})
	for i := range errs {
		errs[i] = s.part.wrap(ctx, errs[i])
	}
	s.noteWrite(err)
	return errs, err
}

func (s *certStore) Get(ctx context.Context, serial, aki string) (*sdk.CertRecord, error) {
	return call(ctx, s.p, s.part, func(c *rpc.Client) (*sdk.CertRecord, error) { return c.CertStore(s.name).Get(ctx, serial, aki) })
}

func (s *certStore) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	_, err := call(ctx, s.p, s.part, func(c *rpc.Client) (none, error) { return none{}, c.CertStore(s.name).List(ctx, f, fn) })
	return err
}

func (s *certStore) Revoke(ctx context.Context, req sdk.RevokeRequest) error {
	_, err := call(ctx, s.p, s.part, func(c *rpc.Client) (none, error) { return none{}, c.CertStore(s.name).Revoke(ctx, req) })
	s.noteWrite(err)
	return err
}

func (s *certStore) PutOCSP(ctx context.Context, rec *sdk.OCSPRecord) error {
	_, err := call(ctx, s.p, s.part, func(c *rpc.Client) (none, error) { return none{}, c.CertStore(s.name).PutOCSP(ctx, rec) })
	s.noteWrite(err)
	return err
}

func (s *certStore) GetOCSP(ctx context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	return call(ctx, s.p, s.part, func(c *rpc.Client) (*sdk.OCSPRecord, error) { return c.CertStore(s.name).GetOCSP(ctx, serial, aki) })
}

// leasingCertStore is the view of a certstore whose instance implements
// sdk.Leaser, as its plugin's adapter reported when it was configured.
type leasingCertStore struct{ *certStore }

// Lease passes through to the plugin, which holds the lease while the
// stream lasts: the lease is lost when the plugin process dies (the host
// restarts it; a new Lease then goes to the new process). Errors: those of
// sdk.Leaser, and sdk.ErrUnimplemented if a restart brought a build that
// offers no leases.
func (s leasingCertStore) Lease(ctx context.Context, req sdk.LeaseRequest) (sdk.Lease, error) {
	return call(ctx, s.p, s.part, func(c *rpc.Client) (sdk.Lease, error) {
		l, ok := c.CertStore(s.name).(sdk.Leaser)
		if !ok {
			return nil, fmt.Errorf("certstore %q offers no leases: %w", s.name, sdk.ErrUnimplemented)
		}
		return l.Lease(ctx, req)
	})
}

// certStore returns the facade of the configured certstore instance name,
// implementing sdk.Leaser and sdk.DocStore when the instance does.
func (p *Process) certStore(ctx context.Context, name string) (sdk.Instance, error) {
	conn, err := p.Conn(ctx)
	if err != nil {
		return nil, err
	}
	s := &certStore{p: p, name: name, part: part{sdk.KindCertStore, name}}
	return certStoreView(s, conn.Capabilities(sdk.KindCertStore, name)), nil
}

var (
	_ sdk.Leaser      = leasingCertStore{}
	_ sdk.KeyStore    = (*keyStore)(nil)
	_ sdk.KeyImporter = importingKeyStore{}
	_ sdk.CertStore   = (*certStore)(nil)
	_ sdk.BatchPutter = (*certStore)(nil)
)
