package plugintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// TestCertStore runs the CertStore conformance suite. newStore must return a
// fresh, empty store for each subtest and arrange its cleanup (t.Cleanup);
// the kit does not Close it. Stores that implement sdk.BatchPutter also get
// the batch tests.
//
// Times are compared to the second in UTC. Records built by NewCertRecord
// have whole-second times and serials of one length, so "NotAfter, then
// serial" is the same order whether serials compare as numbers or as text.
func TestCertStore(t *testing.T, newStore func(t *testing.T) sdk.CertStore) {
	t.Run("PutGetRoundTrip", func(t *testing.T) { certstorePutGet(t, newStore(t)) })
	t.Run("PutDefaults", func(t *testing.T) { certstorePutDefaults(t, newStore(t)) })
	t.Run("PutIdempotent", func(t *testing.T) { certstorePutIdempotent(t, newStore(t)) })
	t.Run("PutConflict", func(t *testing.T) { certstorePutConflict(t, newStore(t)) })
	t.Run("PutInvalid", func(t *testing.T) { certstorePutInvalid(t, newStore(t)) })
	t.Run("PutRecordRules", func(t *testing.T) { certstoreRecordRules(t, newStore(t)) })
	t.Run("SameSerialOtherIssuer", func(t *testing.T) { certstoreSameSerial(t, newStore(t)) })
	t.Run("GetNotFound", func(t *testing.T) { certstoreGetNotFound(t, newStore(t)) })
	t.Run("Revoke", func(t *testing.T) { certstoreRevoke(t, newStore(t)) })
	t.Run("RevokeHold", func(t *testing.T) { certstoreRevokeHold(t, newStore(t)) })
	t.Run("RevokeInvalid", func(t *testing.T) { certstoreRevokeInvalid(t, newStore(t)) })
	t.Run("OCSP", func(t *testing.T) { certstoreOCSP(t, newStore(t)) })
	t.Run("ListFilters", func(t *testing.T) { certstoreListFilters(t, newStore(t)) })
	t.Run("ListStopsOnError", func(t *testing.T) { certstoreListStop(t, newStore(t)) })
	t.Run("List1000", func(t *testing.T) { certstoreList1000(t, newStore(t)) })
	t.Run("Batch", func(t *testing.T) { certstoreBatch(t, newStore(t)) })
	t.Run("BatchDuplicates", func(t *testing.T) { certstoreBatchDuplicates(t, newStore(t)) })
	t.Run("ConcurrentPut", func(t *testing.T) { certstoreConcurrent(t, newStore(t)) })
	t.Run("ContextCanceled", func(t *testing.T) { certstoreCanceled(t, newStore(t)) })
}

// certstoreSerialBase keeps kit serials at 16 digits (see TestCertStore).
const certstoreSerialBase = 1_000_000_000_000_000

// certstoreDERSize is about the size of a leaf certificate.
const certstoreDERSize = 900

// NewCertRecord returns a realistic good record for tests: serial
// 1e15+serial in decimal, whole-second UTC times (NotBefore 90 days before
// notAfter), two SANs, metadata, and deterministic pseudo-DER (a SEQUENCE
// header then bytes derived from serial, AKI and issuer), so the same
// arguments give the same DER. CreatedAt is zero: the store sets it.
func NewCertRecord(serial int64, aki, issuer string, notAfter time.Time) *sdk.CertRecord {
	s := strconv.FormatInt(certstoreSerialBase+serial, 10)
	na := notAfter.UTC().Truncate(time.Second)
	host := fmt.Sprintf("host-%d.example.test", serial)
	return &sdk.CertRecord{
		Serial:      s,
		AKI:         aki,
		IssuerLabel: issuer,
		Subject:     "CN=" + host + ",O=pkid test",
		SANs:        []string{host, "192.0.2.1"},
		NotBefore:   na.Add(-90 * 24 * time.Hour),
		NotAfter:    na,
		Status:      sdk.StatusGood,
		Profile:     "server",
		DER:         certstoreDER(s + "/" + aki + "/" + issuer),
		Metadata:    json.RawMessage(fmt.Sprintf(`{"request_id":"req-%d","hosts":[%q]}`, serial, host)),
	}
}

// certstoreDER derives certstoreDERSize bytes from seed.
func certstoreDER(seed string) []byte {
	der := make([]byte, 0, certstoreDERSize)
	der = append(der, 0x30, 0x82)
	der = binary.BigEndian.AppendUint16(der, certstoreDERSize-4)
	h := sha256.Sum256([]byte(seed))
	for len(der) < certstoreDERSize {
		der = append(der, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return der[:certstoreDERSize]
}

// certstoreAKI returns a 40-hex-digit AKI for issuer number n.
func certstoreAKI(n int) string {
	h := sha256.Sum256([]byte("aki-" + strconv.Itoa(n)))
	return fmt.Sprintf("%x", h[:20])
}

// certstoreBase is a fixed, whole-second reference time.
var certstoreBase = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func certstoreCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func certstorePut(t *testing.T, ctx context.Context, s sdk.CertStore, recs ...*sdk.CertRecord) {
	t.Helper()
	for _, r := range recs {
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("Put(serial %s): %v", r.Serial, err)
		}
	}
}

// certstorePutMany stores recs, in batches of 100 when the store can.
func certstorePutMany(t *testing.T, ctx context.Context, s sdk.CertStore, recs []*sdk.CertRecord) {
	t.Helper()
	bp, ok := s.(sdk.BatchPutter)
	if !ok {
		certstorePut(t, ctx, s, recs...)
		return
	}
	for chunk := range slices.Chunk(recs, 100) {
		errs, err := bp.PutBatch(ctx, chunk)
		if err != nil {
			t.Fatalf("PutBatch: %v", err)
		}
		for i, e := range errs {
			if e != nil {
				t.Fatalf("PutBatch record %s: %v", chunk[i].Serial, e)
			}
		}
	}
}

func certstoreGet(t *testing.T, ctx context.Context, s sdk.CertStore, serial, aki string) *sdk.CertRecord {
	t.Helper()
	got, err := s.Get(ctx, serial, aki)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", serial, aki, err)
	}
	return got
}

func certstoreWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want one wrapping %v", what, err, want)
	}
}

func certstoreSameTime(a, b time.Time) bool {
	return a.UTC().Truncate(time.Second).Equal(b.UTC().Truncate(time.Second))
}

// certstoreCompare reports the fields of got that differ from want (times
// to the second, SANs nil == empty, metadata as JSON values). CreatedAt is
// compared only when want has one.
func certstoreCompare(t *testing.T, got, want *sdk.CertRecord) {
	t.Helper()
	var diffs []string
	str := func(name, g, w string) {
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !certstoreSameTime(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	str("Serial", got.Serial, want.Serial)
	str("AKI", got.AKI, want.AKI)
	str("IssuerLabel", got.IssuerLabel, want.IssuerLabel)
	str("Subject", got.Subject, want.Subject)
	str("Status", got.Status, want.Status)
	str("Profile", got.Profile, want.Profile)
	if len(got.SANs) != 0 || len(want.SANs) != 0 {
		if !slices.Equal(got.SANs, want.SANs) {
			diffs = append(diffs, fmt.Sprintf("SANs = %q, want %q", got.SANs, want.SANs))
		}
	}
	tm("NotBefore", got.NotBefore, want.NotBefore)
	tm("NotAfter", got.NotAfter, want.NotAfter)
	tm("RevokedAt", got.RevokedAt, want.RevokedAt)
	if !want.CreatedAt.IsZero() {
		tm("CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	if got.RevocationReason != want.RevocationReason {
		diffs = append(diffs, fmt.Sprintf("RevocationReason = %d, want %d", got.RevocationReason, want.RevocationReason))
	}
	if !bytes.Equal(got.DER, want.DER) {
		diffs = append(diffs, fmt.Sprintf("DER differs (%d bytes, want %d)", len(got.DER), len(want.DER)))
	}
	if !certstoreSameJSON(got.Metadata, want.Metadata) {
		diffs = append(diffs, fmt.Sprintf("Metadata = %s, want %s", got.Metadata, want.Metadata))
	}
	for _, d := range diffs {
		t.Errorf("record %s/%s: %s", want.Serial, want.AKI, d)
	}
	if len(diffs) > 0 {
		t.FailNow()
	}
}

// certstoreSameJSON compares JSON values (a store may reformat them).
func certstoreSameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// certstoreCollect lists f and returns the serials/AKIs in order.
func certstoreCollect(t *testing.T, ctx context.Context, s sdk.CertStore, f sdk.ListFilter) []*sdk.CertRecord {
	t.Helper()
	var out []*sdk.CertRecord
	if err := s.List(ctx, f, func(r *sdk.CertRecord) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return out
}

// certstoreKeys renders records as "serial/aki" for comparisons.
func certstoreKeys(recs []*sdk.CertRecord) []string {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Serial + "/" + r.AKI
	}
	return keys
}

// certstoreOrder sorts recs in the documented List order.
func certstoreOrder(recs []*sdk.CertRecord) {
	slices.SortStableFunc(recs, func(a, b *sdk.CertRecord) int {
		if c := a.NotAfter.Compare(b.NotAfter); c != 0 {
			return c
		}
		if c := len(a.Serial) - len(b.Serial); c != 0 {
			return c
		}
		if a.Serial != b.Serial {
			if a.Serial < b.Serial {
				return -1
			}
			return 1
		}
		return 0
	})
}

func certstoreWantList(t *testing.T, ctx context.Context, s sdk.CertStore, f sdk.ListFilter, want []*sdk.CertRecord) {
	t.Helper()
	want = slices.Clone(want)
	certstoreOrder(want)
	if f.Descending {
		slices.Reverse(want)
	}
	if f.Limit > 0 && len(want) > f.Limit {
		want = want[:f.Limit]
	}
	got := certstoreKeys(certstoreCollect(t, ctx, s, f))
	if w := certstoreKeys(want); !slices.Equal(got, w) {
		t.Fatalf("List(%+v) returned %d records, want %d in order\n got: %v\nwant: %v", f, len(got), len(w),
			certstoreHead(got), certstoreHead(w))
	}
}

// certstoreHead shortens long key lists in failure messages.
func certstoreHead(keys []string) []string {
	if len(keys) > 12 {
		return append(keys[:12:12], fmt.Sprintf("... (%d more)", len(keys)-12))
	}
	return keys
}

func certstorePutGet(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	rec := NewCertRecord(1, certstoreAKI(1), "issuing", certstoreBase)
	rec.SANs = []string{"a.example.test", "b.example.test", "192.0.2.7", "2001:db8::1", "mail@example.test", "spiffe://example.test/a"}
	rec.CreatedAt = certstoreBase.Add(-time.Hour)
	certstorePut(t, ctx, s, rec)
	certstoreCompare(t, certstoreGet(t, ctx, s, rec.Serial, rec.AKI), rec)

	// A revoked record round-trips its revocation fields.
	rev := NewCertRecord(2, certstoreAKI(1), "issuing", certstoreBase)
	rev.Status, rev.RevocationReason, rev.RevokedAt = sdk.StatusRevoked, 1, certstoreBase.Add(-48*time.Hour)
	rev.CreatedAt = certstoreBase.Add(-72 * time.Hour)
	rev.Metadata, rev.SANs = nil, nil
	certstorePut(t, ctx, s, rev)
	got := certstoreGet(t, ctx, s, rev.Serial, rev.AKI)
	certstoreCompare(t, got, rev)
	if got.NotAfter.Location() != time.UTC && got.NotAfter.Location().String() != "UTC" {
		t.Errorf("NotAfter location %v, want UTC", got.NotAfter.Location())
	}
}

func certstorePutDefaults(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	rec := NewCertRecord(1, certstoreAKI(1), "issuing", certstoreBase)
	rec.Status = ""
	before := time.Now().Add(-time.Second)
	certstorePut(t, ctx, s, rec)
	after := time.Now().Add(time.Second)
	got := certstoreGet(t, ctx, s, rec.Serial, rec.AKI)
	if got.Status != sdk.StatusGood {
		t.Errorf("Status = %q, want %q", got.Status, sdk.StatusGood)
	}
	if got.CreatedAt.Before(before.Truncate(time.Second)) || got.CreatedAt.After(after) {
		t.Errorf("CreatedAt = %v, want about now (%v)", got.CreatedAt, before)
	}
	if !got.RevokedAt.IsZero() || got.RevocationReason != 0 {
		t.Errorf("good record has RevokedAt %v, reason %d", got.RevokedAt, got.RevocationReason)
	}
}

func certstorePutIdempotent(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	rec := NewCertRecord(1, certstoreAKI(1), "issuing", certstoreBase)
	rec.CreatedAt = certstoreBase.Add(-time.Hour)
	certstorePut(t, ctx, s, rec)
	again := *rec
	again.DER = slices.Clone(rec.DER)
	for i := 0; i < 3; i++ {
		if err := s.Put(ctx, &again); err != nil {
			t.Fatalf("Put of the same certificate again: %v", err)
		}
	}
	certstoreCompare(t, certstoreGet(t, ctx, s, rec.Serial, rec.AKI), rec)
	if n := len(certstoreCollect(t, ctx, s, sdk.ListFilter{})); n != 1 {
		t.Fatalf("List after repeated Put: %d records, want 1", n)
	}
}

func certstorePutConflict(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	rec := NewCertRecord(1, certstoreAKI(1), "issuing", certstoreBase)
	certstorePut(t, ctx, s, rec)
	other := *rec
	other.DER = certstoreDER("another certificate")
	certstoreWantErr(t, "Put of a different certificate under the same serial+AKI", s.Put(ctx, &other), sdk.ErrAlreadyExists)
	got := certstoreGet(t, ctx, s, rec.Serial, rec.AKI)
	if !bytes.Equal(got.DER, rec.DER) {
		t.Fatal("a conflicting Put replaced the stored certificate")
	}
}

func certstorePutInvalid(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	for name, mutate := range map[string]func(*sdk.CertRecord){
		"no serial": func(r *sdk.CertRecord) { r.Serial = "" },
		"no aki":    func(r *sdk.CertRecord) { r.AKI = "" },
		"no der":    func(r *sdk.CertRecord) { r.DER = nil },
	} {
		rec := NewCertRecord(1, certstoreAKI(1), "issuing", certstoreBase)
		mutate(rec)
		certstoreWantErr(t, "Put with "+name, s.Put(ctx, rec), sdk.ErrInvalidArgument)
	}
	if n := len(certstoreCollect(t, ctx, s, sdk.ListFilter{})); n != 0 {
		t.Fatalf("invalid Puts stored %d records", n)
	}
}

// certstoreRecordRules checks that a store applies sdk.CheckRecord before
// writing (so every store refuses the same records), through Put, PutBatch
// and PutOCSP, and keys records by the normalised AKI.
func certstoreRecordRules(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	bad := []struct {
		name   string
		mutate func(*sdk.CertRecord)
	}{
		{"hex serial", func(r *sdk.CertRecord) { r.Serial = "0a1b" }},
		{"serial with a leading zero", func(r *sdk.CertRecord) { r.Serial = "0123" }},
		{"negative serial", func(r *sdk.CertRecord) { r.Serial = "-5" }},
		{"serial with a sign", func(r *sdk.CertRecord) { r.Serial = "+5" }},
		{"serial with spaces", func(r *sdk.CertRecord) { r.Serial = " 5" }},
		{"aki not hex", func(r *sdk.CertRecord) { r.AKI = "not-hex" }},
		{"aki of odd length", func(r *sdk.CertRecord) { r.AKI = "abc" }},
		{"aki of colons", func(r *sdk.CertRecord) { r.AKI = "::" }},
		{"no not_after", func(r *sdk.CertRecord) { r.NotAfter = time.Time{} }},
		{"not_before after not_after", func(r *sdk.CertRecord) { r.NotBefore = r.NotAfter.Add(time.Second) }},
		{"not_after in year 10000", func(r *sdk.CertRecord) { r.NotAfter = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"unknown status", func(r *sdk.CertRecord) { r.Status = "expired" }},
		{"revoked with reason 7", func(r *sdk.CertRecord) { r.Status, r.RevocationReason = sdk.StatusRevoked, 7 }},
		{"metadata not JSON", func(r *sdk.CertRecord) { r.Metadata = json.RawMessage(`{"a":`) }},
	}
	recs := make([]*sdk.CertRecord, len(bad))
	for i, c := range bad {
		recs[i] = NewCertRecord(int64(i+1), certstoreAKI(1), "issuing", certstoreBase)
		c.mutate(recs[i])
		if err := sdk.CheckRecord(recs[i]); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Fatalf("kit bug: sdk.CheckRecord accepts the %s record (%v)", c.name, err)
		}
		certstoreWantErrorf(t, "Put with "+c.name, s.Put(ctx, recs[i]), sdk.ErrInvalidArgument)
	}
	if bp, ok := s.(sdk.BatchPutter); ok {
		good := NewCertRecord(100, certstoreAKI(1), "issuing", certstoreBase)
		errs, err := bp.PutBatch(ctx, append(slices.Clone(recs), good))
		if err != nil || len(errs) != len(recs)+1 {
			t.Fatalf("PutBatch of bad records and a good one: %d errors, %v", len(errs), err)
		}
		for i, c := range bad {
			certstoreWantErrorf(t, "PutBatch with "+c.name, errs[i], sdk.ErrInvalidArgument)
		}
		if errs[len(recs)] != nil {
			t.Errorf("PutBatch: the good record failed beside bad ones: %v", errs[len(recs)])
		}
		certstoreCompare(t, certstoreGet(t, ctx, s, good.Serial, good.AKI), good)
	}
	for _, serial := range []string{"0a1b", "0123", "-5"} {
		o := &sdk.OCSPRecord{Serial: serial, AKI: certstoreAKI(1), Response: certstoreDER("ocsp")[:300], NextUpdate: certstoreBase}
		certstoreWantErrorf(t, "PutOCSP with serial "+serial, s.PutOCSP(ctx, o), sdk.ErrInvalidArgument)
	}
	for _, r := range certstoreCollect(t, ctx, s, sdk.ListFilter{}) {
		if r.Serial != NewCertRecord(100, "", "", certstoreBase).Serial {
			t.Errorf("a refused record was stored: serial %q aki %q", r.Serial, r.AKI)
		}
	}

	// Accepted: serial 0, and an AKI as users type it, stored normalised.
	zero := NewCertRecord(0, certstoreAKI(2), "issuing", certstoreBase)
	zero.Serial = "0"
	typed := NewCertRecord(7, "", "issuing", certstoreBase)
	typed.AKI = " " + strings.ToUpper(certstoreColons(certstoreAKI(2))) + " "
	certstorePut(t, ctx, s, zero, typed)
	certstoreCompare(t, certstoreGet(t, ctx, s, "0", certstoreAKI(2)), zero)
	got := certstoreGet(t, ctx, s, typed.Serial, certstoreAKI(2))
	want := *typed
	want.AKI = certstoreAKI(2)
	certstoreCompare(t, got, &want)
}

// certstoreColons writes hex as "ab:cd:...".
func certstoreColons(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	return b.String()
}

// certstoreWantErrorf is certstoreWantErr without stopping the test, so one
// run lists every rule a store misses.
func certstoreWantErrorf(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, want)
	}
}

func certstoreSameSerial(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	a := NewCertRecord(1, certstoreAKI(1), "issuing-a", certstoreBase)
	b := NewCertRecord(1, certstoreAKI(2), "issuing-b", certstoreBase)
	certstorePut(t, ctx, s, a, b)
	certstoreCompare(t, certstoreGet(t, ctx, s, a.Serial, a.AKI), a)
	certstoreCompare(t, certstoreGet(t, ctx, s, b.Serial, b.AKI), b)
}

func certstoreGetNotFound(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	_, err := s.Get(ctx, "12345", certstoreAKI(1))
	certstoreWantErr(t, "Get of an unknown serial", err, sdk.ErrNotFound)
	rec := NewCertRecord(1, certstoreAKI(1), "issuing", certstoreBase)
	certstorePut(t, ctx, s, rec)
	_, err = s.Get(ctx, rec.Serial, certstoreAKI(2))
	certstoreWantErr(t, "Get under another AKI", err, sdk.ErrNotFound)
}

func certstoreRevoke(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	aki := certstoreAKI(1)
	certstoreWantErr(t, "Revoke of an unknown certificate",
		s.Revoke(ctx, sdk.RevokeRequest{Serial: "999", AKI: aki, Reason: 1}), sdk.ErrNotFound)

	rec := NewCertRecord(1, aki, "issuing", certstoreBase)
	keep := NewCertRecord(2, aki, "issuing", certstoreBase)
	certstorePut(t, ctx, s, rec, keep)
	at := certstoreBase.Add(-24 * time.Hour)
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: 1, RevokedAt: at}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	want := *rec
	want.Status, want.RevocationReason, want.RevokedAt = sdk.StatusRevoked, 1, at
	certstoreCompare(t, certstoreGet(t, ctx, s, rec.Serial, aki), &want)
	certstoreCompare(t, certstoreGet(t, ctx, s, keep.Serial, aki), keep)

	// Same reason again: success, original time kept (explicit or zero time).
	for _, again := range []time.Time{{}, certstoreBase} {
		if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: 1, RevokedAt: again}); err != nil {
			t.Fatalf("Revoke again with the same reason: %v", err)
		}
	}
	certstoreCompare(t, certstoreGet(t, ctx, s, rec.Serial, aki), &want)

	certstoreWantErr(t, "Revoke with another reason",
		s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: 4}), sdk.ErrFailedPrecondition)
	certstoreCompare(t, certstoreGet(t, ctx, s, rec.Serial, aki), &want)

	// Zero RevokedAt means now; reason 0 (unspecified) is a valid reason.
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: keep.Serial, AKI: aki, Reason: 0}); err != nil {
		t.Fatalf("Revoke with reason 0: %v", err)
	}
	got := certstoreGet(t, ctx, s, keep.Serial, aki)
	if got.Status != sdk.StatusRevoked || got.RevocationReason != 0 {
		t.Fatalf("after Revoke reason 0: status %q reason %d", got.Status, got.RevocationReason)
	}
	if got.RevokedAt.Before(before) || got.RevokedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("RevokedAt = %v, want about now", got.RevokedAt)
	}
}

func certstoreRevokeHold(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	aki := certstoreAKI(1)
	rec := NewCertRecord(1, aki, "issuing", certstoreBase)
	certstorePut(t, ctx, s, rec)
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: 6, RevokedAt: certstoreBase}); err != nil {
		t.Fatalf("Revoke certificateHold: %v", err)
	}
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: 6}); err != nil {
		t.Fatalf("Revoke certificateHold again: %v", err)
	}
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: 1}); err != nil {
		t.Fatalf("Revoke keyCompromise of a certificate on hold: %v", err)
	}
	got := certstoreGet(t, ctx, s, rec.Serial, aki)
	if got.Status != sdk.StatusRevoked || got.RevocationReason != 1 {
		t.Fatalf("after leaving hold: status %q reason %d, want revoked 1", got.Status, got.RevocationReason)
	}
	certstoreWantErr(t, "Revoke with another reason after leaving hold",
		s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: 6}), sdk.ErrFailedPrecondition)
}

func certstoreRevokeInvalid(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	aki := certstoreAKI(1)
	rec := NewCertRecord(1, aki, "issuing", certstoreBase)
	certstorePut(t, ctx, s, rec)
	for _, reason := range []int{-1, 7, 11, 100} {
		certstoreWantErr(t, fmt.Sprintf("Revoke with reason %d", reason),
			s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: aki, Reason: reason}), sdk.ErrInvalidArgument)
	}
	if got := certstoreGet(t, ctx, s, rec.Serial, aki); got.Status != sdk.StatusGood {
		t.Fatalf("invalid Revoke changed status to %q", got.Status)
	}
	for _, reason := range []int{0, 1, 2, 3, 4, 5, 6, 8, 9, 10} {
		r := NewCertRecord(int64(100+reason), aki, "issuing", certstoreBase)
		certstorePut(t, ctx, s, r)
		if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: r.Serial, AKI: aki, Reason: reason}); err != nil {
			t.Fatalf("Revoke with reason %d: %v", reason, err)
		}
	}
}

func certstoreOCSP(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	aki := certstoreAKI(1)
	rec := NewCertRecord(1, aki, "issuing", certstoreBase)
	certstorePut(t, ctx, s, rec)
	_, err := s.GetOCSP(ctx, rec.Serial, aki)
	certstoreWantErr(t, "GetOCSP before PutOCSP", err, sdk.ErrNotFound)

	first := &sdk.OCSPRecord{Serial: rec.Serial, AKI: aki, Response: certstoreDER("ocsp-1")[:300], NextUpdate: certstoreBase.Add(24 * time.Hour)}
	second := &sdk.OCSPRecord{Serial: rec.Serial, AKI: aki, Response: certstoreDER("ocsp-2")[:310], NextUpdate: certstoreBase.Add(48 * time.Hour)}
	for _, o := range []*sdk.OCSPRecord{first, second} {
		if err := s.PutOCSP(ctx, o); err != nil {
			t.Fatalf("PutOCSP: %v", err)
		}
		got, err := s.GetOCSP(ctx, o.Serial, o.AKI)
		if err != nil {
			t.Fatalf("GetOCSP: %v", err)
		}
		if got.Serial != o.Serial || got.AKI != o.AKI || !bytes.Equal(got.Response, o.Response) ||
			!certstoreSameTime(got.NextUpdate, o.NextUpdate) {
			t.Fatalf("GetOCSP = {%s %s %d bytes %v}, want {%s %s %d bytes %v}", got.Serial, got.AKI,
				len(got.Response), got.NextUpdate, o.Serial, o.AKI, len(o.Response), o.NextUpdate)
		}
	}
	_, err = s.GetOCSP(ctx, rec.Serial, certstoreAKI(2))
	certstoreWantErr(t, "GetOCSP under another AKI", err, sdk.ErrNotFound)
}

func certstoreListFilters(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	a1, a2 := certstoreAKI(1), certstoreAKI(2)
	day := 24 * time.Hour
	recs := []*sdk.CertRecord{
		NewCertRecord(5, a1, "one", certstoreBase.Add(3*day)),
		NewCertRecord(4, a1, "one", certstoreBase.Add(1*day)),
		NewCertRecord(3, a2, "two", certstoreBase.Add(2*day)),
		NewCertRecord(2, a2, "two", certstoreBase.Add(1*day)), // ties with 4: serial order
		NewCertRecord(1, a1, "one", certstoreBase),
	}
	certstorePut(t, ctx, s, recs...)
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: recs[2].Serial, AKI: a2, Reason: 1}); err != nil {
		t.Fatal(err)
	}
	recs[2].Status = sdk.StatusRevoked
	pick := func(keep func(*sdk.CertRecord) bool) []*sdk.CertRecord {
		var out []*sdk.CertRecord
		for _, r := range recs {
			if keep(r) {
				out = append(out, r)
			}
		}
		return out
	}
	all := func(*sdk.CertRecord) bool { return true }
	for _, tc := range []struct {
		f    sdk.ListFilter
		keep func(*sdk.CertRecord) bool
	}{
		{sdk.ListFilter{}, all},
		{sdk.ListFilter{IssuerLabel: "one"}, func(r *sdk.CertRecord) bool { return r.IssuerLabel == "one" }},
		{sdk.ListFilter{AKI: a2}, func(r *sdk.CertRecord) bool { return r.AKI == a2 }},
		{sdk.ListFilter{Status: sdk.StatusRevoked}, func(r *sdk.CertRecord) bool { return r.Status == sdk.StatusRevoked }},
		{sdk.ListFilter{Status: sdk.StatusGood}, func(r *sdk.CertRecord) bool { return r.Status == sdk.StatusGood }},
		// Bounds are strict: a record expiring exactly at the bound is excluded.
		{sdk.ListFilter{ExpiresBefore: certstoreBase.Add(day)}, func(r *sdk.CertRecord) bool { return r.NotAfter.Before(certstoreBase.Add(day)) }},
		{sdk.ListFilter{ExpiresAfter: certstoreBase.Add(day)}, func(r *sdk.CertRecord) bool { return r.NotAfter.After(certstoreBase.Add(day)) }},
		{sdk.ListFilter{ExpiresAfter: certstoreBase, ExpiresBefore: certstoreBase.Add(3 * day)},
			func(r *sdk.CertRecord) bool {
				return r.NotAfter.After(certstoreBase) && r.NotAfter.Before(certstoreBase.Add(3*day))
			}},
		// Sub-second bounds.
		{sdk.ListFilter{ExpiresBefore: certstoreBase.Add(day + time.Millisecond)}, func(r *sdk.CertRecord) bool { return !r.NotAfter.After(certstoreBase.Add(day)) }},
		{sdk.ListFilter{ExpiresAfter: certstoreBase.Add(day - time.Millisecond)}, func(r *sdk.CertRecord) bool { return !r.NotAfter.Before(certstoreBase.Add(day)) }},
		{sdk.ListFilter{Limit: 2}, all},
		{sdk.ListFilter{IssuerLabel: "one", Status: sdk.StatusGood, AKI: a1, Limit: 2}, func(r *sdk.CertRecord) bool { return r.IssuerLabel == "one" }},
		{sdk.ListFilter{IssuerLabel: "nobody"}, func(*sdk.CertRecord) bool { return false }},
	} {
		certstoreWantList(t, ctx, s, tc.f, pick(tc.keep))
	}
	// Listed records are complete.
	for _, got := range certstoreCollect(t, ctx, s, sdk.ListFilter{AKI: a1}) {
		for _, r := range recs {
			if r.Serial == got.Serial && r.AKI == got.AKI {
				certstoreCompare(t, got, r)
			}
		}
	}
}

func certstoreListStop(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	var recs []*sdk.CertRecord
	for i := range 20 {
		recs = append(recs, NewCertRecord(int64(i), certstoreAKI(1), "issuing", certstoreBase.Add(time.Duration(i)*time.Hour)))
	}
	certstorePutMany(t, ctx, s, recs)
	stop := errors.New("stop here")
	calls := 0
	err := s.List(ctx, sdk.ListFilter{}, func(*sdk.CertRecord) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	certstoreWantErr(t, "List whose callback fails", err, stop)
	if calls != 3 {
		t.Fatalf("List called fn %d times after it failed on the 3rd", calls)
	}
	// The callback may use the store while listing.
	n := 0
	err = s.List(ctx, sdk.ListFilter{Limit: 5}, func(r *sdk.CertRecord) error {
		n++
		_, err := s.Get(ctx, r.Serial, r.AKI)
		return err
	})
	if err != nil || n != 5 {
		t.Fatalf("List calling Get from fn: %d records, %v", n, err)
	}
}

func certstoreList1000(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	issuers := []string{"alpha", "beta", "gamma"}
	var recs []*sdk.CertRecord
	for i := range 1000 {
		n := i % len(issuers)
		// 250 distinct expiry times, so many records tie on NotAfter; the
		// serials are shuffled relative to insertion order.
		na := certstoreBase.Add(time.Duration((i*7919)%250) * time.Hour)
		recs = append(recs, NewCertRecord(int64((i*7907)%1000), certstoreAKI(n), issuers[n], na))
	}
	certstorePutMany(t, ctx, s, recs)
	for i, r := range recs {
		if i%10 == 3 {
			if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: r.Serial, AKI: r.AKI, Reason: 4, RevokedAt: certstoreBase}); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			r.Status = sdk.StatusRevoked
		}
	}
	lo, hi := certstoreBase.Add(40*time.Hour), certstoreBase.Add(200*time.Hour)
	for _, f := range []sdk.ListFilter{
		{},
		{IssuerLabel: "beta"},
		{AKI: certstoreAKI(2)},
		{Status: sdk.StatusRevoked},
		{IssuerLabel: "alpha", Status: sdk.StatusGood, ExpiresAfter: lo, ExpiresBefore: hi},
		{ExpiresBefore: lo},
		{ExpiresAfter: hi, Limit: 17},
		{Status: sdk.StatusGood, Limit: 500},
		// Latest NotAfter first: the records that expire last.
		{Descending: true},
		{IssuerLabel: "beta", Descending: true, Limit: 40},
		{Status: sdk.StatusGood, ExpiresAfter: lo, ExpiresBefore: hi, Descending: true, Limit: 100},
	} {
		var want []*sdk.CertRecord
		for _, r := range recs {
			if (f.IssuerLabel == "" || r.IssuerLabel == f.IssuerLabel) && (f.AKI == "" || r.AKI == f.AKI) &&
				(f.Status == "" || r.Status == f.Status) &&
				(f.ExpiresBefore.IsZero() || r.NotAfter.Before(f.ExpiresBefore)) &&
				(f.ExpiresAfter.IsZero() || r.NotAfter.After(f.ExpiresAfter)) {
				want = append(want, r)
			}
		}
		certstoreWantList(t, ctx, s, f, want)
	}
}

func certstoreBatch(t *testing.T, s sdk.CertStore) {
	bp, ok := s.(sdk.BatchPutter)
	if !ok {
		t.Skip("store does not implement sdk.BatchPutter")
	}
	ctx := certstoreCtx(t)
	aki := certstoreAKI(1)
	existing := NewCertRecord(50, aki, "issuing", certstoreBase)
	certstorePut(t, ctx, s, existing)
	var batch []*sdk.CertRecord
	for i := range 100 {
		batch = append(batch, NewCertRecord(int64(i), aki, "issuing", certstoreBase.Add(time.Duration(i)*time.Minute)))
	}
	batch[50].DER = certstoreDER("conflicting") // same serial+AKI as existing
	errs, err := bp.PutBatch(ctx, batch)
	if err != nil {
		t.Fatalf("PutBatch: %v", err)
	}
	if len(errs) != len(batch) {
		t.Fatalf("PutBatch returned %d errors for %d records", len(errs), len(batch))
	}
	for i, e := range errs {
		if i == 50 {
			certstoreWantErr(t, "PutBatch conflicting record", e, sdk.ErrAlreadyExists)
			continue
		}
		if e != nil {
			t.Fatalf("PutBatch record %d: %v", i, e)
		}
		certstoreCompare(t, certstoreGet(t, ctx, s, batch[i].Serial, aki), batch[i])
	}
	if got := certstoreGet(t, ctx, s, existing.Serial, aki); !bytes.Equal(got.DER, existing.DER) {
		t.Fatal("PutBatch replaced an existing certificate")
	}
	if n := len(certstoreCollect(t, ctx, s, sdk.ListFilter{AKI: aki})); n != 100 {
		t.Fatalf("List after PutBatch: %d records, want 100", n)
	}
	if errs, err := bp.PutBatch(ctx, nil); err != nil || len(errs) != 0 {
		t.Fatalf("PutBatch(nil) = %v, %v", errs, err)
	}
}

func certstoreBatchDuplicates(t *testing.T, s sdk.CertStore) {
	bp, ok := s.(sdk.BatchPutter)
	if !ok {
		t.Skip("store does not implement sdk.BatchPutter")
	}
	ctx := certstoreCtx(t)
	aki := certstoreAKI(1)
	a := NewCertRecord(1, aki, "issuing", certstoreBase)
	aOther := *a
	aOther.DER = certstoreDER("other")
	b := NewCertRecord(2, aki, "issuing", certstoreBase)
	invalid := NewCertRecord(3, aki, "issuing", certstoreBase)
	invalid.DER = nil
	errs, err := bp.PutBatch(ctx, []*sdk.CertRecord{a, a, &aOther, invalid, b})
	if err != nil {
		t.Fatalf("PutBatch: %v", err)
	}
	if len(errs) != 5 {
		t.Fatalf("PutBatch returned %d errors for 5 records", len(errs))
	}
	if errs[0] != nil || errs[1] != nil || errs[4] != nil {
		t.Fatalf("PutBatch errors %v, want nil for the first, its duplicate and the last", errs)
	}
	certstoreWantErr(t, "PutBatch: a different DER after the same serial in one batch", errs[2], sdk.ErrAlreadyExists)
	certstoreWantErr(t, "PutBatch: record without DER", errs[3], sdk.ErrInvalidArgument)
	certstoreCompare(t, certstoreGet(t, ctx, s, a.Serial, aki), a)
	certstoreCompare(t, certstoreGet(t, ctx, s, b.Serial, aki), b)
	_, err = s.Get(ctx, invalid.Serial, aki)
	certstoreWantErr(t, "Get of the invalid batch record", err, sdk.ErrNotFound)
}

func certstoreConcurrent(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	const workers, each = 16, 25
	aki := certstoreAKI(1)
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := int64(w*each + i)
				r := NewCertRecord(n, aki, "issuing", certstoreBase.Add(time.Duration(n)*time.Second))
				if err := s.Put(ctx, r); err != nil {
					errc <- fmt.Errorf("Put %d: %w", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for n := range int64(workers * each) {
		r := NewCertRecord(n, aki, "issuing", certstoreBase.Add(time.Duration(n)*time.Second))
		certstoreCompare(t, certstoreGet(t, ctx, s, r.Serial, aki), r)
	}
	if n := len(certstoreCollect(t, ctx, s, sdk.ListFilter{AKI: aki})); n != workers*each {
		t.Fatalf("List after concurrent Puts: %d records, want %d", n, workers*each)
	}
	if n := len(certstoreCollect(t, ctx, s, sdk.ListFilter{IssuerLabel: "issuing", Limit: 100})); n != 100 {
		t.Fatalf("List with Limit 100: %d records", n)
	}
}

func certstoreCanceled(t *testing.T, s sdk.CertStore) {
	ctx := certstoreCtx(t)
	rec := NewCertRecord(1, certstoreAKI(1), "issuing", certstoreBase)
	certstorePut(t, ctx, s, rec)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	other := NewCertRecord(2, certstoreAKI(1), "issuing", certstoreBase)
	certstoreWantErr(t, "Put with a canceled context", s.Put(canceled, other), context.Canceled)
	_, err := s.Get(canceled, rec.Serial, rec.AKI)
	certstoreWantErr(t, "Get with a canceled context", err, context.Canceled)
	err = s.List(canceled, sdk.ListFilter{}, func(*sdk.CertRecord) error { return nil })
	certstoreWantErr(t, "List with a canceled context", err, context.Canceled)
	certstoreWantErr(t, "Revoke with a canceled context",
		s.Revoke(canceled, sdk.RevokeRequest{Serial: rec.Serial, AKI: rec.AKI, Reason: 1}), context.Canceled)
	if _, err := s.Get(ctx, other.Serial, other.AKI); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("a Put with a canceled context stored the record (Get: %v)", err)
	}
	if got := certstoreGet(t, ctx, s, rec.Serial, rec.AKI); got.Status != sdk.StatusGood {
		t.Fatal("a Revoke with a canceled context took effect")
	}
}
