// Package bundle builds certificate chains from a leaf to a trusted root
// and picks one by flavor, as CFSSL's bundler does (docs/bundler.md): every
// candidate path through roots, intermediates, cross-signs and the
// caller's own certificates is built (bounded), each is verified by Go's
// crypto/x509 using only its own certificates, and the flavor chooses.
package bundle

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"net"
	"time"
)

// Flavor selects how the bundler chooses among valid chains.
type Flavor string

const (
	// Ubiquitous prefers the chain trusted on the most weighted
	// platforms, then shorter, then stronger (the default).
	Ubiquitous Flavor = "ubiquitous"
	// Optimal prefers the shortest chain, then the latest expiry, then
	// the strongest crypto.
	Optimal Flavor = "optimal"
	// Force returns exactly the given chain once its signatures check.
	Force Flavor = "force"
)

// ParseFlavor maps CFSSL's flavor names; anything unknown is Ubiquitous,
// as in CFSSL.
func ParseFlavor(s string) Flavor {
	switch Flavor(s) {
	case Optimal, Force:
		return Flavor(s)
	}
	return Ubiquitous
}

// Fetcher downloads the certificates an AIA caIssuers URL points at
// (implemented outside this package, with its egress policy). Errors are
// the fetcher's own; the bundler treats any error as "nothing fetched".
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]*x509.Certificate, error)
}

// Request is one bundling request.
type Request struct {
	// Chain is the leaf first, then whatever the caller supplied
	// (intermediates, maybe a root, in any order; a fully reversed chain
	// is put right).
	Chain []*x509.Certificate
	// Key is optional; when set it must match the leaf (CodeKeyMismatch)
	// and be RSA, ECDSA or Ed25519 (CodeKeyUnsupported).
	Key crypto.PrivateKey
	// KeyPEM is echoed in the "key" field when Key is nil; with Key the
	// field is Key re-encoded as CFSSL does (PKCS#1/SEC1/PKCS#8).
	KeyPEM []byte
	Flavor Flavor
	// Hostname and IP, when set, must match the leaf (CFSSL's -domain and
	// -ip with -cert).
	Hostname string
	IP       net.IP
	// KeyUsages the chain must allow; nil accepts any, as CFSSL.
	KeyUsages []x509.ExtKeyUsage
	// Now is the validation time; zero means time.Now.
	Now time.Time
}

// Limits bound the work of one request against hostile pools and inputs.
type Limits struct {
	MaxDepth      int // certificates in a chain, leaf and root included (default 32)
	MaxCandidates int // candidate chains built before choosing (default 64)
	MaxSigChecks  int // signature checks while building (default 1024)
	MaxFetches    int // AIA downloads per request (default 8)
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxCandidates <= 0 {
		l.MaxCandidates = 64
	}
	if l.MaxSigChecks <= 0 {
		l.MaxSigChecks = 1024
	}
	if l.MaxFetches <= 0 {
		l.MaxFetches = 8
	}
	return l
}

// Bundler builds bundles from a Pool. Its fields are read-only after
// construction; it is safe for concurrent use.
type Bundler struct {
	Pool    *Pool
	Fetcher Fetcher // nil: no AIA chasing
	// Stash, when set, is a directory where intermediates fetched through
	// AIA and used in a chain are written (CFSSL's -int-dir).
	Stash  string
	Limits Limits
	// SCTs, when set, verifies the SCTs embedded in the leaf against the
	// chosen chain's issuer (Bundle.SCTs, status messages); nil: they are
	// not looked at, as in CFSSL.
	SCTs SCTVerifier
}

// Bundle builds and chooses a chain for req. Errors are *Error with
// CFSSL's codes: CodeBadRequest (no leaf), CodeKeyUnsupported,
// CodeKeyMismatch, CodeSelfSigned, CodeVerifyFailed / CodeCertInvalid+r /
// CodeUnknownAuthority (no valid chain, name mismatch); ctx's error when
// it ends. SCTs that do not verify are reported in the bundle, not as
// errors.
func (b *Bundler) Bundle(ctx context.Context, req Request) (*Bundle, error) {
	if len(req.Chain) == 0 || req.Chain[0] == nil {
		return nil, newError(CodeBadRequest, "Invalid certificate request")
	}
	for _, c := range req.Chain {
		if c == nil {
			return nil, newError(CodeBadRequest, "Invalid certificate request")
		}
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	flavor := req.Flavor
	if flavor == "" {
		flavor = Ubiquitous
	}
	lim := b.Limits.withDefaults()

	input := orderChain(req.Chain)
	leaf := input[0]
	if err := checkKey(leaf, req.Key); err != nil {
		return nil, err
	}
	if err := checkName(leaf, req.Hostname, req.IP); err != nil {
		return nil, err
	}

	out := &Bundle{Cert: leaf, Key: req.Key, keyPEM: req.KeyPEM, flavor: flavor, now: now}
	var chain []*x509.Certificate
	if flavor == Force {
		if !consecutive(input) {
			return nil, &Error{Code: CodeVerifyFailed, Msg: "Unable to verify the certificate chain"}
		}
		chain = input
	} else {
		// Signed by its own key, CA or not (CFSSL only notices self-signed
		// CA certificates; a self-signed server certificate got 1220).
		if bytes.Equal(leaf.RawSubject, leaf.RawIssuer) && leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil {
			return nil, newError(CodeSelfSigned, "Certificate is self signed")
		}
		if b.pool().isRoot(leaf) {
			// A trust anchor has no chain to build (CFSSL's bundler
			// crashes on one that is not self-signed).
			return nil, &Error{Code: CodeVerifyFailed, Msg: "Unable to verify certificate: it is itself a trusted root"}
		}
		chains, fetched, err := b.validChains(ctx, input, req, now, lim)
		if err != nil {
			return nil, err
		}
		if flavor == Optimal {
			chain = chooseOptimal(chains, now)
		} else {
			chain = b.chooseUbiquitous(chains, now)
		}
		b.stash(chain, fetched)
	}
	out.Chain = chain
	out.status(b.pool(), input)
	if err := out.verifySCTs(ctx, b.SCTs, chain); err != nil {
		return nil, err
	}
	return out, nil
}

// orderChain reverses a chain given root first, as CFSSL does: only when
// the given order does not verify and the reversed one does.
func orderChain(in []*x509.Certificate) []*x509.Certificate {
	certs := append([]*x509.Certificate(nil), in...)
	if len(certs) > 1 && !consecutive(certs) {
		rev := make([]*x509.Certificate, len(certs))
		for i, c := range certs {
			rev[len(certs)-1-i] = c
		}
		if consecutive(rev) {
			return rev
		}
	}
	return certs
}

// consecutive reports whether each certificate is signed by the next.
func consecutive(certs []*x509.Certificate) bool {
	for i := 0; i+1 < len(certs); i++ {
		if certs[i].CheckSignatureFrom(certs[i+1]) != nil {
			return false
		}
	}
	return len(certs) > 0
}

// checkKey refuses a leaf or key that is not RSA, ECDSA or Ed25519 and a
// key that does not match the leaf.
func checkKey(leaf *x509.Certificate, key crypto.PrivateKey) error {
	switch leaf.PublicKeyAlgorithm {
	case x509.RSA, x509.ECDSA, x509.Ed25519:
	default:
		return newError(CodeKeyUnsupported, "Private key algorithm is not RSA or ECC or Ed25519")
	}
	if key == nil {
		return nil
	}
	var pub crypto.PublicKey
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	case ed25519.PrivateKey:
		pub = k.Public()
	case *ed25519.PrivateKey:
		pub = k.Public()
	default:
		return newError(CodeKeyUnsupported, "Private key algorithm is not RSA or ECC or Ed25519")
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(leaf.PublicKey) {
		return newError(CodeKeyMismatch, "Private key does not match public key")
	}
	return nil
}

// checkName matches the leaf against the requested name and IP as CFSSL's
// -domain/-ip do (Go's VerifyHostname); a mismatch is 1200.
func checkName(leaf *x509.Certificate, host string, ip net.IP) error {
	if host != "" {
		if err := leaf.VerifyHostname(host); err != nil {
			return verifyError(err)
		}
	}
	if ip != nil {
		if err := leaf.VerifyHostname(ip.String()); err != nil {
			return verifyError(err)
		}
	}
	return nil
}
