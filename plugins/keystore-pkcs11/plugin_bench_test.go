//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/pluginhost"
	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
	"github.com/pkid/pkid/sdk"
)

// BenchmarkPKCS11Sign measures SoftHSM signatures per second through the
// keystore-pkcs11 plugin out of process (a pkid binary serving it, reached
// through pluginhost over gRPC) next to the same plugin in process (direct
// miekg/pkcs11 calls), with the same session pool size, for 1 and 32
// concurrent callers:
//
//	BenchmarkPKCS11Sign/{P256,RSA2048}/{direct,plugin}/{c1,c32}
//
// make bench prints plugin/direct ratios of the same run.
func BenchmarkPKCS11Sign(b *testing.B) {
	tok := softhsmtest.New(b, testLabel) // SOFTHSM2_CONF reaches the plugin through the builtin env allowlist
	exe := buildPkid(b)
	cfg := with(baseConfig(tok), "max_sessions", 2*runtime.GOMAXPROCS(0))
	ctx := context.Background()

	direct, err := configure(keystorepkcs11.New(), "bench", cfg)
	if err != nil {
		b.Fatalf("configure in process: %v", err)
	}
	b.Cleanup(func() { _ = direct.Close() })
	algs := []struct{ name, alg string }{{"P256", sdk.AlgECDSAP256}, {"RSA2048", sdk.AlgRSA2048}}
	for _, a := range algs {
		// Generated before the plugin process opens the token.
		if _, err := direct.(sdk.KeyStore).GenerateKey(ctx, sdk.GenerateKeyRequest{ID: a.name, Algorithm: a.alg}); err != nil {
			b.Fatal(err)
		}
	}

	newPlugin, ok := catalog.LookupBuiltin(sdk.KindKeyStore, "pkcs11")
	if !ok {
		b.Fatal("no builtin keystore pkcs11")
	}
	host := pluginhost.New(pluginhost.Options{
		Executable: exe,
		Logger:     hclog.New(&hclog.LoggerOptions{Name: "bench", Output: os.Stderr, Level: hclog.Warn}),
	})
	b.Cleanup(host.Close)
	js, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	remote, err := host.Open(ctx, pluginhost.OpenRequest{
		Spec: pluginhost.Spec{Kind: sdk.KindKeyStore, Type: "pkcs11", New: newPlugin},
		Name: "bench", Config: js,
	})
	if err != nil {
		b.Fatalf("open out of process: %v", err)
	}

	d := sha256.Sum256([]byte("benchmark"))
	for _, a := range algs {
		req := sdk.SignRequest{KeyID: a.name, Digest: d[:], Hash: crypto.SHA256}
		b.Run(a.name, func(b *testing.B) {
			for _, ks := range []struct {
				name string
				ks   sdk.KeyStore
			}{{"direct", direct.(sdk.KeyStore)}, {"plugin", remote.(sdk.KeyStore)}} {
				b.Run(ks.name, func(b *testing.B) {
					for _, callers := range []int{1, 32} {
						b.Run(fmt.Sprintf("c%d", callers), func(b *testing.B) {
							signParallel(b, ks.ks, req, callers)
						})
					}
				})
			}
		})
	}
}

// signParallel has callers goroutines share b.N signatures and reports
// signatures per second.
func signParallel(b *testing.B, ks sdk.KeyStore, req sdk.SignRequest, callers int) {
	ctx := context.Background()
	if _, err := ks.Sign(ctx, req); err != nil { // warm a session
		b.Fatal(err)
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	for range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := ks.Sign(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}
