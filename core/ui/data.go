package ui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/revocation"
	"github.com/pkid/pkid/sdk"
)

// row is one certificate in a list: the record without its DER.
type row struct {
	CA, Serial, Subject, Profile, Status, SHA256 string
	SANs                                         []string
	NotBefore, NotAfter, CreatedAt, RevokedAt    time.Time
	Reason                                       int
}

func rowOf(rec *sdk.CertRecord) row {
	return row{CA: rec.IssuerLabel, Serial: rec.Serial, Subject: rec.Subject, Profile: rec.Profile, Status: rec.Status,
		SHA256: fingerprint(rec.DER), SANs: rec.SANs, NotBefore: rec.NotBefore, NotAfter: rec.NotAfter,
		CreatedAt: rec.CreatedAt, RevokedAt: rec.RevokedAt, Reason: rec.RevocationReason}
}

// issued is when a row was issued: the store's creation time, else its
// notBefore.
func (r row) issued() time.Time {
	if !r.CreatedAt.IsZero() {
		return r.CreatedAt
	}
	return r.NotBefore
}

var errBudget = errors.New("scan budget spent")

// scan lists the records of the CA labels (all when ca is "") matching f,
// calling fn for each, and stops after MaxScan records in all. truncated
// reports whether it stopped early. A descending listing (f.Descending)
// gives each CA an even share of MaxScan instead, so that every CA's
// latest records are reached.
func (h *Handler) scan(ctx context.Context, ca string, f sdk.ListFilter, fn func(*sdk.CertRecord) bool) (truncated bool, err error) {
	labels := h.opts.CAs.Labels()
	if ca != "" {
		labels = []string{ca}
	}
	n, limit := 0, MaxScan
	for _, label := range labels {
		st := h.opts.CAs.CAs[label].Store()
		if st == nil {
			continue
		}
		if f.Descending {
			n, limit = 0, MaxScan/len(labels)
		}
		f.IssuerLabel = label
		f.Limit = limit - n + 1
		err := st.List(ctx, f, func(rec *sdk.CertRecord) error {
			if n >= limit {
				return errBudget
			}
			n++
			if !fn(rec) {
				return errBudget
			}
			return nil
		})
		switch {
		case errors.Is(err, errBudget) && n >= limit && f.Descending:
			truncated = true // this CA's share is spent; the next has its own
		case errors.Is(err, errBudget):
			return n >= limit, nil
		case err != nil:
			return false, err
		}
	}
	return truncated, nil
}

// listData is a page of certificates.
type listData struct {
	Title, Nav, Intro string
	CA                string
	CAs               []string
	Rows              []row
	Page, Pages       int
	Total             int
	Truncated         bool
	// TruncatedNote replaces the page's default note when Truncated.
	TruncatedNote string
	Revoked       bool
}

func (h *Handler) list(q query, d *listData, rows []row, truncated bool) *listData {
	d.CA, d.CAs, d.Page, d.Total, d.Truncated = q.CA, h.opts.CAs.Labels(), q.Page, len(rows), truncated
	d.Pages = (len(rows) + PageSize - 1) / PageSize
	start := (q.Page - 1) * PageSize
	if start < len(rows) {
		d.Rows = rows[start:min(start+PageSize, len(rows))]
	}
	return d
}

// recent lists unexpired certificates, newest first: each CA's store is
// asked for the records that expire last (sdk.ListFilter.Descending),
// which are the newest where lifetimes match, MaxScan in all, shared
// evenly among the CAs listed. A store plugin that predates Descending
// answers in ascending order; then the records that expire first are
// shown, as before.
func (h *Handler) recent(ctx context.Context, q query) (any, error) {
	var rows []row
	trunc, err := h.scan(ctx, q.CA, sdk.ListFilter{ExpiresAfter: h.opts.Now(), Descending: true}, func(rec *sdk.CertRecord) bool {
		rows = append(rows, rowOf(rec))
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].issued().After(rows[j].issued()) })
	return h.list(q, &listData{Title: "Recent issuance", Nav: "recent", Intro: "Unexpired certificates, newest first.",
		TruncatedNote: "Only the 5000 certificates that expire last were examined; older ones are not listed."}, rows, trunc), nil
}

// expiring lists good certificates whose notAfter is within the horizon,
// soonest first.
func (h *Handler) expiring(ctx context.Context, q query) (any, error) {
	now := h.opts.Now()
	var rows []row
	trunc, err := h.scan(ctx, q.CA, sdk.ListFilter{Status: sdk.StatusGood, ExpiresAfter: now, ExpiresBefore: now.Add(h.opts.ExpiringWithin)},
		func(rec *sdk.CertRecord) bool { rows = append(rows, rowOf(rec)); return true })
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].NotAfter.Before(rows[j].NotAfter) })
	intro := "Good certificates that expire within " + relative(now, now.Add(h.opts.ExpiringWithin))[3:] + ", soonest first."
	return h.list(q, &listData{Title: "Expiring soon", Nav: "expiring", Intro: intro}, rows, trunc), nil
}

// revoked lists revoked certificates, latest revocation first.
func (h *Handler) revoked(ctx context.Context, q query) (any, error) {
	var rows []row
	trunc, err := h.scan(ctx, q.CA, sdk.ListFilter{Status: sdk.StatusRevoked}, func(rec *sdk.CertRecord) bool {
		rows = append(rows, rowOf(rec))
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].RevokedAt.After(rows[j].RevokedAt) })
	return h.list(q, &listData{Title: "Revocations", Nav: "revoked", Intro: "Revoked certificates, latest first.", Revoked: true}, rows, trunc), nil
}

// searchData is the search page.
type searchData struct {
	Query     string
	Kind      string // what the text was taken for
	Rows      []row
	Truncated bool
	Searched  bool
}

// search finds certificates by serial (decimal or hex, exact lookups in
// every CA's store), by SHA-256 fingerprint, or by a case-insensitive part
// of the subject or a SAN (a bounded scan).
func (h *Handler) search(ctx context.Context, q query) (any, error) {
	d := &searchData{Query: q.Q}
	text := strings.TrimSpace(q.Q)
	if text == "" {
		return d, nil
	}
	d.Searched = true
	seen := map[string]bool{}
	add := func(rec *sdk.CertRecord) {
		if k := rec.IssuerLabel + "/" + rec.Serial; !seen[k] && len(d.Rows) < PageSize {
			seen[k] = true
			d.Rows = append(d.Rows, rowOf(rec))
		}
	}
	hexText := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimPrefix(strings.TrimPrefix(text, "0x"), "0X")))
	if isHex(hexText) && len(hexText) == 2*sha256.Size {
		d.Kind = "SHA-256 fingerprint"
		want, _ := hex.DecodeString(hexText)
		var err error
		d.Truncated, err = h.scan(ctx, "", sdk.ListFilter{}, func(rec *sdk.CertRecord) bool {
			if s := sha256.Sum256(rec.DER); string(s[:]) == string(want) {
				add(rec)
			}
			return true
		})
		return d, err
	}
	var serials []string
	if sdk.CheckSerial(text) == nil && len(text) <= 64 {
		serials = append(serials, text)
	}
	if isHex(hexText) && len(hexText) <= 64 {
		n, _ := new(big.Int).SetString(hexText, 16)
		if s := n.String(); s != text {
			serials = append(serials, s)
		}
	}
	kinds := []string{"name"}
	if len(serials) > 0 {
		kinds = []string{"serial", "name"}
	}
	d.Kind = strings.Join(kinds, " or ")
	for _, s := range serials {
		for _, label := range h.opts.CAs.Labels() {
			iss := h.opts.CAs.CAs[label]
			if iss.Store() == nil {
				continue
			}
			rec, err := iss.Store().Get(ctx, s, iss.AKI())
			if errors.Is(err, sdk.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			add(rec)
		}
	}
	if len(d.Rows) > 0 {
		d.Kind = "serial"
		return d, nil // an exact hit: no scan for names
	}
	needle := strings.ToLower(text)
	var err error
	d.Truncated, err = h.scan(ctx, "", sdk.ListFilter{}, func(rec *sdk.CertRecord) bool {
		if strings.Contains(strings.ToLower(rec.Subject), needle) || containsFold(rec.SANs, needle) {
			add(rec)
		}
		return len(d.Rows) < PageSize
	})
	return d, err
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func containsFold(list []string, needle string) bool {
	for _, s := range list {
		if strings.Contains(strings.ToLower(s), needle) {
			return true
		}
	}
	return false
}

// certData is one certificate's page.
type certData struct {
	Cert row
	PEM  string
	OCSP *ocspState
}

type ocspState struct {
	NextUpdate time.Time
	Stale      bool
}

func (h *Handler) cert(ctx context.Context, q query) (any, error) {
	iss := h.opts.CAs.CAs[q.CA]
	if iss.Store() == nil {
		return nil, errorf(http.StatusNotFound, "ca %q has no certstore", q.CA)
	}
	rec, err := iss.Store().Get(ctx, q.Serial, iss.AKI())
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "ca %q has no certificate with serial %s", q.CA, q.Serial)
	}
	if err != nil {
		return nil, err
	}
	d := &certData{Cert: rowOf(rec), PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rec.DER}))}
	if o, err := iss.Store().GetOCSP(ctx, q.Serial, iss.AKI()); err == nil {
		d.OCSP = &ocspState{NextUpdate: o.NextUpdate, Stale: o.NextUpdate.Before(h.opts.Now())}
	}
	return d, nil
}

// overviewData is the front page.
type overviewData struct {
	CAPath string // where the daemon serves CA certificates
	CAs    []caInfo
	CRLs   []crlState
	OCSP   []ocspSummary
	Health []healthState
}

type crlState struct {
	CA, Kind               string
	ThisUpdate, NextUpdate time.Time
	Entries, Bytes         int64
	Stale, Missing         bool
}

type ocspSummary struct {
	CA                      string
	Checked, Missing, Stale int
	Earliest                time.Time
	Err                     string
}

type healthState struct {
	Name, Err string
}

func (h *Handler) overview(ctx context.Context, _ query) (any, error) {
	now := h.opts.Now()
	d := &overviewData{CAs: h.cas, CAPath: config.DefaultCAPath}
	if h.opts.Config != nil && h.opts.Config.Pkid.CAPath != "" {
		d.CAPath = h.opts.Config.Pkid.CAPath
	}
	for _, label := range h.opts.CAs.Labels() {
		for _, kind := range []string{"full", "delta"} {
			name := label + ".crl.json"
			if kind == "delta" {
				name = label + "-delta.crl.json"
			}
			st := crlState{CA: label, Kind: kind}
			b, err := os.ReadFile(filepath.Join(h.opts.CRLDir, name))
			var m revocation.Meta
			if err != nil || json.Unmarshal(b, &m) != nil {
				if kind == "delta" {
					continue // deltas may be off
				}
				st.Missing = true
			} else {
				st.ThisUpdate, st.NextUpdate, st.Entries, st.Bytes = m.ThisUpdate, m.NextUpdate, m.Entries, m.Bytes
				st.Stale = m.NextUpdate.Before(now)
			}
			d.CRLs = append(d.CRLs, st)
		}
		d.OCSP = append(d.OCSP, h.ocspSummary(ctx, label, now))
	}
	d.Health = h.health(ctx)
	return d, nil
}

// ocspSummary checks the stored OCSP responses of up to ocspSample good
// certificates of a CA (those expiring first).
func (h *Handler) ocspSummary(ctx context.Context, label string, now time.Time) ocspSummary {
	s := ocspSummary{CA: label}
	iss := h.opts.CAs.CAs[label]
	st := iss.Store()
	if st == nil {
		s.Err = "no certstore"
		return s
	}
	var serials []string
	err := st.List(ctx, sdk.ListFilter{IssuerLabel: label, Status: sdk.StatusGood, ExpiresAfter: now, Limit: ocspSample}, func(rec *sdk.CertRecord) error {
		if len(serials) >= ocspSample {
			return errBudget
		}
		serials = append(serials, rec.Serial)
		return nil
	})
	if err != nil && !errors.Is(err, errBudget) {
		s.Err = err.Error()
		return s
	}
	for _, serial := range serials {
		s.Checked++
		o, err := st.GetOCSP(ctx, serial, iss.AKI())
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			s.Missing++
		case err != nil:
			s.Err = err.Error()
			return s
		default:
			if o.NextUpdate.Before(now) {
				s.Stale++
			}
			if s.Earliest.IsZero() || o.NextUpdate.Before(s.Earliest) {
				s.Earliest = o.NextUpdate
			}
		}
	}
	return s
}

// health runs the daemon's checks concurrently, each bounded by the
// request's deadline.
func (h *Handler) health(ctx context.Context) []healthState {
	names := make([]string, 0, len(h.opts.Health))
	for n := range h.opts.Health {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]healthState, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		out[i].Name = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := h.opts.Health[n](cctx); err != nil {
				out[i].Err = err.Error()
			}
		}()
	}
	wg.Wait()
	return out
}
