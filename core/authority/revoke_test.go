package authority

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/sdk"
)

// mapStore is a certstore of Get and Revoke (applying the sdk's rules, as
// every certstore does), counting writes.
type mapStore struct {
	sdk.CertStore
	mu      sync.Mutex
	recs    map[string]*sdk.CertRecord
	revokes int
	fail    error // returned by Revoke
}

func newMapStore(recs ...*sdk.CertRecord) *mapStore {
	m := &mapStore{recs: map[string]*sdk.CertRecord{}}
	for _, r := range recs {
		m.recs[r.Serial+"/"+r.AKI] = r
	}
	return m
}

func (m *mapStore) Get(_ context.Context, serial, aki string) (*sdk.CertRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[serial+"/"+aki]
	if !ok {
		return nil, fmt.Errorf("mapstore: %w", sdk.ErrNotFound)
	}
	c := *r
	return &c, nil
}

func (m *mapStore) Revoke(_ context.Context, rr sdk.RevokeRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	r, ok := m.recs[rr.Serial+"/"+rr.AKI]
	if !ok {
		return sdk.ErrNotFound
	}
	update, at, err := sdk.RevocationTransition(r.Status, r.RevocationReason, r.RevokedAt, rr)
	if err != nil || !update {
		return err
	}
	if at.IsZero() {
		at = time.Now()
	}
	m.revokes++
	r.Status, r.RevocationReason, r.RevokedAt = sdk.StatusRevoked, rr.Reason, at
	return nil
}

func testIssuer(t *testing.T, label string, store sdk.CertStore) *ca.Issuer {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(t.Context(), ca.InitCARequest{Request: &csr.Request{CN: label + " root", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "8760h", "usages": ["digital signature", "server auth"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: label, Certificate: root.Cert, Signer: key, Profiles: p, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// Set.Revoke is the one revocation: CA lookup, transition rules, the
// store write and the publisher, with errors that say which rule failed.
func TestSetRevoke(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	caStore := newMapStore()
	a := testIssuer(t, "a", caStore)
	b := testIssuer(t, "b", nil) // no certstore of its own
	const oldAKI = "00aa"        // a retired key no CA has
	for _, r := range []*sdk.CertRecord{
		{Serial: "1", AKI: a.AKI(), Status: sdk.StatusGood},
		{Serial: "2", AKI: a.AKI(), Status: sdk.StatusRevoked, RevocationReason: 1, RevokedAt: t0},
		{Serial: "3", AKI: a.AKI(), Status: sdk.StatusRevoked, RevocationReason: sdk.ReasonCertificateHold, RevokedAt: t0},
		{Serial: "4", AKI: a.AKI(), Status: sdk.StatusGood},
	} {
		caStore.recs[r.Serial+"/"+r.AKI] = r
	}
	fallback := newMapStore(&sdk.CertRecord{Serial: "5", AKI: oldAKI, Status: sdk.StatusGood}, &sdk.CertRecord{Serial: "6", AKI: b.AKI(), Status: sdk.StatusGood})
	set := &Set{CAs: map[string]*ca.Issuer{"a": a, "b": b}, Default: "a"}

	for _, tc := range []struct {
		name      string
		r         Revocation
		wantErr   error
		wantMsg   string
		already   bool
		issuer    string
		caWrites  int // writes to caStore (cumulative)
		published int // publisher calls (cumulative)
	}{
		{name: "no serial", r: Revocation{AKI: a.AKI()}, wantErr: ErrNoSerial},
		{name: "unknown label", r: Revocation{Serial: "1", Label: "zz"}, wantErr: ErrNoCA, wantMsg: `unknown CA label "zz"`},
		{name: "no AKI nor label", r: Revocation{Serial: "1"}, wantErr: ErrNoAKI},
		{name: "label and another AKI", r: Revocation{Serial: "1", Label: "a", AKI: b.AKI()}, wantMsg: "is not the key identifier of CA"},
		{name: "invalid reason", r: Revocation{Serial: "1", Label: "a", Reason: 7}, wantErr: ErrInvalidReason},
		{name: "unknown AKI without a store", r: Revocation{Serial: "5", AKI: oldAKI}, wantErr: ErrNoStore, wantMsg: "no configured CA has the key identifier 00aa"},
		{name: "not found", r: Revocation{Serial: "99", AKI: a.AKI()}, wantErr: sdk.ErrNotFound, wantMsg: "certificate not found: serial 99, authority key id " + a.AKI()},
		{name: "good → revoked by label", r: Revocation{Serial: "1", Label: "a", Reason: 4}, issuer: "a", caWrites: 1, published: 1},
		{name: "AKI in upper case with colons", r: Revocation{Serial: " 4 ", AKI: colons(strings.ToUpper(a.AKI())), Reason: 1}, issuer: "a", caWrites: 2, published: 2},
		{name: "same reason again: nothing written, still published", r: Revocation{Serial: "2", AKI: a.AKI(), Reason: 1}, already: true, issuer: "a", caWrites: 2, published: 3},
		{name: "another reason", r: Revocation{Serial: "2", AKI: a.AKI(), Reason: 4}, wantErr: sdk.ErrFailedPrecondition, wantMsg: "serial 2 is already revoked with another reason (1, not 4)", caWrites: 2, published: 3},
		{name: "leaving hold", r: Revocation{Serial: "3", AKI: a.AKI(), Reason: 1}, issuer: "a", caWrites: 3, published: 4},
		{name: "unknown AKI: the given store", r: Revocation{Serial: "5", AKI: oldAKI, Store: fallback, Reason: 1}, caWrites: 3, published: 5},
		{name: "CA without a store: the given store", r: Revocation{Serial: "6", Label: "b", Store: fallback}, issuer: "b", caWrites: 3, published: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var published []sdk.RevokeRequest
			pub := PublisherFunc(func(_ context.Context, rr sdk.RevokeRequest) error { published = append(published, rr); return nil })
			res, err := set.Revoke(t.Context(), tc.r, pub)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.wantErr == nil && tc.wantMsg == "" && err != nil {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.wantMsg)) {
				t.Fatalf("err = %v, want %q", err, tc.wantMsg)
			}
			if err != nil {
				if len(published) != 0 {
					t.Errorf("published after a failure: %v", published)
				}
				return
			}
			if res.Already != tc.already || (res.Issuer == nil) != (tc.issuer == "") || res.Issuer != nil && res.Issuer.Label() != tc.issuer {
				t.Errorf("result %+v, want already %v issuer %q", res, tc.already, tc.issuer)
			}
			if len(published) != 1 || published[0] != res.Request || res.Request.AKI != sdk.NormalizeAKI(res.Request.AKI) {
				t.Errorf("published %v, want %v", published, res.Request)
			}
			if tc.already && !res.RevokedAt.Equal(t0) {
				t.Errorf("already revoked at %v, want the original %v", res.RevokedAt, t0)
			}
			rec, err := (func() (*sdk.CertRecord, error) {
				if st := res.Issuer; st != nil && st.Store() != nil {
					return st.Store().Get(t.Context(), res.Request.Serial, res.Request.AKI)
				}
				return fallback.Get(t.Context(), res.Request.Serial, res.Request.AKI)
			})()
			if err != nil || rec.Status != sdk.StatusRevoked || rec.RevocationReason != tc.r.Reason {
				t.Errorf("record %+v %v", rec, err)
			}
		})
		if caStore.revokes != tc.caWrites {
			t.Errorf("%s: %d writes to the CA's store, want %d", tc.name, caStore.revokes, tc.caWrites)
		}
	}
}

func colons(hex string) string {
	var parts []string
	for i := 0; i < len(hex); i += 2 {
		parts = append(parts, hex[i:i+2])
	}
	return strings.Join(parts, ":")
}

// A publisher's failure leaves the revocation recorded and says so; a
// store's failure keeps its kind (the API answers 503 for unavailable)
// and publishes nothing.
func TestSetRevokeFailures(t *testing.T) {
	store := newMapStore()
	a := testIssuer(t, "a", store)
	store.recs["1/"+a.AKI()] = &sdk.CertRecord{Serial: "1", AKI: a.AKI(), Status: sdk.StatusGood}
	set := &Set{CAs: map[string]*ca.Issuer{"a": a}, Default: "a"}

	res, err := set.Revoke(t.Context(), Revocation{Serial: "1", Label: "a"}, PublisherFunc(func(context.Context, sdk.RevokeRequest) error {
		return errors.New("keystore gone")
	}))
	if !errors.Is(err, ErrPublish) || res == nil || !strings.Contains(err.Error(), "serial 1 revoked, but updating OCSP/CRL failed: keystore gone") {
		t.Fatalf("publisher failure: %v %+v", err, res)
	}
	if rec, _ := store.Get(t.Context(), "1", a.AKI()); rec.Status != sdk.StatusRevoked {
		t.Errorf("not recorded: %+v", rec)
	}

	store.recs["2/"+a.AKI()] = &sdk.CertRecord{Serial: "2", AKI: a.AKI(), Status: sdk.StatusGood}
	full := fmt.Errorf("store-sqlite: %w: database or disk is full", sdk.ErrUnavailable)
	store.fail = full
	called := false
	_, err = set.Revoke(t.Context(), Revocation{Serial: "2", Label: "a"}, PublisherFunc(func(context.Context, sdk.RevokeRequest) error { called = true; return nil }))
	if !errors.Is(err, sdk.ErrUnavailable) || !errors.Is(err, full) || called {
		t.Errorf("store failure: %v (published %v)", err, called)
	}
	// The store re-applies the rules: a concurrent revocation with
	// another reason, between the read and the write, still fails.
	store.fail = fmt.Errorf("sqlite: %w", sdk.ErrFailedPrecondition)
	_, err = set.Revoke(t.Context(), Revocation{Serial: "2", Label: "a", Reason: 1}, nil)
	if !errors.Is(err, sdk.ErrFailedPrecondition) || err.Error() != "serial 2 is already revoked with another reason" {
		t.Errorf("race: %v", err)
	}
}

// Revocations of many certificates at once each reach the store and the
// publisher once (run with -race).
func TestSetRevokeConcurrent(t *testing.T) {
	store := newMapStore()
	a := testIssuer(t, "a", store)
	const n = 50
	for i := range n {
		s := fmt.Sprint(i + 1)
		store.recs[s+"/"+a.AKI()] = &sdk.CertRecord{Serial: s, AKI: a.AKI(), Status: sdk.StatusGood}
	}
	set := &Set{CAs: map[string]*ca.Issuer{"a": a}, Default: "a"}
	var mu sync.Mutex
	seen := map[string]int{}
	pub := PublisherFunc(func(_ context.Context, rr sdk.RevokeRequest) error {
		mu.Lock()
		seen[rr.Serial]++
		mu.Unlock()
		return nil
	})
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := set.Revoke(context.Background(), Revocation{Serial: fmt.Sprint(i%n + 1), AKI: a.AKI(), Reason: 1}, pub); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if store.revokes != n || len(seen) != n {
		t.Errorf("%d writes, %d serials published; want %d", store.revokes, len(seen), n)
	}
}
