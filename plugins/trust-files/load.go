package trustfiles

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pkid/pkid/sdk"
)

// Bounds on what one source reads: an operator's typo (a path at a disk
// image, /) must fail, not exhaust memory.
const (
	maxFileSize  = 64 << 20
	maxDirFiles  = 10000
	maxCerts     = 200000
	maxPlatforms = 256
)

// snapshot is one consistent reading of the configured files.
type snapshot struct {
	certs     []sdk.TrustCert
	platforms []sdk.Platform
}

// certFile matches the names read from a directory: the usual certificate
// extensions and OpenSSL's hashed links (/etc/ssl/certs/0a775a30.0).
var certFile = regexp.MustCompile(`(?i)(\.(pem|crt|cer|der)|^[0-9a-f]{8}\.[0-9]+)$`)

// systemFiles are where Linux and BSD distributions keep the OS root store
// as one PEM bundle (the list Go's crypto/x509 reads).
var systemFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
	"/usr/local/etc/ssl/cert.pem",
	"/usr/local/share/certs/ca-root-nss.crt",
}

// systemBundle returns the OS root store file: $SSL_CERT_FILE if set (as Go
// and OpenSSL honour it), else the first of systemFiles that exists.
func systemBundle() (string, error) {
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		return f, nil
	}
	for _, f := range systemFiles {
		if _, err := os.Stat(f); err == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("trust-files: no OS root store among %s: %w", strings.Join(systemFiles, ", "), sdk.ErrUnavailable)
}

// watched lists every path whose change must trigger a reload.
func (c *config) watched() []string {
	var out []string
	out = append(out, c.Roots...)
	out = append(out, c.Intermediates...)
	if c.Metadata != "" {
		out = append(out, c.Metadata)
	}
	if c.System {
		if f, err := systemBundle(); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// load reads the whole configuration. Each problem is a diagnostic naming
// the attribute, the file and the reason; certificates are deduplicated.
func load(c *config) (*snapshot, sdk.Diagnostics) {
	var diags sdk.Diagnostics
	s := &snapshot{}
	seen := map[[sha1.Size]byte]int{} // certificate -> index in s.certs
	add := func(attr, path string, root bool) {
		files, err := expand(path)
		if err != nil {
			diags = append(diags, sdk.Errorf([]string{attr}, "unreadable trust path", err.Error())...)
			return
		}
		for _, f := range files {
			ders, err := readCertFile(f)
			if err != nil {
				diags = append(diags, sdk.Errorf([]string{attr}, "unparseable certificate file", fmt.Sprintf("%s: %v", f, err))...)
				continue
			}
			for i, der := range ders {
				cert, err := x509.ParseCertificate(der)
				if err != nil && strings.Contains(err.Error(), "negative serial number") {
					// Old roots in real bundles (CFSSL's own ca-bundle)
					// have negative serials that Go refuses; CFSSL skips
					// them too. They cannot anchor a Go-verified chain.
					diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Path: []string{attr},
						Summary: "certificate Go cannot parse, skipped",
						Detail:  fmt.Sprintf("%s: certificate %d: %v", f, i+1, err)})
					continue
				}
				if err != nil {
					diags = append(diags, sdk.Errorf([]string{attr}, "unparseable certificate",
						fmt.Sprintf("%s: certificate %d: %v", f, i+1, err))...)
					continue
				}
				// The bundler builds paths through CAs only; a leaf in a
				// bundle is a packaging mistake worth a warning, not a stop.
				if !cert.IsCA {
					diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Path: []string{attr},
						Summary: "not a CA certificate, skipped",
						Detail:  fmt.Sprintf("%s: certificate %d (%s) is not a CA", f, i+1, cert.Subject)})
					continue
				}
				sum := sha1.Sum(der)
				if j, ok := seen[sum]; ok {
					// The same certificate listed as a root and as an
					// intermediate is a root.
					s.certs[j].Root = s.certs[j].Root || root
					continue
				}
				if len(s.certs) >= maxCerts {
					diags = append(diags, sdk.Errorf([]string{attr}, "too many certificates",
						fmt.Sprintf("more than %d certificates configured", maxCerts))...)
					return
				}
				seen[sum] = len(s.certs)
				src := f
				if attr == "system" {
					src = "system"
				}
				s.certs = append(s.certs, sdk.TrustCert{DER: der, Root: root, Source: src})
			}
		}
	}
	for _, p := range c.Roots {
		add("roots", p, true)
	}
	if c.System {
		f, err := systemBundle()
		if err != nil {
			diags = append(diags, sdk.Errorf([]string{"system"}, "no OS root store", err.Error())...)
		} else {
			add("system", f, true)
		}
	}
	for _, p := range c.Intermediates {
		add("intermediates", p, false)
	}
	if c.Metadata != "" {
		ps, ds := loadMetadata(c.Metadata)
		diags = append(diags, ds...)
		s.platforms = ps
	}
	return s, diags
}

// expand returns path itself, or the certificate files directly inside it
// when it is a directory (sorted, so listings are stable).
func expand(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !certFile.MatchString(e.Name()) {
			continue
		}
		full := filepath.Join(path, e.Name())
		// Follow links (hashed names are links) but read regular files only.
		if fi, err := os.Stat(full); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if len(out) == maxDirFiles {
			return nil, fmt.Errorf("%s: more than %d certificate files", path, maxDirFiles)
		}
		out = append(out, full)
	}
	return out, nil
}

// readFile reads at most maxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d MiB", maxFileSize>>20)
	}
	return b, nil
}

// readCertFile returns the DER certificates of a PEM bundle (text between
// blocks, as in CFSSL's ca-bundle, is ignored) or of a DER file.
func readCertFile(path string) ([][]byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseCerts(b)
}

// parseCerts splits PEM or DER input into certificate DERs without
// checking them.
func parseCerts(b []byte) ([][]byte, error) {
	if bytes.Contains(b, []byte("-----BEGIN")) {
		var out [][]byte
		rest := b
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			switch blk.Type {
			case "CERTIFICATE", "X509 CERTIFICATE":
				out = append(out, blk.Bytes)
			default:
				return nil, fmt.Errorf("PEM block %q is not a certificate", blk.Type)
			}
		}
		if len(out) == 0 {
			return nil, errors.New("no PEM certificate")
		}
		return out, nil
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty file")
	}
	certs, err := x509.ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("neither PEM nor DER certificates: %w", err)
	}
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out, nil
}

// rawPlatform is one entry of CFSSL's platform-metadata file.
type rawPlatform struct {
	Name     string `json:"name"`
	Weight   *int   `json:"weight"`
	HashAlgo string `json:"hash_algo"`
	KeyAlgo  string `json:"key_algo"`
	Keystore string `json:"keystore"`
}

// loadMetadata reads CFSSL's platform metadata: keystore paths are
// relative to the metadata file; a platform without a keystore (or with an
// empty one, as CFSSL treats it) trusts every root.
func loadMetadata(path string) ([]sdk.Platform, sdk.Diagnostics) {
	attr := []string{"metadata"}
	b, err := readFile(path)
	if err != nil {
		return nil, sdk.Errorf(attr, "unreadable platform metadata", fmt.Sprintf("%s: %v", path, err))
	}
	var raws []rawPlatform
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, sdk.Errorf(attr, "unparseable platform metadata", fmt.Sprintf("%s: %v", path, err))
	}
	if len(raws) > maxPlatforms {
		return nil, sdk.Errorf(attr, "too many platforms", fmt.Sprintf("%s: %d platforms, at most %d", path, len(raws), maxPlatforms))
	}
	var out []sdk.Platform
	var diags sdk.Diagnostics
	bad := func(i int, name, why string) {
		diags = append(diags, sdk.Errorf(attr, "invalid platform metadata", fmt.Sprintf("%s: platform %d (%q): %s", path, i+1, name, why))...)
	}
	names := map[string]bool{}
	for i, r := range raws {
		switch {
		case r.Name == "":
			bad(i, r.Name, "no name")
			continue
		case names[r.Name]:
			bad(i, r.Name, "name used twice")
			continue
		case r.Weight == nil || *r.Weight < 0:
			bad(i, r.Name, "weight must be an integer >= 0")
			continue
		}
		names[r.Name] = true
		switch r.HashAlgo {
		case "SHA1", "SHA2":
		default:
			bad(i, r.Name, fmt.Sprintf("unknown hash_algo %q (SHA1 or SHA2)", r.HashAlgo))
			continue
		}
		switch r.KeyAlgo {
		case "RSA", "ECDSA256", "ECDSA384", "ECDSA521":
		default:
			bad(i, r.Name, fmt.Sprintf("unknown key_algo %q (RSA, ECDSA256, ECDSA384 or ECDSA521)", r.KeyAlgo))
			continue
		}
		p := sdk.Platform{Name: r.Name, Weight: *r.Weight, HashAlgo: r.HashAlgo, KeyAlgo: r.KeyAlgo}
		if r.Keystore != "" {
			ks := r.Keystore
			if !filepath.IsAbs(ks) {
				ks = filepath.Join(filepath.Dir(path), ks)
			}
			roots, err := keystoreRoots(ks)
			if err != nil {
				bad(i, r.Name, fmt.Sprintf("keystore %s: %v", ks, err))
				continue
			}
			p.Roots = roots
		}
		if len(p.Roots) == 0 {
			p.AllRoots = true
		}
		out = append(out, p)
	}
	return out, diags
}

// keystoreRoots returns the sorted SHA-1 hashes of the subject public key
// info of a platform's keystore certificates: CFSSL's membership test, so
// a root re-issued with the same key stays trusted. Like CFSSL it skips
// blocks that do not parse (real platform stores carry certificates Go
// refuses, e.g. negative serials).
func keystoreRoots(path string) ([]string, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			continue
		}
		sum := sha1.Sum(c.RawSubjectPublicKeyInfo)
		out = append(out, hex.EncodeToString(sum[:]))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
