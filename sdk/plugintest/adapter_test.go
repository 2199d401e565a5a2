package plugintest

import (
	"context"
	"crypto/elliptic"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// adapterPlugin serves whatever instance its Configure is given, and
// remembers the configuration it last saw.
type adapterPlugin struct {
	kinds []string
	inst  func() sdk.Instance
	seen  *sdk.Config
}

func (p adapterPlugin) Info() sdk.Info {
	return sdk.Info{Name: "adapter", Version: "0.0.1", Kinds: p.kinds}
}
func (adapterPlugin) Schema(string) *sdk.Schema { return sdk.NewSchema() }
func (p adapterPlugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	*p.seen = cfg
	return nil
}
func (p adapterPlugin) Configure(_ context.Context, cfg sdk.Config) (sdk.Instance, error) {
	*p.seen = cfg
	return p.inst(), nil
}

// genOnly is a keystore that cannot import (no sdk.KeyImporter).
type genOnly struct{}

func (genOnly) Close() error { return nil }
func (genOnly) GenerateKey(context.Context, sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	return nil, sdk.ErrUnimplemented
}
func (genOnly) ListKeys(context.Context) ([]sdk.KeyInfo, error)         { return nil, nil }
func (genOnly) PublicKey(context.Context, string) (*sdk.KeyInfo, error) { return nil, sdk.ErrNotFound }
func (genOnly) Sign(context.Context, sdk.SignRequest) ([]byte, error)   { return nil, sdk.ErrNotFound }

// importing adds sdk.KeyImporter.
type importing struct{ genOnly }

func (importing) ImportKey(_ context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	signer, err := sdk.ParsePrivateKeyPEM(req.PEM)
	if err != nil {
		return nil, err
	}
	return &sdk.KeyInfo{ID: req.ID, Algorithm: sdk.AlgECDSAP256, PublicKey: signer.Public()}, nil
}

// batching is a certstore with sdk.BatchPutter.
type batching struct{ certstoreMem }

func (b *batching) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	errs := make([]error, len(recs))
	for i, r := range recs {
		errs[i] = b.Put(ctx, r)
	}
	return errs, nil
}

// The adapter derives capabilities from the optional interfaces an
// instance implements; the host's view implements the same interfaces.
func TestAdapterCapabilities(t *testing.T) {
	for _, c := range []struct {
		name, kind string
		inst       func() sdk.Instance
		want       []string
	}{
		{"keystore without import", sdk.KindKeyStore, func() sdk.Instance { return genOnly{} }, nil},
		{"keystore with import", sdk.KindKeyStore, func() sdk.Instance { return importing{} }, []string{rpc.CapImportKey}},
		{"certstore", sdk.KindCertStore, func() sdk.Instance { return &certstoreMem{} }, nil},
		{"batching certstore", sdk.KindCertStore, func() sdk.Instance { return &batching{} }, []string{rpc.CapPutBatch}},
		{"trust", sdk.KindTrust, func() sdk.Instance { return &trustMem{} }, nil},
		{"scancheck", sdk.KindScanCheck, func() sdk.Instance { return scanMem{} }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var seen sdk.Config
			cl := ServeGRPC(t, adapterPlugin{kinds: []string{c.kind}, inst: c.inst, seen: &seen})
			Configure(t, cl, c.kind, "a", map[string]any{})
			if got := cl.Capabilities(c.kind, "a"); !slices.Equal(got, c.want) {
				t.Errorf("capabilities %q, want %q", got, c.want)
			}
			if c.kind != sdk.KindKeyStore {
				return
			}
			imp, ok := cl.KeyStore("a").(sdk.KeyImporter)
			if ok != (c.want != nil) {
				t.Fatalf("host view is a KeyImporter: %v, want %v", ok, c.want != nil)
			}
			if ok {
				if _, err := imp.ImportKey(t.Context(), sdk.ImportKeyRequest{ID: "k", PEM: keystoreEcPEM(t, elliptic.P256())}); err != nil {
					t.Errorf("ImportKey over gRPC: %v", err)
				}
			}
		})
	}
}

// The adapter checks the kind once for every plugin, and that the instance
// implements the kind's interface.
func TestAdapterKind(t *testing.T) {
	var seen sdk.Config
	cl := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindKeyStore}, inst: func() sdk.Instance { return &certstoreMem{} }, seen: &seen})
	for _, kind := range []string{sdk.KindCertStore, "nonsense"} {
		cfg := sdk.Config{Kind: kind, Instance: "a", JSON: []byte(`{}`)}
		if _, err := cl.ValidateConfig(t.Context(), cfg); !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `not "`+kind+`"`) {
			t.Errorf("ValidateConfig(%s) = %v, want ErrInvalidArgument naming the kind", kind, err)
		}
		if err := cl.Configure(t.Context(), cfg); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Configure(%s) = %v, want ErrInvalidArgument", kind, err)
		}
	}
	if seen.Kind != "" {
		t.Errorf("the plugin saw a %q configuration", seen.Kind)
	}
	err := cl.Configure(t.Context(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "a", JSON: []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "does not implement the keystore interface") {
		t.Errorf("Configure of a keystore returning a certstore = %v", err)
	}
	for _, kind := range []string{sdk.KindTrust, sdk.KindScanCheck} {
		cl := ServeGRPC(t, adapterPlugin{kinds: []string{kind}, inst: func() sdk.Instance { return &certstoreMem{} }, seen: &seen})
		err := cl.Configure(t.Context(), sdk.Config{Kind: kind, Instance: "a", JSON: []byte(`{}`)})
		if err == nil || !strings.Contains(err.Error(), "does not implement the "+kind+" interface") {
			t.Errorf("Configure of a %s returning a certstore = %v", kind, err)
		}
	}
}

// Literal secrets are a Config field that crosses the wire.
func TestAdapterLiteralSecrets(t *testing.T) {
	var seen sdk.Config
	cl := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindKeyStore}, inst: func() sdk.Instance { return genOnly{} }, seen: &seen})
	cfg := sdk.Config{Kind: sdk.KindKeyStore, Instance: "a", JSON: []byte(`{"pin":"1"}`), LiteralSecrets: []string{"pin"}}
	if _, err := cl.ValidateConfig(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen.LiteralSecrets, []string{"pin"}) {
		t.Errorf("ValidateConfig: plugin saw literal secrets %q", seen.LiteralSecrets)
	}
	seen = sdk.Config{}
	if err := cl.Configure(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen.LiteralSecrets, []string{"pin"}) || string(seen.JSON) != `{"pin":"1"}` {
		t.Errorf("Configure: plugin saw %+v", seen)
	}
}
