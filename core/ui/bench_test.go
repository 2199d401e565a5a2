package ui_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/sdk"
)

// BenchmarkPages times dashboard pages over a store of 20,000 records (in
// process SQLite): the lists and the name search stop after MaxScan
// records, the serial search is one lookup per CA.
func BenchmarkPages(b *testing.B) {
	loaded := devConfig(b, "")
	d, err := newDaemon(b, loaded, daemon.Options{Dev: true})
	if err != nil {
		b.Fatal(err)
	}
	st := loaded.CertStores["main"]
	bp, ok := st.(sdk.BatchPutter)
	if !ok {
		b.Skip("the store has no batch writes")
	}
	iss := d.Set().CAs[d.Set().Default]
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bulk"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(60 * 24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	const n = 20000
	var last string
	for i := 0; i < n; i += 1000 {
		var recs []*sdk.CertRecord
		for j := i; j < i+1000; j++ {
			last = fmt.Sprint(1_000_000 + j)
			recs = append(recs, &sdk.CertRecord{Serial: last, AKI: iss.AKI(), IssuerLabel: d.Set().Default, Subject: fmt.Sprintf("CN=host%d.example.com", j),
				SANs: []string{fmt.Sprintf("host%d.example.com", j)}, NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter.Add(time.Duration(j) * time.Second), Status: sdk.StatusGood, DER: der})
		}
		if _, err := bp.PutBatch(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	c := &http.Client{Timeout: time.Minute}
	for _, page := range []struct{ name, path string }{
		{"overview", "/ui/"},
		{"recent", "/ui/recent"},
		{"expiring", "/ui/expiring"},
		{"search-serial", "/ui/search?q=" + last},
		{"search-name", "/ui/search?q=no-such-host"},
	} {
		b.Run(page.name, func(b *testing.B) {
			for b.Loop() {
				if code, _, _ := fetch(b, c, http.MethodGet, d.URL()+page.path); code != http.StatusOK {
					b.Fatalf("%s: %d", page.path, code)
				}
			}
		})
	}
}
