package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca/certinfo"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/sdk"
)

// certinfoDialTimeout bounds the TCP connection and TLS handshake of
// certinfo -domain (CFSSL: 10 s).
const certinfoDialTimeout = 10 * time.Second

func certinfoCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Print the details of a certificate or certificate request",
		help: `
Usage: pkid certinfo -cert FILE
       pkid certinfo -csr FILE
       pkid certinfo -domain HOST[:PORT]
       pkid certinfo -serial S -aki A [-config pkid.hcl | -db-config DBCONFIG]

  Prints indented JSON as CFSSL does: for a certificate subject, issuer,
  serial_number, sans, not_before, not_after, sigalg, authority_key_id,
  subject_key_id and pem; for a request (-csr) subject, sans,
  key_algorithm, key_size, sigalg and extensions. FILE may be PEM or DER;
  "-" reads stdin.

  A certificate with embedded SCTs also gets "scts": each SCT's log,
  timestamp and result, verified against the issuer given with -ca and
  the logs of the ct blocks of -config (docs/ct.md).

  -domain fetches the server's leaf certificate over TLS without verifying
  it (port 443 unless given; 10 s timeout); the next certificate the
  server sends verifies its SCTs unless -ca is given. -serial (decimal)
  with -aki (hex, colons optional) looks the certificate up in the certstore of the
  pkid configuration (-config or $PKID_CONFIG), which must define exactly
  one certstore.
`,
		run: func(args []string) error {
			fs := newFlags("certinfo")
			var domain, serial, aki string
			fs.StringVar(&domain, "domain", "", "fetch the leaf certificate of HOST[:PORT]")
			fs.StringVar(&serial, "serial", "", "serial number (decimal) to look up")
			fs.StringVar(&aki, "aki", "", "authority key identifier (hex) to look up")
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			var v any
			var err error
			var peerIssuer *x509.Certificate
			switch {
			case cf.cert != "":
				data, err := readInput(e, cf.cert)
				if err != nil {
					return err
				}
				c, err := parseOneCertificate(data)
				if err != nil {
					return fmt.Errorf("-cert %s: %w", cf.cert, err)
				}
				v = certinfo.Certificate(c)
			case cf.csr != "":
				data, err := readInput(e, cf.csr)
				if err != nil {
					return err
				}
				r, err := csr.ParseCSR(data)
				if err != nil {
					return fmt.Errorf("-csr %s: %w", cf.csr, err)
				}
				v = certinfo.CSR(r)
			case domain != "":
				chain, err := fetchChain(context.Background(), domain)
				if err != nil {
					return err
				}
				v = certinfo.Certificate(chain[0])
				if len(chain) > 1 {
					peerIssuer = chain[1] // verifies the SCTs unless -ca says otherwise
				}
			case serial != "" && aki != "":
				c, err := lookupCertificate(e, &cf, serial, aki)
				if err != nil {
					return err
				}
				v = certinfo.Certificate(c)
			default:
				return usagef("give -cert, -csr, -domain, or -serial with -aki")
			}
			if info, ok := v.(*certinfo.Info); ok {
				if v, err = withSCTs(e, &cf, info, peerIssuer); err != nil {
					return err
				}
			}
			b, err := certinfo.Marshal(v)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", b)
			return err
		},
	}
}

// parseOneCertificate reads a single certificate, PEM or DER. Like CFSSL,
// a PEM file holding more than one object is refused.
func parseOneCertificate(data []byte) (*x509.Certificate, error) {
	data = bytes.TrimSpace(data)
	if !bytes.HasPrefix(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("not a PEM or DER certificate: %w", err)
		}
		return c, nil
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("malformed PEM")
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("PEM block is %q, want CERTIFICATE", block.Type)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("the PEM file should contain only one certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// fetchChain dials HOST[:PORT] (443 by default) and returns the server's
// certificates, leaf first, without verifying them.
func fetchChain(ctx context.Context, domain string) ([]*x509.Certificate, error) {
	host, port, err := net.SplitHostPort(domain)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]"), "443"
	}
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: certinfoDialTimeout},
		// Inspecting a certificate must work whatever it is: nothing
		// from this connection is trusted or sent.
		Config: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}
	ctx, cancel := context.WithTimeout(ctx, certinfoDialTimeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("-domain %s: %w", domain, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("-domain %s: received no server certificates", domain)
	}
	return certs, nil
}

// lookupCertificate finds serial+aki in the only certstore of the pkid
// configuration given by -config (or $PKID_CONFIG).
func lookupCertificate(e *env, cf *compatFlags, serial, aki string) (*x509.Certificate, error) {
	if cf.dbConfig != "" {
		if len(cf.config) > 0 {
			return nil, errors.New("-db-config and -config exclude each other: a pkid -config declares its certstore")
		}
		store, done, err := openDBConfig(cf.dbConfig, true)
		if err != nil {
			return nil, err
		}
		defer done()
		rec, err := store.Get(context.Background(), serial, sdk.NormalizeAKI(aki))
		if errors.Is(err, sdk.ErrNotFound) {
			return nil, errors.New("no certificate found")
		}
		if err != nil {
			return nil, fmt.Errorf("-db-config: %w", err)
		}
		return x509.ParseCertificate(rec.DER)
	}
	cfg := configFlag{paths: cf.config}
	s, err := cfg.load(e, false)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if len(s.CertStores) != 1 {
		return nil, fmt.Errorf("certinfo -serial needs a configuration with exactly one certstore; it has %d", len(s.CertStores))
	}
	for name, cs := range s.CertStores {
		rec, err := cs.Get(context.Background(), serial, sdk.NormalizeAKI(aki))
		if errors.Is(err, sdk.ErrNotFound) {
			return nil, errors.New("no certificate found")
		}
		if err != nil {
			return nil, fmt.Errorf("certstore %s: %w", name, err)
		}
		return x509.ParseCertificate(rec.DER)
	}
	return nil, errors.New("no certificate found")
}

// withSCTs adds the report of info's embedded SCTs, if any, verified
// with the issuer of -ca, else issuer (the one a server sent).
func withSCTs(e *env, cf *compatFlags, info *certinfo.Info, issuer *x509.Certificate) (any, error) {
	c, err := x509.ParseCertificate(mustPEMBytes(info.PEM))
	if err != nil {
		return info, nil
	}
	if scts, _ := ct.EmbeddedSCTs(c); len(scts) == 0 {
		return info, nil
	}
	if cf.ca != "" {
		data, err := readInput(e, cf.ca)
		if err != nil {
			return nil, err
		}
		if issuer, err = parseOneCertificate(data); err != nil {
			return nil, fmt.Errorf("-ca %s: %w", cf.ca, err)
		}
	}
	var logs []*ct.Log
	if len(cf.config) > 0 || os.Getenv("PKID_CONFIG") != "" {
		ctx, cancel := context.WithTimeout(context.Background(), certinfoDialTimeout)
		defer cancel()
		if logs, err = ctLogsFromConfig(ctx, e, &configFlag{paths: cf.config}); err != nil {
			return nil, err
		}
	}
	rep, err := embeddedSCTReport(c, issuer, logs)
	if err != nil {
		return nil, fmt.Errorf("embedded SCTs: %w", err)
	}
	return struct {
		*certinfo.Info
		SCTs []sctReport `json:"scts"`
	}{info, rep}, nil
}

func mustPEMBytes(s string) []byte {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil
	}
	return b.Bytes
}
