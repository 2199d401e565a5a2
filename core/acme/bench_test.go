package acme_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"
)

// benchNames numbers the benchmark's order names across its runs.
var benchNames atomic.Int64

// BenchmarkACMEOrderVsSign measures, in one run against one daemon, ACME
// orders end to end with lego (new order, http-01 validated by the
// daemon, finalize, download) and plain /sign requests for the same
// kind of certificate, and reports their rates and ratio.
func BenchmarkACMEOrderVsSign(b *testing.B) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	name := "bench.acme.test"
	c, _ := newLego(b, h, "web", true)
	if err := c.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(h.HTTPPort))); err != nil {
		b.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	signBody, _ := json.Marshal(map[string]any{"certificate_request": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), "profile": "server"})
	hc := h.Client()
	sign := func() {
		resp, err := hc.Post(h.URL+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(signBody))
		if err != nil {
			b.Fatal(err)
		}
		var env struct{ Success bool }
		json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !env.Success {
			b.Fatalf("sign: %d", resp.StatusCode)
		}
	}
	sign() // warm up both paths
	ctx := context.Background()
	b.ResetTimer()
	var acmeTime, signTime time.Duration
	for range b.N {
		// A fresh name per order: the profile's default per-name rate
		// limit (50 orders an hour) would otherwise end the run.
		orderName := fmt.Sprintf("bench%d.acme.test", benchNames.Add(1))
		h.DNS.SetA(orderName, "127.0.0.1")
		t0 := time.Now()
		if _, err := c.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{orderName}, Bundle: true, PrivateKey: key}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		sign()
		signTime += time.Since(t1)
		acmeTime += t1.Sub(t0)
	}
	b.StopTimer()
	orders := float64(b.N) / acmeTime.Seconds()
	signs := float64(b.N) / signTime.Seconds()
	b.ReportMetric(orders, "acme-orders/s")
	b.ReportMetric(signs, "signs/s")
	b.ReportMetric(signs/orders, "sign/acme-ratio")
}
