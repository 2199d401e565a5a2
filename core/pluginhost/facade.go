package pluginhost

import (
	"context"

	"github.com/pkid/pkid/sdk"
)

// keyStore is the host's view of an out-of-process keystore instance. It
// looks up the live connection on every call, so it survives restarts.
type keyStore struct {
	p    *Process
	name string
}

// Close is a no-op: the host closes instances when it closes.
func (k *keyStore) Close() error { return nil }

func (k *keyStore) GenerateKey(ctx context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	return call(ctx, k.p, func(c *sdk.Client) (*sdk.KeyInfo, error) { return c.KeyStore(k.name).GenerateKey(ctx, req) })
}

func (k *keyStore) ImportKey(ctx context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	return call(ctx, k.p, func(c *sdk.Client) (*sdk.KeyInfo, error) { return c.KeyStore(k.name).ImportKey(ctx, req) })
}

func (k *keyStore) ListKeys(ctx context.Context) ([]sdk.KeyInfo, error) {
	return call(ctx, k.p, func(c *sdk.Client) ([]sdk.KeyInfo, error) { return c.KeyStore(k.name).ListKeys(ctx) })
}

func (k *keyStore) PublicKey(ctx context.Context, id string) (*sdk.KeyInfo, error) {
	return call(ctx, k.p, func(c *sdk.Client) (*sdk.KeyInfo, error) { return c.KeyStore(k.name).PublicKey(ctx, id) })
}

func (k *keyStore) Sign(ctx context.Context, req sdk.SignRequest) ([]byte, error) {
	return call(ctx, k.p, func(c *sdk.Client) ([]byte, error) { return c.KeyStore(k.name).Sign(ctx, req) })
}

// certStore is the host's view of an out-of-process certstore instance.
type certStore struct {
	p    *Process
	name string
}

func (s *certStore) Close() error { return nil }

type none struct{}

func (s *certStore) Put(ctx context.Context, rec *sdk.CertRecord) error {
	_, err := call(ctx, s.p, func(c *sdk.Client) (none, error) { return none{}, c.CertStore(s.name).Put(ctx, rec) })
	return err
}

// PutBatch sends the records together over the group-commit stream.
func (s *certStore) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	return call(ctx, s.p, func(c *sdk.Client) ([]error, error) {
		return c.CertStore(s.name).(sdk.BatchPutter).PutBatch(ctx, recs)
	})
}

func (s *certStore) Get(ctx context.Context, serial, aki string) (*sdk.CertRecord, error) {
	return call(ctx, s.p, func(c *sdk.Client) (*sdk.CertRecord, error) { return c.CertStore(s.name).Get(ctx, serial, aki) })
}

func (s *certStore) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	_, err := call(ctx, s.p, func(c *sdk.Client) (none, error) { return none{}, c.CertStore(s.name).List(ctx, f, fn) })
	return err
}

func (s *certStore) Revoke(ctx context.Context, req sdk.RevokeRequest) error {
	_, err := call(ctx, s.p, func(c *sdk.Client) (none, error) { return none{}, c.CertStore(s.name).Revoke(ctx, req) })
	return err
}

func (s *certStore) PutOCSP(ctx context.Context, rec *sdk.OCSPRecord) error {
	_, err := call(ctx, s.p, func(c *sdk.Client) (none, error) { return none{}, c.CertStore(s.name).PutOCSP(ctx, rec) })
	return err
}

func (s *certStore) GetOCSP(ctx context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	return call(ctx, s.p, func(c *sdk.Client) (*sdk.OCSPRecord, error) { return c.CertStore(s.name).GetOCSP(ctx, serial, aki) })
}

var (
	_ sdk.KeyStore    = (*keyStore)(nil)
	_ sdk.CertStore   = (*certStore)(nil)
	_ sdk.BatchPutter = (*certStore)(nil)
)
