// Package ct submits precertificates and certificates to Certificate
// Transparency logs (RFC 6962) under a policy — N SCTs from at least K
// operators, like browsers' CT policies — and verifies SCTs, submitted or
// embedded, with certificate-transparency-go. docs/ct.md.
//
// core/ca builds precertificates and embeds SCT lists without HTTP; this
// package is its ca.SCTSource.
package ct

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/config"
)

// Log is one CT log.
type Log struct {
	// URL is the submission prefix, without a trailing slash or /ct/v1.
	URL string
	// KeyDER is the log's SubjectPublicKeyInfo; Key is it parsed. Both
	// are nil for a keyless log (NewKeylessLog).
	KeyDER []byte
	Key    crypto.PublicKey
	// ID is the RFC 6962 log ID, SHA-256 of KeyDER (zero when keyless).
	ID       [32]byte
	Operator string
	// NotAfterStart and NotAfterLimit are the temporal shard, [start,
	// limit) of the certificates' NotAfter; zero: open.
	NotAfterStart, NotAfterLimit time.Time
	// RetiredAt is when a log list retired the log (zero: it is not):
	// its SCTs from before then still verify, later ones do not.
	RetiredAt time.Time
}

// NewKeylessLog is a log known only by its URL, as CFSSL's
// ct_log_servers name them. Its SCTs are checked for form (version,
// timestamp) but their signatures cannot be: CFSSL embeds them unchecked
// too. A keyless log is its own operator.
func NewKeylessLog(url string) *Log {
	url = strings.TrimRight(url, "/")
	return &Log{URL: url, Operator: url}
}

// Keyless reports whether the log's key is unknown.
func (l *Log) Keyless() bool { return l.Key == nil }

// NewLog checks a log's key (ECDSA P-256 or RSA of at least 2048 bits).
func NewLog(url string, keyDER []byte, operator string, start, limit time.Time) (*Log, error) {
	pub, err := x509.ParsePKIXPublicKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("ct: log %s: key: %w", url, err)
	}
	if _, err := config.ParseCTKey(encodeB64(keyDER), true); err != nil {
		return nil, fmt.Errorf("ct: log %s: key: %w", url, err)
	}
	if operator == "" {
		operator = url
	}
	return &Log{URL: url, KeyDER: keyDER, Key: pub, ID: sha256.Sum256(keyDER), Operator: operator, NotAfterStart: start, NotAfterLimit: limit}, nil
}

// Covers reports whether the log's temporal shard takes a certificate
// expiring at notAfter.
func (l *Log) Covers(notAfter time.Time) bool {
	if !l.NotAfterStart.IsZero() && notAfter.Before(l.NotAfterStart) {
		return false
	}
	return l.NotAfterLimit.IsZero() || notAfter.Before(l.NotAfterLimit)
}

// String is the log's URL and the start of its ID.
func (l *Log) String() string {
	if l.Keyless() {
		return l.URL + " (no key)"
	}
	return l.URL + " (" + hex.EncodeToString(l.ID[:4]) + ")"
}

// Policy is a resolved ct block: the logs (a log list included) and the
// numbers issuance needs.
type Policy struct {
	Logs                            []*Log
	RequiredSCTs, RequiredOperators int
	// Timeout bounds one attempt at one log; Retries more attempts follow
	// a failure (with backoff) while the overall context allows.
	Timeout time.Duration
	Retries int
}

// Resolve turns a ct block into a Policy, reading its log list (file or
// URL, with client; signature checked when the block names a key). Its
// log_servers become keyless logs, unless a declared log has the same
// URL. Errors name the block's file:line:col.
func Resolve(ctx context.Context, c *config.CTPolicy, client *http.Client) (*Policy, error) {
	p := &Policy{RequiredSCTs: c.RequiredSCTs, RequiredOperators: c.RequiredOperators, Timeout: c.Timeout, Retries: c.Retries}
	if p.Timeout <= 0 {
		p.Timeout = config.DefaultCTTimeout
	}
	seen := map[[32]byte]bool{}
	urls := map[string]bool{}
	for _, cl := range c.Logs {
		l, err := NewLog(cl.URL, cl.KeyDER, cl.Operator, cl.NotAfterStart, cl.NotAfterLimit)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pos(cl.DefRange), err)
		}
		seen[l.ID] = true
		urls[l.URL] = true
		p.Logs = append(p.Logs, l)
	}
	for _, u := range c.LogServers {
		if l := NewKeylessLog(u); !urls[l.URL] {
			urls[l.URL] = true
			p.Logs = append(p.Logs, l)
		}
	}
	if c.LogList != "" {
		logs, err := LoadLogList(ctx, client, c.LogList, c.LogListKey)
		if err != nil {
			return nil, fmt.Errorf("%s: log_list: %w", pos(c.LogListRange), err)
		}
		for _, l := range logs {
			if !seen[l.ID] { // a declared log wins over the list's entry
				seen[l.ID] = true
				p.Logs = append(p.Logs, l)
			}
		}
		if len(p.Logs) > config.MaxCTLogs {
			return nil, fmt.Errorf("%s: log_list: %d logs; at most %d are used", pos(c.LogListRange), len(p.Logs), config.MaxCTLogs)
		}
	}
	if p.RequiredSCTs <= 0 {
		p.RequiredSCTs = config.DefaultCTRequiredSCTs
	}
	if p.RequiredOperators <= 0 {
		p.RequiredOperators = 1
	}
	return p, nil
}

// pos is a configuration position as file:line:col.
func pos(r hcl.Range) string {
	if r.Filename == "" {
		return "ct block"
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
