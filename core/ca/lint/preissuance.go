package lint

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// PreIssuance returns the DER of a lint copy of the certificate the CA is
// about to sign: x509.CreateCertificate(template, parent, pub, ·) signed by
// a throwaway in-memory key of the same type as issuerPub instead of the
// issuer's key. The copy carries the real serial, subject, issuer name,
// validity, subject public key, extensions and AuthorityKeyId (from
// parent.SubjectKeyId), and the signature algorithm the real CA produces:
// template's SignatureAlgorithm if set, otherwise Go's default for the key
// (ECDSA on the same curve, Ed25519, RSA with SHA-256). The TBS part is
// byte for byte the real one. Only the signature bits differ: they are not
// the issuer's and do not verify under issuerPub, and for RSA issuers of
// other sizes than 2048 bits the signature length differs too. The copy
// must never be published.
//
// zlint does not check signatures, with one exception: zcrypto marks a
// certificate self-signed only when its signature verifies under its own
// key, and lints treat roots differently. A self-signed template (parent's
// subject equal to template's and issuerPub equal to pub) is therefore
// signed with a separate throwaway key that Linter.Lint recognises, and
// Lint marks such a copy self-signed.
//
// template.SerialNumber should be set: when nil, CreateCertificate draws a
// random serial and the real certificate would get another one.
//
// Throwaway keys are generated once per algorithm and role and reused: one
// RSA-2048 key for every RSA size, one key per ECDSA curve, one Ed25519
// key.
//
// It returns an error when template or parent is nil, issuerPub is not an
// RSA, ECDSA (P-224/256/384/521) or Ed25519 public key, or
// CreateCertificate fails (e.g. a negative serial or a signature algorithm
// that does not suit the issuer key, which the real signing refuses too).
func PreIssuance(template, parent *x509.Certificate, pub, issuerPub crypto.PublicKey) ([]byte, error) {
	if template == nil || parent == nil {
		return nil, errors.New("pre-issuance: nil template or parent")
	}
	signer, err := throwawayFor(issuerPub, selfSigned(template, parent, pub, issuerPub))
	if err != nil {
		return nil, fmt.Errorf("pre-issuance: %w", err)
	}
	// A shallow copy with the throwaway public key: CreateCertificate
	// checks that the signer matches parent.PublicKey.
	p := *parent
	p.PublicKey = signer.Public()
	der, err := x509.CreateCertificate(rand.Reader, template, &p, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("pre-issuance: %w", err)
	}
	return der, nil
}

// IsSelfSigned reports whether the certificate CreateCertificate(template,
// parent, pub, key of issuerPub) makes is self-signed: same subject as
// issuer and signed by the subject key (LintUnsigned's selfSigned).
func IsSelfSigned(template, parent *x509.Certificate, pub, issuerPub crypto.PublicKey) bool {
	return selfSigned(template, parent, pub, issuerPub)
}

// selfSigned reports whether the real certificate will be self-signed:
// same subject as issuer and signed by the subject key.
func selfSigned(template, parent *x509.Certificate, pub, issuerPub crypto.PublicKey) bool {
	if template != parent && !sameName(template, parent) {
		return false
	}
	k, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(issuerPub)
}

// sameName compares subjects encoded as CreateCertificate encodes them.
func sameName(a, b *x509.Certificate) bool {
	ea, errA := subjectDER(a)
	eb, errB := subjectDER(b)
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

// subjectDER is c's subject as CreateCertificate writes it.
func subjectDER(c *x509.Certificate) ([]byte, error) {
	if len(c.RawSubject) > 0 {
		return c.RawSubject, nil
	}
	return asn1.Marshal(c.Subject.ToRDNSequence())
}

// keyRole separates the throwaway keys for ordinary and self-signed copies.
type keyRole int

const (
	roleIssuer keyRole = iota
	roleSelf
)

// throwaway holds one lazily generated key.
type throwaway struct {
	once sync.Once
	key  crypto.Signer
	err  error
	done atomic.Bool // set after key and err
}

// get generates the key on first use.
func (t *throwaway) get(gen func() (crypto.Signer, error)) (crypto.Signer, error) {
	t.once.Do(func() {
		t.key, t.err = gen()
		t.done.Store(true)
	})
	return t.key, t.err
}

// peek returns the key if it has been generated, else nil.
func (t *throwaway) peek() crypto.Signer {
	if t.done.Load() && t.err == nil {
		return t.key
	}
	return nil
}

var (
	rsaKeys [2]throwaway
	edKeys  [2]throwaway
	ecKeys  = map[string]*[2]throwaway{
		"P-224": {}, "P-256": {}, "P-384": {}, "P-521": {},
	}
)

// throwawayFor returns the cached signer of the same type as issuerPub
// (same curve for ECDSA) for the role. It returns an error for other key
// types or when generation fails.
func throwawayFor(issuerPub crypto.PublicKey, self bool) (crypto.Signer, error) {
	role := roleIssuer
	if self {
		role = roleSelf
	}
	var (
		s   crypto.Signer
		err error
	)
	switch k := issuerPub.(type) {
	case *rsa.PublicKey:
		s, err = rsaKeys[role].get(func() (crypto.Signer, error) {
			return rsa.GenerateKey(rand.Reader, 2048)
		})
	case *ecdsa.PublicKey:
		slot, ok := ecKeys[curveName(k.Curve)]
		if !ok {
			return nil, fmt.Errorf("unsupported issuer ecdsa curve %s", curveName(k.Curve))
		}
		s, err = slot[role].get(func() (crypto.Signer, error) {
			return ecdsa.GenerateKey(k.Curve, rand.Reader)
		})
	case ed25519.PublicKey:
		s, err = edKeys[role].get(func() (crypto.Signer, error) {
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			return priv, err
		})
	default:
		return nil, fmt.Errorf("unsupported issuer key type %T", issuerPub)
	}
	if err != nil {
		return nil, fmt.Errorf("generate throwaway key: %w", err)
	}
	return s, nil
}

// selfThrowaways returns the self-signing throwaway public keys generated
// so far.
func selfThrowaways() []crypto.PublicKey {
	var out []crypto.PublicKey
	add := func(t *throwaway) {
		if k := t.peek(); k != nil {
			out = append(out, k.Public())
		}
	}
	add(&rsaKeys[roleSelf])
	add(&edKeys[roleSelf])
	for _, slot := range ecKeys {
		add(&slot[roleSelf])
	}
	return out
}

// curveName names c, tolerating a nil curve.
func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "<nil>"
	}
	return c.Params().Name
}

// signedBySelfThrowaway reports whether der is a PreIssuance copy of a
// self-signed certificate: signed by a self-role throwaway key.
func signedBySelfThrowaway(der []byte) bool {
	keys := selfThrowaways()
	if len(keys) == 0 {
		return false
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return false
	}
	for _, k := range keys {
		v := &x509.Certificate{PublicKey: k}
		if v.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return true
		}
	}
	return false
}
