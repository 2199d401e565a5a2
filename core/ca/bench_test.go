package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

// BenchmarkIssue is the bare core/ca rate: CSR parse and signature check,
// policy, default lint and x509.CreateCertificate with an in-memory P-256
// CA key, no store. BenchmarkCreateCertificate is its anchor: the bare
// x509.CreateCertificate of a comparable leaf. scripts/bench.sh prints the
// ratio.
func BenchmarkIssue(b *testing.B) {
	rootReq := &csr.Request{CN: "bench root", KeyRequest: &csr.KeyRequest{Algo: "ecdsa", Size: 256}}
	key, err := rootReq.KeyRequest.Generate()
	if err != nil {
		b.Fatal(err)
	}
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: rootReq, Signer: key})
	if err != nil {
		b.Fatal(err)
	}
	p, err := profileConfig()
	if err != nil {
		b.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Certificate: root.Cert, Signer: key, Profiles: p})
	if err != nil {
		b.Fatal(err)
	}
	leafReq := &csr.Request{CN: "www.example.com", Hosts: []string{"www.example.com"}}
	leafKey, _ := leafReq.KeyRequest.Generate()
	csrPEM, err := csr.Generate(leafReq, leafKey)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// The one-time tables (lint registry, small-key search) are built
	// before the clock starts.
	if _, err := iss.Sign(ctx, ca.SignRequest{CSR: csrPEM, Profile: "server"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := iss.Sign(ctx, ca.SignRequest{CSR: csrPEM, Profile: "server"}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time, not wall time, is what the shared, loaded machine cannot
	// skew (much): scripts/bench.sh compares it.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is this process's user+system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkCreateCertificate(b *testing.B) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench root"}, NotBefore: now, NotAfter: now.Add(time.Hour * 24 * 365),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, SubjectKeyId: []byte{1, 2, 3, 4}}
	caDER, _ := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "www.example.com"}, DNSNames: []string{"www.example.com"},
		NotBefore: now, NotAfter: now.Add(2160 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, SubjectKeyId: []byte{5, 6, 7, 8}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey); err != nil {
			b.Fatal(err)
		}
	}
}
