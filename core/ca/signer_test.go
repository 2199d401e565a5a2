package ca_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"io"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/sdk"
)

type ctxKey struct{}

// ctxKeyStore signs in memory and records the value of ctxKey in each
// Sign call's context.
type ctxKeyStore struct {
	sdk.KeyStore
	key  crypto.Signer
	mu   sync.Mutex
	seen []any
}

func (k *ctxKeyStore) PublicKey(context.Context, string) (*sdk.KeyInfo, error) {
	return &sdk.KeyInfo{ID: "ca", PublicKey: k.key.Public()}, nil
}

func (k *ctxKeyStore) Sign(ctx context.Context, r sdk.SignRequest) ([]byte, error) {
	k.mu.Lock()
	k.seen = append(k.seen, ctx.Value(ctxKey{}))
	k.mu.Unlock()
	return k.key.Sign(rand.Reader, r.Digest, r.Hash)
}

// Every signature the CA makes for a caller (certificate, OCSP response,
// CRL) runs the keystore call under the caller's context, so a caller
// that goes away cancels it.
func TestKeyStoreSignerGetsCallersContext(t *testing.T) {
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(t.Context(), ca.InitCARequest{Request: &csr.Request{CN: "ctx root", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	ks := &ctxKeyStore{key: key}
	signer, err := ca.KeyStoreSigner(t.Context(), ks, "ca")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "root", Certificate: root.Cert, Signer: signer, Profiles: mustProfiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	leafCSR, _ := newCSR(t, &csr.Request{CN: "ctx.example", Hosts: []string{"ctx.example"}, KeyRequest: csr.DefaultKeyRequest()})
	now := time.Now()
	for _, tc := range []struct {
		name string
		sign func(ctx context.Context) error
	}{
		{"certificate", func(ctx context.Context) error {
			_, err := iss.Sign(ctx, ca.SignRequest{CSR: leafCSR, Profile: "server"})
			return err
		}},
		{"OCSP response", func(ctx context.Context) error {
			_, err := iss.SignOCSP(ctx, ca.OCSPRequest{Serial: big.NewInt(7)})
			return err
		}},
		{"CA certificate", func(ctx context.Context) error {
			_, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: &csr.Request{CN: "ctx root 2", KeyRequest: csr.DefaultKeyRequest()}, Signer: signer})
			return err
		}},
		{"CA renewal", func(ctx context.Context) error {
			_, err := ca.RenewCA(ctx, root.Cert, signer, now)
			return err
		}},
		{"CRL", func(ctx context.Context) error {
			_, err := ca.EncodeCRL(ctx, io.Discard, ca.EncodeCRLRequest{Issuer: root.Cert, Signer: signer, Entries: crlIter(nil),
				Template: ca.CRLTemplate{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour)}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks.mu.Lock()
			ks.seen = nil
			ks.mu.Unlock()
			if err := tc.sign(context.WithValue(t.Context(), ctxKey{}, tc.name)); err != nil {
				t.Fatal(err)
			}
			ks.mu.Lock()
			defer ks.mu.Unlock()
			// InitCA signs twice: its CSR and its certificate.
			if len(ks.seen) == 0 || slices.ContainsFunc(ks.seen, func(v any) bool { return v != tc.name }) {
				t.Errorf("keystore contexts carried %v, want only %q", ks.seen, tc.name)
			}
		})
	}
}
