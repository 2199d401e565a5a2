package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/pkid/pkid/sdk"
)

// ContextSigner is a crypto.Signer whose Sign calls can run under a
// request's context: crypto.Signer's Sign takes none, and a signature
// made for a client that has gone away is wasted keystore work.
type ContextSigner interface {
	crypto.Signer
	// WithContext returns the signer whose Sign calls end when ctx does
	// (their error then wraps ctx.Err()).
	WithContext(ctx context.Context) crypto.Signer
}

// signerFor binds s to ctx when it can be (a keystore signer); other
// signers (in-process keys) are returned unchanged.
func signerFor(ctx context.Context, s crypto.Signer) crypto.Signer {
	if cs, ok := s.(ContextSigner); ok && ctx != nil {
		return cs.WithContext(ctx)
	}
	return s
}

// keyStoreSigner is a crypto.Signer whose Sign is a keystore call: the
// private key never enters this process.
type keyStoreSigner struct {
	ks  sdk.KeyStore
	id  string
	pub crypto.PublicKey
	ctx context.Context // the call's, set by WithContext; nil: Background
}

// KeyStoreSigner returns a crypto.Signer (a ContextSigner) for key id in
// ks. It fails with the keystore's error (sdk.ErrNotFound for an unknown
// key).
func KeyStoreSigner(ctx context.Context, ks sdk.KeyStore, id string) (crypto.Signer, error) {
	info, err := ks.PublicKey(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("ca: key %q: %w", id, err)
	}
	return &keyStoreSigner{ks: ks, id: id, pub: info.PublicKey}, nil
}

func (s *keyStoreSigner) Public() crypto.PublicKey { return s.pub }

// WithContext returns a copy of s whose Sign runs under ctx.
func (s *keyStoreSigner) WithContext(ctx context.Context) crypto.Signer {
	c := *s
	c.ctx = ctx
	return &c
}

func (s *keyStoreSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	req := sdk.SignRequest{KeyID: s.id, Digest: digest, Hash: opts.HashFunc()}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		req.PSS, req.SaltLength = true, pss.SaltLength
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return s.ks.Sign(ctx, req)
}

// DefaultSignatureAlgorithm picks the signature algorithm for a CA key:
// RSA ≥ 4096 SHA-512, ≥ 3072 SHA-384, else SHA-256; ECDSA by curve;
// Ed25519. RSA keys below 2048 bits are refused (never SHA-1).
func DefaultSignatureAlgorithm(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch bits := k.N.BitLen(); {
		case bits < 2048:
			return 0, errorf(CodeKeyUnsupported, nil, "RSA CA key of %d bits refused: at least 2048 bits are required", bits)
		case bits >= 4096:
			return x509.SHA512WithRSA, nil
		case bits >= 3072:
			return x509.SHA384WithRSA, nil
		}
		return x509.SHA256WithRSA, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256, nil
		case elliptic.P384():
			return x509.ECDSAWithSHA384, nil
		case elliptic.P521():
			return x509.ECDSAWithSHA512, nil
		}
		return 0, errorf(CodeKeyUnsupported, nil, "unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return x509.PureEd25519, nil
	}
	return 0, errorf(CodeKeyUnsupported, nil, "unsupported key type %T", pub)
}

// checkSubjectKey refuses public keys a certificate must not carry.
func checkSubjectKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return errorf(CodePolicyViolation, nil, "RSA key of %d bits refused: at least 2048 bits are required", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return errorf(CodePolicyViolation, nil, "ECDSA curve %s refused", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return errorf(CodeKeyUnsupported, nil, "unsupported public key type %T", pub)
	}
	return nil
}
