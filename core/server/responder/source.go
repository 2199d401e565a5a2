package responder

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

// ErrNotFound is returned (possibly wrapped) by a Source that has no
// response for a request; the handler answers it with the unsigned
// `unauthorized` response (HTTP 200).
var ErrNotFound = errors.New("responder: no OCSP response for this request")

// Source produces DER OCSP responses. It returns an error wrapping
// ErrNotFound when it has no response for the request (→ unauthorized);
// any other error is a fault (→ HTTP 500 internalError).
type Source interface {
	Response(ctx context.Context, req *Request) (der []byte, err error)
}

// Issuer is the part of *ca.Issuer the StoreSource uses.
type Issuer interface {
	Label() string
	Certificate() *x509.Certificate
	MatchesCertID(h crypto.Hash, nameHash, keyHash []byte) bool
	SignOCSP(ctx context.Context, req ca.OCSPRequest) (*ca.OCSPResponse, error)
	OCSPForRecord(ctx context.Context, rec *sdk.CertRecord, hash crypto.Hash, nonce []byte) (*ca.OCSPResponse, error)
}

var _ Issuer = (*ca.Issuer)(nil)

// StoreSource answers from a certstore, signing live when Live is set.
//
//   - The issuer is the first of Issuers whose MatchesCertID accepts the
//     request's CertID; none → ErrNotFound.
//   - A request with a nonce, when Live: signed now from the stored record,
//     echoing the nonce (an unknown serial gets a signed `unknown`).
//   - Otherwise a SHA-1 request is answered with the stored pre-signed
//     response (GetOCSP) while its NextUpdate is in the future.
//   - Otherwise, when Live: signed now from the stored record (and, with
//     WriteBack, stored for SHA-1 CertIDs; write errors are only logged);
//     an unknown serial gets a signed `unknown`. When not Live (a read-only
//     node without keys): ErrNotFound.
//
// Store errors other than sdk.ErrNotFound and signing errors are returned
// wrapped (→ 500). A nil Store behaves as an empty one.
type StoreSource struct {
	Issuers   []Issuer
	Store     sdk.CertStore
	Live      bool
	WriteBack bool
	// NonceSigners bounds concurrent live signatures that requests alone
	// can cause: echoing a nonce, and `unknown` for serials the store does
	// not hold (0: DefaultNonceSigners; negative: never). Beyond it a nonce
	// request gets the pre-signed response without a nonce (RFC 5019
	// allows that) and an unknown serial gets `unauthorized`, so requests
	// cannot drive unbounded keystore load.
	NonceSigners int
	Log          hclog.Logger
	Now          func() time.Time

	nonceOnce sync.Once
	nonceSem  chan struct{}
}

// DefaultNonceSigners is StoreSource.NonceSigners' default.
const DefaultNonceSigners = 8

var _ Source = (*StoreSource)(nil)

// Response implements Source; see StoreSource for the errors.
func (s *StoreSource) Response(ctx context.Context, req *Request) ([]byte, error) {
	var iss Issuer
	for _, i := range s.Issuers {
		if i.MatchesCertID(req.Hash, req.NameHash, req.KeyHash) {
			iss = i
			break
		}
	}
	if iss == nil || req.Serial == nil {
		return nil, ErrNotFound
	}
	aki := hex.EncodeToString(iss.Certificate().SubjectKeyId)
	serial := req.Serial.String()
	if req.Nonce != nil && s.Live {
		if release, ok := s.nonceSlot(); ok {
			defer release()
			return s.sign(ctx, iss, req, serial, aki, req.Nonce, true)
		}
	}
	if req.Hash == crypto.SHA1 && s.Store != nil {
		rec, err := s.Store.GetOCSP(ctx, serial, aki)
		switch {
		case err == nil:
			if len(rec.Response) > 0 && rec.NextUpdate.After(s.now()) {
				return rec.Response, nil
			}
		case errors.Is(err, sdk.ErrNotFound):
		default:
			return nil, fmt.Errorf("responder: reading stored OCSP response %s/%s: %w", aki, serial, err)
		}
	}
	if !s.Live {
		return nil, ErrNotFound
	}
	return s.sign(ctx, iss, req, serial, aki, nil, false)
}

// nonceSlot takes a slot for a request-driven live signature if one is
// free.
func (s *StoreSource) nonceSlot() (release func(), ok bool) {
	s.nonceOnce.Do(func() {
		n := s.NonceSigners
		if n == 0 {
			n = DefaultNonceSigners
		}
		if n > 0 {
			s.nonceSem = make(chan struct{}, n)
		}
	})
	if s.nonceSem == nil {
		return nil, false
	}
	select {
	case s.nonceSem <- struct{}{}:
		return func() { <-s.nonceSem }, true
	default:
		return nil, false
	}
}

func (s *StoreSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *StoreSource) log() hclog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return hclog.NewNullLogger()
}

// sign signs a response now from the stored record (unknown serial →
// `unknown`).
// haveSlot: the caller holds a nonceSlot already.
func (s *StoreSource) sign(ctx context.Context, iss Issuer, req *Request, serial, aki string, nonce []byte, haveSlot bool) ([]byte, error) {
	var rec *sdk.CertRecord
	err := sdk.ErrNotFound
	if s.Store != nil {
		rec, err = s.Store.Get(ctx, serial, aki)
	}
	switch {
	case err == nil:
		resp, err := iss.OCSPForRecord(ctx, rec, req.Hash, nonce)
		if err != nil {
			return nil, fmt.Errorf("responder: signing OCSP response for %s/%s: %w", aki, serial, err)
		}
		if s.WriteBack && nonce == nil && req.Hash == crypto.SHA1 {
			if err := s.Store.PutOCSP(ctx, &sdk.OCSPRecord{Serial: serial, AKI: aki, Response: resp.DER, NextUpdate: resp.NextUpdate}); err != nil {
				s.log().Warn("storing live-signed OCSP response failed", "issuer", iss.Label(), "serial", serial, "error", err)
			}
		}
		return resp.DER, nil
	case errors.Is(err, sdk.ErrNotFound):
		if !haveSlot {
			release, ok := s.nonceSlot()
			if !ok {
				return nil, ErrNotFound
			}
			defer release()
		}
		resp, err := iss.SignOCSP(ctx, ca.OCSPRequest{Serial: req.Serial, Status: ca.StatusUnknown, Hash: req.Hash, Nonce: nonce})
		if err != nil {
			return nil, fmt.Errorf("responder: signing unknown OCSP response for %s/%s: %w", aki, serial, err)
		}
		return resp.DER, nil
	default:
		return nil, fmt.Errorf("responder: reading certificate %s/%s: %w", aki, serial, err)
	}
}

// FileSource serves the responses of a CFSSL responses file (ocspdump
// output: base64 DER OCSP responses separated by whitespace).
//
// Responses are keyed by their exact CertID (hash algorithm, issuer name
// hash, issuer key hash, serial), read from the response DER, so two CAs'
// certificates with the same serial do not collide (CFSSL keys by serial
// only) and a request is answered only by a response for the same CertID:
// a request using another hash algorithm than the stored response gets
// ErrNotFound (a client checks that the response's CertID equals its
// request's). When a CertID appears twice the response with the later
// thisUpdate wins (on a tie, the later one in the file). Responses are
// served as stored, even past nextUpdate (as CFSSL does).
type FileSource struct {
	responses map[string][]byte
}

var _ Source = (*FileSource)(nil)

// LoadResponsesFile reads a responses file. With issuers given, every
// response must be about a certificate of one of them and verify against it
// (signed by it or by a delegated responder it certified); without, the
// responses are taken unchecked. Errors: the file cannot be read, an entry
// is not base64, not a successful basic OCSP response, has not exactly one
// SingleResponse, or fails the issuer check.
func LoadResponsesFile(path string, issuers ...*x509.Certificate) (*FileSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("responder: %w", err)
	}
	return parseResponses(data, issuers)
}

func parseResponses(data []byte, issuers []*x509.Certificate) (*FileSource, error) {
	fs := &FileSource{responses: map[string][]byte{}}
	thisUpdates := map[string]time.Time{}
	for n, field := range strings.Fields(string(data)) {
		der, err := base64.StdEncoding.DecodeString(field)
		if err != nil {
			return nil, fmt.Errorf("responder: response %d: not base64: %w", n+1, err)
		}
		info, err := parseResponseInfo(der)
		if err != nil {
			return nil, fmt.Errorf("responder: response %d: %w", n+1, err)
		}
		if len(info.certIDs) != 1 {
			return nil, fmt.Errorf("responder: response %d: %d SingleResponses, want 1", n+1, len(info.certIDs))
		}
		id := info.certIDs[0]
		var issuer *x509.Certificate
		if len(issuers) > 0 {
			for _, c := range issuers {
				nh, kh, err := issuerHashes(c, id.hash)
				if err == nil && bytes.Equal(nh, id.nameHash) && bytes.Equal(kh, id.keyHash) {
					issuer = c
					break
				}
			}
			if issuer == nil {
				return nil, fmt.Errorf("responder: response %d (serial %s): not about a certificate of the given issuers", n+1, id.serial)
			}
		}
		parsed, err := ocsp.ParseResponse(der, issuer)
		if err != nil {
			return nil, fmt.Errorf("responder: response %d (serial %s): %w", n+1, id.serial, err)
		}
		k := cacheKey(id.hash, id.nameHash, id.keyHash, id.serial.Bytes(), id.serial.Sign())
		if prev, ok := thisUpdates[k]; ok && parsed.ThisUpdate.Before(prev) {
			continue
		}
		thisUpdates[k] = parsed.ThisUpdate
		fs.responses[k] = der
	}
	return fs, nil
}

// Len is the number of responses loaded.
func (f *FileSource) Len() int { return len(f.responses) }

// Response implements Source: the stored response for the request's exact
// CertID, or ErrNotFound.
func (f *FileSource) Response(_ context.Context, req *Request) ([]byte, error) {
	if req.Serial == nil {
		return nil, ErrNotFound
	}
	der, ok := f.responses[requestKey(req)]
	if !ok {
		return nil, ErrNotFound
	}
	return der, nil
}

// issuerHashes computes a CertID's issuerNameHash and issuerKeyHash of c
// with h (RFC 6960, section 4.1.1: the hash of the DER subject, and of the
// subjectPublicKey BIT STRING contents).
func issuerHashes(c *x509.Certificate, h crypto.Hash) (nameHash, keyHash []byte, err error) {
	if !h.Available() {
		return nil, nil, fmt.Errorf("hash %v unavailable", h)
	}
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) != 0 {
		return nil, nil, fmt.Errorf("subjectPublicKeyInfo: %v", err)
	}
	hn := h.New()
	hn.Write(c.RawSubject)
	nameHash = hn.Sum(nil)
	hk := h.New()
	hk.Write(spki.PublicKey.RightAlign())
	return nameHash, hk.Sum(nil), nil
}
