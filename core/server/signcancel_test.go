package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/sdk"
)

// blockingKeyStore holds its Sign calls until their context ends (or the
// test releases them), and reports how each ended.
type blockingKeyStore struct {
	sdk.KeyStore
	key     crypto.Signer
	entered chan struct{}
	ended   chan error // ctx.Err() of a call its context ended
	release chan struct{}
}

func (k *blockingKeyStore) PublicKey(context.Context, string) (*sdk.KeyInfo, error) {
	return &sdk.KeyInfo{ID: "ca", PublicKey: k.key.Public()}, nil
}

func (k *blockingKeyStore) Sign(ctx context.Context, r sdk.SignRequest) ([]byte, error) {
	k.entered <- struct{}{}
	select {
	case <-ctx.Done():
		k.ended <- ctx.Err()
		return nil, ctx.Err()
	case <-k.release:
		return k.key.Sign(rand.Reader, r.Digest, r.Hash)
	}
}

// A client that disconnects while the CA key signs cancels the keystore
// call: the request's context reaches the keystore.
func TestSignClientGoneCancelsKeystore(t *testing.T) {
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	ks := &blockingKeyStore{key: key, entered: make(chan struct{}, 1), ended: make(chan error, 1), release: make(chan struct{})}
	e := newEnv(t, plainConfig, func(o *Options) {
		root, _, err := ca.InitCA(t.Context(), ca.InitCARequest{Request: &csr.Request{CN: "keystore CA", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ca.KeyStoreSigner(t.Context(), ks, "ca")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := profile.ParseCFSSL([]byte(plainConfig))
		if err != nil {
			t.Fatal(err)
		}
		iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "primary", Certificate: root.Cert, Signer: signer, Profiles: cfg})
		if err != nil {
			t.Fatal(err)
		}
		o.CAs.CAs["primary"] = iss
	})
	t.Cleanup(func() { close(ks.release) }) // before the server closes

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	body := `{"certificate_request":` + jsonString(string(makeCSR(t, "gone.example", "gone.example"))) + `}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+BasePath+"sign", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	// The timeouts only bound a failing test.
	select {
	case <-ks.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the keystore was never asked to sign")
	}
	cancel() // the client gives up
	select {
	case err := <-ks.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("keystore call ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the keystore call still waits after the client went away")
	}
}
