package keystoresplit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// delegating is the conformance kit's view of a split keystore: after it
// makes a key, two of three custodians delegate for it, so the kit can sign
// ("with enough delegations given").
type delegating struct {
	sdk.KeyStore
	t   testing.TB
	dir string
	cs  custodians
}

func (d *delegating) give(info *sdk.KeyInfo) {
	d.cs.give(d.t, d.dir, info.ID, time.Hour, maxUses, "alice", "bob")
}

func (d *delegating) GenerateKey(ctx context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	info, err := d.KeyStore.GenerateKey(ctx, req)
	if err == nil {
		d.give(info)
	}
	return info, err
}

func (d *delegating) ImportKey(ctx context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	info, err := d.KeyStore.(sdk.KeyImporter).ImportKey(ctx, req)
	if err == nil {
		d.give(info)
	}
	return info, err
}

func TestConformance(t *testing.T) {
	cs := newCustodians(t, "alice", "bob", "carol")
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		s, dir := newTestStore(t, 2, cs)
		return &delegating{KeyStore: s, t: t, dir: dir, cs: cs}
	})
}

// TestConformanceGRPC runs the kit through the sdk's gRPC adapters, as the
// host sees the plugin out of process: sdk.ErrLocked and the rest must
// survive as sentinels.
func TestConformanceGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process conformance covers the plugin; -short skips the gRPC run")
	}
	cs := newCustodians(t, "alice", "bob", "carol")
	c := plugintest.ServeGRPC(t, New())
	n := 0
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		n++
		name := fmt.Sprint("g", n)
		dir := filepath.Join(t.TempDir(), "split")
		plugintest.Configure(t, c, sdk.KindKeyStore, name, testConfig(dir, 2, cs))
		return &delegating{KeyStore: c.KeyStore(name), t: t, dir: dir, cs: cs}
	})
}

func TestLockedOverGRPC(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	c := plugintest.ServeGRPC(t, New())
	dir := filepath.Join(t.TempDir(), "split")
	plugintest.Configure(t, c, sdk.KindKeyStore, "ca", testConfig(dir, 2, cs))
	ks := c.KeyStore("ca")
	if _, err := ks.GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: "root", Algorithm: sdk.AlgECDSAP256}); err != nil {
		t.Fatal(err)
	}
	cs.give(t, dir, "root", time.Hour, 5, "bob")
	mustBeLocked(t, ks, "root", "1 of 2 custodian delegations live")
	cs.give(t, dir, "root", time.Hour, 5, "alice")
	mustSign(t, ks, "root")
}

func TestPluginKit(t *testing.T) {
	cfg := func(s string) json.RawMessage { return json.RawMessage(s) }
	cs := newCustodians(t, "alice", "bob")
	r := cs.recipients()
	valid, _ := json.Marshal(map[string]any{"state_dir": "/var/lib/pkid/split", "threshold": 2, "custodians": r,
		"poll_interval": "1s", "max_delegation": "8h", "audit_file": nil})
	plugintest.TestPlugin(t, New(), plugintest.PluginConfigs{
		Kind:  sdk.KindKeyStore,
		Valid: valid,
		Invalid: []plugintest.InvalidConfig{
			{Name: "no state_dir", JSON: cfg(`{"state_dir":null}`), Path: []string{"state_dir"}},
			{Name: "threshold 1", JSON: cfg(`{"state_dir":"d","threshold":1,"custodians":{"a":"` + r["alice"] + `"}}`), Path: []string{"threshold"}},
			{Name: "threshold above N", JSON: cfg(`{"state_dir":"d","threshold":3,"custodians":{"a":"` + r["alice"] + `","b":"` + r["bob"] + `"}}`), Path: []string{"threshold"}},
			{Name: "custodians without threshold", JSON: cfg(`{"state_dir":"d","custodians":{"a":"` + r["alice"] + `"}}`), Path: []string{"threshold"}},
			{Name: "bad recipient", JSON: cfg(`{"state_dir":"d","threshold":2,"custodians":{"a":"age1nope","b":"` + r["bob"] + `"}}`), Path: []string{"custodians"}},
			{Name: "passphrase custodian", JSON: cfg(`{"state_dir":"d","threshold":2,"custodians":{"a":"passphrase","b":"` + r["bob"] + `"}}`), Path: []string{"custodians"}},
			{Name: "bad poll", JSON: cfg(`{"state_dir":"d","poll_interval":"-1s"}`), Path: []string{"poll_interval"}},
		},
	})
}
