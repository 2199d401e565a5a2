package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/pkid/pkid/core/ca/lint"
)

// One construction per certificate: the to-be-signed bytes (TBS) are
// built once; lint sees them under a placeholder signature, the CA key
// signs exactly them, and the signature is verified once. (Before, lint's
// copy and the real certificate were two x509.CreateCertificate calls,
// each signing and verifying: three ECDSA verifications and two
// signatures per issuance counting the CSR's.)

// algorithmIdentifiers are the DER AlgorithmIdentifiers Go's
// CreateCertificate writes for the algorithms DefaultSignatureAlgorithm
// picks (RSA PKCS #1 v1.5 with NULL parameters, ECDSA and Ed25519
// without). Other algorithms (RSA-PSS) take the two-construction path.
var algorithmIdentifiers = map[x509.SignatureAlgorithm][]byte{
	x509.SHA256WithRSA:   {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00},
	x509.SHA384WithRSA:   {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00},
	x509.SHA512WithRSA:   {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00},
	x509.ECDSAWithSHA256: {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02},
	x509.ECDSAWithSHA384: {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03},
	x509.ECDSAWithSHA512: {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04},
	x509.PureEd25519:     {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70},
}

// errCaptured ends the CreateCertificate call that only encodes a TBS.
var errCaptured = errors.New("ca: tbs captured")

// tbsCapture is a crypto.Signer with an Ed25519 public key that records
// the message CreateCertificate asks it to sign (for Ed25519, the whole
// TBS) and refuses to sign it, so the encoding costs no signature and no
// verification.
type tbsCapture struct{ tbs []byte }

var capturePub = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public()

func (c *tbsCapture) Public() crypto.PublicKey { return capturePub }

func (c *tbsCapture) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != 0 {
		return nil, errors.New("ca: tbs capture: unexpected hash")
	}
	c.tbs = msg
	return nil, errCaptured
}

// buildTBS returns the TBSCertificate x509.CreateCertificate(·, t, parent,
// pub, key) writes for a CA key signing with sigAlg (which must suit it:
// signatureFits) and listed in algorithmIdentifiers. It encodes with CreateCertificate itself (so the
// bytes are Go's, extension for extension) under the capture key, whose
// AlgorithmIdentifier is then replaced by sigAlg's.
func buildTBS(t, parent *x509.Certificate, pub crypto.PublicKey, sigAlg x509.SignatureAlgorithm) (tbs, algID []byte, err error) {
	algID, ok := algorithmIdentifiers[sigAlg]
	if !ok {
		return nil, nil, fmt.Errorf("ca: encoding the certificate: no identifier for %s", sigAlg)
	}
	tc, pc := *t, *parent
	tc.SignatureAlgorithm = x509.PureEd25519
	pc.PublicKey = capturePub
	capture := &tbsCapture{}
	// rand only draws a serial when t has none (then the TBS carries a
	// random serial, signed as it is).
	if _, err := x509.CreateCertificate(rand.Reader, &tc, &pc, pub, capture); !errors.Is(err, errCaptured) || capture.tbs == nil {
		if err == nil {
			err = errors.New("no TBS captured")
		}
		return nil, nil, fmt.Errorf("ca: encoding the certificate: %w", err)
	}
	tbs, err = replaceAlgorithm(capture.tbs, algorithmIdentifiers[x509.PureEd25519], algID)
	return tbs, algID, err
}

// replaceAlgorithm rewrites the signature AlgorithmIdentifier of a
// TBSCertificate (version, serial, then the identifier) from old to alg.
func replaceAlgorithm(tbs, old, alg []byte) ([]byte, error) {
	in := cryptobyte.String(tbs)
	var body, version, serial, id cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() ||
		!body.ReadASN1Element(&version, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!body.ReadASN1Element(&serial, cbasn1.INTEGER) ||
		!body.ReadASN1Element(&id, cbasn1.SEQUENCE) || string(id) != string(old) {
		return nil, errors.New("ca: encoding the certificate: unexpected TBS layout")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(version)
		b.AddBytes(serial)
		b.AddBytes(alg)
		b.AddBytes(body)
	})
	return b.Bytes()
}

// assemble is the Certificate SEQUENCE of tbs, algID and sig.
func assemble(tbs, algID, sig []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(algID)
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
			b.AddUint8(0)
			b.AddBytes(sig)
		})
	})
	return b.Bytes()
}

// placeholderSignature is a signature of the size the CA key produces (the
// largest for ECDSA), so the lint copy measures what the certificate will.
// It verifies under no key.
func placeholderSignature(issuerPub crypto.PublicKey) []byte {
	switch k := issuerPub.(type) {
	case *rsa.PublicKey:
		return make([]byte, k.Size())
	case *ecdsa.PublicKey:
		// r and s at their longest: a zero byte before a high bit.
		n := (k.Curve.Params().BitSize + 7) / 8
		v := make([]byte, n+1)
		for i := 1; i < len(v); i++ {
			v[i] = 0xff
		}
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for range 2 {
				b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) { b.AddBytes(v) })
			}
		})
		return b.BytesOrPanic()
	}
	return make([]byte, ed25519.SignatureSize)
}

// signatureFits reports whether sigAlg can be made by issuerPub (what
// CreateCertificate checks of its signer).
func signatureFits(sigAlg x509.SignatureAlgorithm, issuerPub crypto.PublicKey) bool {
	switch issuerPub.(type) {
	case *rsa.PublicKey:
		return sigAlg == x509.SHA256WithRSA || sigAlg == x509.SHA384WithRSA || sigAlg == x509.SHA512WithRSA
	case *ecdsa.PublicKey:
		return sigAlg == x509.ECDSAWithSHA256 || sigAlg == x509.ECDSAWithSHA384 || sigAlg == x509.ECDSAWithSHA512
	case ed25519.PublicKey:
		return sigAlg == x509.PureEd25519
	}
	return false
}

// hashOf is sigAlg's digest (0 for Ed25519).
func hashOf(sigAlg x509.SignatureAlgorithm) crypto.Hash {
	switch sigAlg {
	case x509.SHA256WithRSA, x509.ECDSAWithSHA256:
		return crypto.SHA256
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384:
		return crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512:
		return crypto.SHA512
	}
	return 0
}

// construction is one certificate about to be signed.
type construction struct {
	der      []byte   // the signed certificate
	warnings []string // lint findings below the refusal level
}

// construct lints and signs t for pub under the issuer's key, once: the
// linted bytes are the signed bytes. l may be nil (no lint). Errors: lint
// refusal (5300), a certificate above MaxCertificateBytes (5300), the
// keystore's error, and a signature that does not verify under the CA
// certificate's key (a faulty signer or HSM: nothing is returned).
func (i *Issuer) construct(ctx context.Context, t *x509.Certificate, pub crypto.PublicKey, l *lint.Linter) (*construction, error) {
	sigAlg := t.SignatureAlgorithm
	if sigAlg == 0 {
		sigAlg = i.sigAlg
	}
	issuerPub := i.cfg.Signer.Public()
	if _, ok := algorithmIdentifiers[sigAlg]; !ok {
		return i.constructTwice(ctx, t, pub, l)
	}
	if !signatureFits(sigAlg, issuerPub) {
		return nil, fmt.Errorf("ca: signing: signature algorithm %s does not suit the CA's %s key", sigAlg, keyName(issuerPub))
	}
	tbs, algID, err := buildTBS(t, i.cfg.Certificate, pub, sigAlg)
	if err != nil {
		return nil, err
	}
	out := &construction{}
	if l != nil {
		cp, err := assemble(tbs, algID, placeholderSignature(issuerPub))
		if err != nil {
			return nil, fmt.Errorf("ca: lint copy: %w", err)
		}
		if out.warnings, err = lintCopy(l, cp, lint.IsSelfSigned(t, i.cfg.Certificate, pub, issuerPub)); err != nil {
			return nil, err
		}
		if err := i.checkSize(len(cp), "about "); err != nil {
			return nil, err
		}
	}
	var opts crypto.SignerOpts = hashOf(sigAlg)
	sig, err := crypto.SignMessage(signerFor(ctx, i.cfg.Signer), i.cfg.Rand, tbs, opts)
	if err != nil {
		return nil, fmt.Errorf("ca: signing: %w", err)
	}
	// The one verification: a signer (keystore, HSM) that returns a wrong
	// signature is caught here, as CreateCertificate would.
	if err := i.cfg.Certificate.CheckSignature(sigAlg, tbs, sig); err != nil {
		return nil, fmt.Errorf("ca: signing: the signature returned by the CA key does not verify: %w", err)
	}
	if out.der, err = assemble(tbs, algID, sig); err != nil {
		return nil, fmt.Errorf("ca: signing: %w", err)
	}
	return out, nil
}

// constructTwice is construct for algorithms buildTBS does not encode
// (RSA-PSS): a separate lint copy, then x509.CreateCertificate.
func (i *Issuer) constructTwice(ctx context.Context, t *x509.Certificate, pub crypto.PublicKey, l *lint.Linter) (*construction, error) {
	out := &construction{}
	if l != nil {
		ws, size, err := preIssuanceLint(l, t, i.cfg.Certificate, pub, i.cfg.Signer.Public())
		if err != nil {
			return nil, err
		}
		if err := i.checkSize(size, "about "); err != nil {
			return nil, err
		}
		out.warnings = ws
	}
	der, err := x509.CreateCertificate(i.cfg.Rand, t, i.cfg.Certificate, pub, signerFor(ctx, i.cfg.Signer))
	if err != nil {
		return nil, fmt.Errorf("ca: signing: %w", err)
	}
	out.der = der
	return out, nil
}

// lintCopy lints a placeholder-signed copy as preIssuanceLint does.
func lintCopy(l *lint.Linter, der []byte, selfSigned bool) ([]string, error) {
	rep, err := l.LintUnsigned(der, selfSigned)
	if err != nil {
		return nil, fmt.Errorf("ca: lint: %w", err)
	}
	if err := rep.Err(); err != nil {
		return nil, errorf(CodePolicyViolation, err, "certificate refused")
	}
	return findingStrings(rep.Warnings()), nil
}
