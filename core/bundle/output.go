package bundle

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Bundle is a chosen chain and its report. MarshalJSON writes CFSSL's
// bundle object (docs/bundler.md).
type Bundle struct {
	// Chain is the output chain, leaf first; the root is left out per the
	// omission rule (see Root).
	Chain []*x509.Certificate
	Cert  *x509.Certificate // the leaf
	// Root anchors the chain (nil for Force). It is in Chain only when
	// the leaf has an OCSP URL, is not a CA and the chain is at most two
	// certificates long.
	Root   *x509.Certificate
	Key    crypto.PrivateKey
	Status Status
	// SCTs are the leaf's embedded SCTs as the Bundler's SCTVerifier
	// found them; nil (no "scts" field, CFSSL's output) without a
	// verifier or without embedded SCTs. A pkid addition.
	SCTs []SCTResult

	keyPEM []byte
	flavor Flavor
	now    time.Time
}

// Status is CFSSL's bundle status object (fields in CFSSL's order).
type Status struct {
	Rebundled    bool     `json:"rebundled"`
	ExpiringSKIs []string `json:"expiring_SKIs"`
	Untrusted    []string `json:"untrusted_root_stores"`
	Messages     []string `json:"messages"`
	Code         int      `json:"code"`
}

// Status code bits.
const (
	BitExpiring       = 1 // a certificate in the chain expires within 30 days
	BitNotUbiquitous  = 2 // SHA-1 below the root, or a weighted platform lacks the root
	expiringWindow    = 30 * 24 * time.Hour
	msgExpiringStub   = "The bundle is expiring within 30 days."
	msgUntrustedStub  = "The bundle may not be trusted by the following platform(s):"
	msgNoMetadata     = "Unable to measure bundle ubiquity: No platform metadata present."
	msgSHA1BelowRoot  = "The bundle contains certificates signed with SHA-1 below the root, which current platforms reject."
	omissionMaxLength = 2
)

// status fills Status and applies the root omission rule. input is the
// caller's chain as ordered for bundling.
func (b *Bundle) status(p *Pool, input []*x509.Certificate) {
	full := b.Chain
	st := Status{}
	var expiring []string
	var idx []int
	for i, c := range full {
		if c.NotAfter.Sub(b.now) < expiringWindow {
			idx = append(idx, i)
			expiring = append(expiring, fmt.Sprintf("%X", c.SubjectKeyId))
		}
	}
	if len(idx) > 0 {
		st.Code |= BitExpiring
		// No space after the stub: CFSSL's text, kept for scripts that
		// match it.
		msg := msgExpiringStub + "The expiring cert is"
		if len(idx) > 1 {
			msg = msgExpiringStub + "The expiring certs are"
		}
		for _, i := range idx {
			msg += " #" + strconv.Itoa(i+1)
		}
		st.Messages = append(st.Messages, msg+" in the chain.")
		st.ExpiringSKIs = expiring
	}
	if b.flavor != Force {
		root := full[len(full)-1]
		b.Root = root
		st.Untrusted = []string{}
		weighted := false
		for i := range p.platforms {
			pl := &p.platforms[i]
			if !pl.trusts(root) {
				st.Untrusted = append(st.Untrusted, pl.name)
				weighted = weighted || pl.weight > 0
			}
		}
		switch {
		case len(p.platforms) == 0:
			st.Messages = append(st.Messages, msgNoMetadata)
		case len(st.Untrusted) > 0:
			st.Messages = append(st.Messages, msgUntrustedStub+" "+strings.Join(st.Untrusted, ", ")+".")
			if weighted {
				st.Code |= BitNotUbiquitous
			}
		}
	}
	if len(full) > 1 && hashUbiquity(full) < hashSHA2 {
		st.Code |= BitNotUbiquitous
		st.Messages = append(st.Messages, msgSHA1BelowRoot)
	}
	if b.flavor != Force {
		leaf := full[0]
		if !(leaf.OCSPServer != nil && !leaf.IsCA && len(full) <= omissionMaxLength) {
			b.Chain = full[:len(full)-1]
		}
	}
	st.Rebundled = !sameSignatures(b.Chain, input)
	b.Status = st
}

func sameSignatures(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Signature, b[i].Signature) {
			return false
		}
	}
	return true
}

// MarshalJSON writes CFSSL's bundle object: keys alphabetical (a map, as
// CFSSL), HTML characters escaped as encoding/json does.
func (b *Bundle) MarshalJSON() ([]byte, error) {
	if b == nil || b.Cert == nil {
		return nil, errors.New("bundle: no certificate in bundle")
	}
	leaf := b.Cert
	size := keySize(leaf.PublicKey)
	var keyType string
	switch leaf.PublicKeyAlgorithm {
	case x509.ECDSA:
		keyType = fmt.Sprintf("%d-bit ECDSA", size)
	case x509.RSA:
		keyType = fmt.Sprintf("%d-bit RSA", size)
	case x509.DSA:
		keyType = "DSA"
	case x509.Ed25519:
		keyType = "Ed25519"
	default:
		keyType = "Unknown"
	}
	root := ""
	if b.Root != nil {
		root = pemString(b.Root.Raw)
	}
	var chainPEM bytes.Buffer
	for _, c := range b.Chain {
		_ = pem.Encode(&chainPEM, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	st := b.Status
	out := map[string]any{
		"bundle":       string(bytes.TrimSpace(chainPEM.Bytes())),
		"crl_support":  leaf.CRLDistributionPoints != nil,
		"crt":          pemString(leaf.Raw),
		"expires":      earliestExpiry(b.Chain),
		"hostnames":    hostnames(leaf),
		"issuer":       nameString(leaf.Issuer),
		"key":          b.keyString(),
		"key_size":     size,
		"key_type":     keyType,
		"leaf_expires": leaf.NotAfter,
		"ocsp":         leaf.OCSPServer,
		"ocsp_support": leaf.OCSPServer != nil,
		"root":         root,
		"signature":    signatureString(leaf.SignatureAlgorithm),
		"status":       &st,
		"subject":      nameString(leaf.Subject),
	}
	if b.SCTs != nil {
		out["scts"] = b.SCTs
	}
	return json.Marshal(out)
}

func pemString(der []byte) string {
	return string(bytes.TrimSpace(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

// keyString is the "key" field: Key in CFSSL's encodings (PKCS#1, SEC1;
// Ed25519 as PKCS#8 "PRIVATE KEY"), else KeyPEM trimmed, else "".
func (b *Bundle) keyString() string {
	var blk *pem.Block
	switch k := b.Key.(type) {
	case *rsa.PrivateKey:
		blk = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err == nil {
			blk = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
		}
	case ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err == nil {
			blk = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		}
	}
	if blk != nil {
		return string(bytes.TrimSpace(pem.EncodeToMemory(blk)))
	}
	return string(bytes.TrimSpace(b.keyPEM))
}

func keySize(pub any) int {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize
	case *rsa.PublicKey:
		return k.N.BitLen()
	case ed25519.PublicKey:
		return ed25519.PublicKeySize // CFSSL's quirk: the key's length in bytes
	}
	return 0
}

// hostnames is the CN, then the DNS SANs in order, without repeats.
func hostnames(c *x509.Certificate) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, h := range append([]string{c.Subject.CommonName}, c.DNSNames...) {
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

var attrNames = map[string]string{
	"2.5.4.3": "CommonName", "2.5.4.5": "SerialNumber", "2.5.4.6": "Country",
	"2.5.4.7": "Locality", "2.5.4.8": "Province", "2.5.4.9": "StreetAddress",
	"2.5.4.10": "Organization", "2.5.4.11": "OrganizationalUnit", "2.5.4.17": "PostalCode",
}

// nameString writes a name as /Attr=value in RDN order; an attribute
// without a CFSSL name is written with its dotted OID.
func nameString(n pkix.Name) string {
	var sb strings.Builder
	for _, a := range n.Names {
		oid := a.Type.String()
		name, ok := attrNames[oid]
		if !ok {
			name = oid
		}
		fmt.Fprintf(&sb, "/%s=%v", name, a.Value)
	}
	return sb.String()
}

func signatureString(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.MD2WithRSA:
		return "MD2WithRSA"
	case x509.MD5WithRSA:
		return "MD5WithRSA"
	case x509.SHA1WithRSA:
		return "SHA1WithRSA"
	case x509.SHA256WithRSA:
		return "SHA256WithRSA"
	case x509.SHA384WithRSA:
		return "SHA384WithRSA"
	case x509.SHA512WithRSA:
		return "SHA512WithRSA"
	case x509.DSAWithSHA1:
		return "DSAWithSHA1"
	case x509.DSAWithSHA256:
		return "DSAWithSHA256"
	case x509.ECDSAWithSHA1:
		return "ECDSAWithSHA1"
	case x509.ECDSAWithSHA256:
		return "ECDSAWithSHA256"
	case x509.ECDSAWithSHA384:
		return "ECDSAWithSHA384"
	case x509.ECDSAWithSHA512:
		return "ECDSAWithSHA512"
	case x509.PureEd25519:
		return "Ed25519"
	}
	return "Unknown Signature"
}

// StashName is the file name an intermediate is stashed under:
// <CN without dots, spaces and path separators>_<SKI hex>_<serial hex>.crt.
func StashName(c *x509.Certificate) string {
	cn := strings.NewReplacer(".", "", " ", "", "/", "", "\\", "", "\x00", "").Replace(c.Subject.CommonName)
	serial := ""
	if c.SerialNumber != nil {
		serial = fmt.Sprintf("%x", c.SerialNumber.Bytes())
	}
	return fmt.Sprintf("%s_%x_%s.crt", cn, c.SubjectKeyId, serial)
}

// stash writes the AIA downloads used in chain to the stash directory.
// A failed write does not fail the bundle (as CFSSL).
func (b *Bundler) stash(chain, fetched []*x509.Certificate) {
	if b.Stash == "" || len(fetched) == 0 {
		return
	}
	for _, c := range chain[1:] {
		for _, f := range fetched {
			if !bytes.Equal(c.Raw, f.Raw) || b.pool().isRoot(c) {
				continue
			}
			if err := os.MkdirAll(b.Stash, 0o755); err != nil {
				return
			}
			_ = os.WriteFile(filepath.Join(b.Stash, StashName(c)), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
		}
	}
}
