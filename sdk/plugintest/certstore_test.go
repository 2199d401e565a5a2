package plugintest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// certstoreMem is a minimal in-memory CertStore, checking that the kit
// demands only the documented contract (serials ordered as text here).
type certstoreMem struct {
	mu   sync.Mutex
	recs map[string]sdk.CertRecord
	ocsp map[string]sdk.OCSPRecord
}

func (m *certstoreMem) Close() error { return nil }

func (m *certstoreMem) Put(ctx context.Context, rec *sdk.CertRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sdk.CheckRecord(rec); err != nil {
		return fmt.Errorf("mem: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := rec.Serial + "/" + sdk.NormalizeAKI(rec.AKI)
	if old, ok := m.recs[k]; ok {
		if bytes.Equal(old.DER, rec.DER) {
			return nil
		}
		return fmt.Errorf("mem: %w", sdk.ErrAlreadyExists)
	}
	r := *rec
	r.AKI = sdk.NormalizeAKI(r.AKI)
	if r.Status == "" {
		r.Status = sdk.StatusGood
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	m.recs[k] = r
	return nil
}

func (m *certstoreMem) Get(ctx context.Context, serial, aki string) (*sdk.CertRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[serial+"/"+aki]
	if !ok {
		return nil, fmt.Errorf("mem: %w", sdk.ErrNotFound)
	}
	return &r, nil
}

func (m *certstoreMem) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	var out []sdk.CertRecord
	for _, r := range m.recs {
		if (f.IssuerLabel == "" || r.IssuerLabel == f.IssuerLabel) && (f.AKI == "" || r.AKI == f.AKI) &&
			(f.Status == "" || r.Status == f.Status) &&
			(f.ExpiresBefore.IsZero() || r.NotAfter.Before(f.ExpiresBefore)) &&
			(f.ExpiresAfter.IsZero() || r.NotAfter.After(f.ExpiresAfter)) {
			out = append(out, r)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b sdk.CertRecord) int {
		return cmp.Or(a.NotAfter.Compare(b.NotAfter), cmp.Compare(len(a.Serial), len(b.Serial)), cmp.Compare(a.Serial, b.Serial))
	})
	if f.Descending {
		slices.Reverse(out)
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	for i := range out {
		if err := fn(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *certstoreMem) Revoke(ctx context.Context, req sdk.RevokeRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if req.Reason < 0 || req.Reason == 7 || req.Reason > 10 {
		return fmt.Errorf("mem: %w", sdk.ErrInvalidArgument)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := req.Serial + "/" + req.AKI
	r, ok := m.recs[k]
	switch {
	case !ok:
		return fmt.Errorf("mem: %w", sdk.ErrNotFound)
	case r.Status == sdk.StatusRevoked && r.RevocationReason == req.Reason:
		return nil
	case r.Status == sdk.StatusRevoked && r.RevocationReason != 6:
		return fmt.Errorf("mem: %w", sdk.ErrFailedPrecondition)
	}
	if r.Status != sdk.StatusRevoked || !req.RevokedAt.IsZero() {
		r.RevokedAt = cmp.Or(req.RevokedAt, time.Now())
	}
	r.Status, r.RevocationReason = sdk.StatusRevoked, req.Reason
	m.recs[k] = r
	return nil
}

func (m *certstoreMem) PutOCSP(ctx context.Context, rec *sdk.OCSPRecord) error {
	if err := sdk.CheckSerial(rec.Serial); err != nil {
		return fmt.Errorf("mem: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ocsp[rec.Serial+"/"+rec.AKI] = *rec
	return nil
}

func (m *certstoreMem) GetOCSP(ctx context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.ocsp[serial+"/"+aki]
	if !ok {
		return nil, fmt.Errorf("mem: %w", sdk.ErrNotFound)
	}
	return &r, nil
}

func TestCertStoreKit(t *testing.T) {
	TestCertStore(t, func(*testing.T) sdk.CertStore {
		return &certstoreMem{recs: map[string]sdk.CertRecord{}, ocsp: map[string]sdk.OCSPRecord{}}
	})
}
