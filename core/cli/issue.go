package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/sdk"
)

// compatFlags is CFSSL's shared flag set: every compat command accepts all
// of them (CFSSL has one flag set) and ignores the ones it does not use.
type compatFlags struct {
	hostname, cn, label, profile, crl, remote string
	config                                    stringList
	initca, renewca                           bool
	ca, caKey, cert, csr, key, password       string
	dbConfig                                  string
	loglevel                                  int
}

func (c *compatFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.hostname, "hostname", "", "comma-separated SANs (overrides the hosts of the request)")
	fs.StringVar(&c.cn, "cn", "", "certificate common name (overrides the request's)")
	fs.StringVar(&c.label, "label", "", "CA label")
	fs.StringVar(&c.profile, "profile", "", "signing profile")
	fs.StringVar(&c.crl, "crl", "", "CRL distribution point URL")
	fs.StringVar(&c.remote, "remote", "", "remote CA HOST:PORT")
	fs.Var(&c.config, "config", "signing configuration: CFSSL JSON or pkid HCL")
	fs.BoolVar(&c.initca, "initca", false, "initialise a new CA")
	fs.BoolVar(&c.renewca, "renewca", false, "renew a CA certificate")
	fs.StringVar(&c.ca, "ca", "", "CA certificate: PATH, file:PATH or env:VAR")
	fs.StringVar(&c.caKey, "ca-key", "", "CA private key: PATH, file:PATH or env:VAR")
	fs.StringVar(&c.cert, "cert", "", "certificate file")
	fs.StringVar(&c.csr, "csr", "", "certificate request file")
	fs.StringVar(&c.key, "key", "", "private key file")
	fs.StringVar(&c.password, "password", "0", "PKCS#12 password")
	fs.StringVar(&c.dbConfig, "db-config", "", "certificate database configuration")
	fs.IntVar(&c.loglevel, "loglevel", 1, "log level (0 debug … 5 fatal)")
	for _, name := range []string{"address", "tls-cert", "tls-key", "mutual-tls-ca", "mutual-tls-cn", "min-tls-version",
		"disable", "tls-remote-ca", "mutual-tls-client-cert", "mutual-tls-client-key", "ca-bundle", "int-bundle",
		"int-dir", "metadata", "flavor", "domain", "ip", "responder", "responder-key", "status", "reason",
		"revoked-at", "interval", "responses", "path", "serial", "aki", "expiry", "list", "family", "scanner",
		"timeout", "csv", "num-workers", "max-hosts", "intermediates", "authkey", "usage", "pgp-private", "pgp-name",
		"port"} {
		if fs.Lookup(name) != nil {
			continue
		}
		// Typed as in CFSSL, so that `-list ARG` does not swallow ARG
		// and `-port x` is refused as there.
		switch name {
		case "list":
			fs.Bool(name, false, "accepted for CFSSL compatibility")
		case "port", "num-workers", "max-hosts":
			fs.Int(name, map[string]int{"port": 8888, "num-workers": 10, "max-hosts": 100}[name], "accepted for CFSSL compatibility")
		case "interval", "timeout", "expiry":
			fs.Duration(name, map[string]time.Duration{"interval": 96 * time.Hour, "timeout": 5 * time.Minute, "expiry": 168 * time.Hour}[name], "accepted for CFSSL compatibility")
		default:
			fs.String(name, "", "accepted for CFSSL compatibility")
		}
	}
}

// readInput reads a file argument; "-" is stdin; "file:P" and "env:V" as in
// CFSSL's -ca/-ca-key.
func readInput(e *env, arg string) ([]byte, error) {
	switch {
	case arg == "-":
		return io.ReadAll(e.stdin)
	case strings.HasPrefix(arg, "env:"):
		v, ok := os.LookupEnv(strings.TrimPrefix(arg, "env:"))
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", strings.TrimPrefix(arg, "env:"))
		}
		return []byte(v), nil
	case strings.HasPrefix(arg, "file:"):
		arg = strings.TrimPrefix(arg, "file:")
	}
	return os.ReadFile(arg)
}

// writeResult prints CLI JSON the way CFSSL does: one line, sorted keys.
func writeResult(e *env, m map[string]string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

func printWarnings(e *env, ws []string) {
	for _, w := range ws {
		fmt.Fprintf(e.stderr, "pkid: warning: %s\n", w)
	}
}

func loadCSRJSON(e *env, path string) (*csr.Request, error) {
	data, err := readInput(e, path)
	if err != nil {
		return nil, err // it names the file
	}
	req, err := csr.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return req, nil
}

// newKeyAndCSR generates the request's key (CFSSL's default ECDSA P-256
// when none is given) and its CSR; keyPEM is the key as CFSSL writes it.
func newKeyAndCSR(req *csr.Request) (key crypto.Signer, csrPEM []byte, keyPEM string, err error) {
	if key, err = req.KeyRequest.Generate(); err != nil {
		return nil, nil, "", err
	}
	if csrPEM, err = csr.Generate(req, key); err != nil {
		return nil, nil, "", err
	}
	keyPEM, err = encodeKey(key)
	return key, csrPEM, keyPEM, err
}

func encodeKey(k crypto.Signer) (string, error) {
	b, err := csr.EncodePrivateKey(k)
	return string(b), err
}

// loadProfiles reads -config: a CFSSL JSON signing configuration (detected
// by content). Without -config the CFSSL built-in default applies.
func loadProfiles(cf *compatFlags) (*profile.Config, error) {
	if len(cf.config) == 0 {
		return profile.ParseCFSSL([]byte(`{"signing":{}}`))
	}
	if len(cf.config) > 1 {
		return nil, usagef("one -config for this command")
	}
	data, err := os.ReadFile(cf.config[0])
	if err != nil {
		return nil, err
	}
	if !profile.IsCFSSLConfig(data) {
		return nil, fmt.Errorf("%s: not a CFSSL JSON signing configuration (HCL ca profiles are used through `pkid serve` and `pkid ca`)", cf.config[0])
	}
	c, err := profile.ParseCFSSL(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cf.config[0], err)
	}
	return c, nil
}

// issuerFor picks the issuer of a signing command: a CA declared in a pkid
// HCL -config (selected by -label; its key stays in its keystore plugin and
// each certificate is recorded in its certstore), or -ca/-ca-key files.
// The returned function releases plugin processes.
//
// With -db-config (file mode only, as in CFSSL) the issuer records every
// certificate in that CFSSL certdb, and CRLs and OCSP refreshes read it.
func issuerFor(e *env, cf *compatFlags) (*ca.Issuer, func(), error) {
	if cf.ca == "" && cf.caKey == "" && len(cf.config) > 0 && !isCFSSLConfigFile(cf.config[0]) {
		if cf.dbConfig != "" {
			return nil, nil, errors.New("-db-config goes with -ca and -ca-key (CFSSL's file mode); a pkid -config declares its certstore (type \"cfssl\" reads a CFSSL certdb)")
		}
		s, err := (&configFlag{paths: cf.config}).load(e, false)
		if err != nil {
			return nil, nil, err
		}
		set, diags := authority.Build(context.Background(), s.Loaded)
		if diags.HasErrors() {
			s.Close()
			return nil, nil, printDiags(e, s.Config, diags)
		}
		iss, err := set.Get(cf.label)
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		return iss, s.Close, nil
	}
	if cf.dbConfig == "" {
		iss, err := localIssuer(e, cf, nil)
		return iss, func() {}, err
	}
	// The flags are checked before the database is opened.
	if cf.ca == "" || cf.caKey == "" {
		return nil, nil, usagef("-ca and -ca-key are required (or -config with a pkid ca block)")
	}
	db, closeDB, err := openDBConfig(cf.dbConfig, false)
	if err != nil {
		return nil, nil, err
	}
	iss, err := localIssuer(e, cf, db)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	return iss, closeDB, nil
}

func isCFSSLConfigFile(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && profile.IsCFSSLConfig(data)
}

// localIssuer builds an issuer from -ca and -ca-key files (no config
// needed). The key is used as given and never written anywhere.
func localIssuer(e *env, cf *compatFlags, store sdk.CertStore) (*ca.Issuer, error) {
	if cf.ca == "" || cf.caKey == "" {
		return nil, usagef("-ca and -ca-key are required (or -config with a pkid ca block)")
	}
	certPEM, err := readInput(e, cf.ca)
	if err != nil {
		return nil, fmt.Errorf("reading -ca: %w", err)
	}
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("-ca %s: %w", cf.ca, err)
	}
	keyPEM, err := readInput(e, cf.caKey)
	if err != nil {
		return nil, fmt.Errorf("reading -ca-key: %w", err)
	}
	key, err := csr.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("-ca-key %s: %w", cf.caKey, err)
	}
	profiles, err := loadProfiles(cf)
	if err != nil {
		return nil, err
	}
	for _, w := range profiles.Warnings {
		fmt.Fprintf(e.stderr, "pkid: warning: %s\n", w)
	}
	// A profile with ct_log_servers submits to them (docs/ct.md).
	return ca.NewIssuer(ca.IssuerConfig{Label: cf.label, Certificate: cert, Signer: key, Profiles: profiles, Store: store, SCTs: ct.NewSource(ct.Options{})})
}

func parseCertificatePEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM certificate found")
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("PEM block is %q, want CERTIFICATE", block.Type)
	}
	return x509.ParseCertificate(block.Bytes)
}

// hosts applies -hostname (which wins over the request's hosts; items
// trimmed: docs/differences-from-cfssl.md, "Hostname items are trimmed").
func hostsFor(cf *compatFlags, req *csr.Request) {
	if cf.hostname != "" {
		req.Hosts = csr.SplitHostname(cf.hostname)
	}
	if cf.cn != "" {
		req.CN = cf.cn
	}
}

func genkeyCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Generate a private key and a certificate request",
		help: `
Usage: pkid genkey [-initca] CSRJSON

  Generates a key and CSR from a CFSSL csr.json ("-" reads stdin). Prints
  {"csr","key"} (with -initca also "cert") for pkid json or cfssljson.
`,
		run: func(args []string) error {
			fs := newFlags("genkey")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return usagef("expected one CSRJSON argument")
			}
			req, err := loadCSRJSON(e, fs.Arg(0))
			if err != nil {
				return err
			}
			if cf.initca {
				return initCA(e, &cf, req, nil)
			}
			if req.CA != nil {
				return errors.New(fs.Arg(0) + ": ca section only permitted in initca")
			}
			_, csrPEM, keyPEM, err := newKeyAndCSR(req)
			if err != nil {
				return err
			}
			return writeResult(e, map[string]string{"csr": string(csrPEM), "key": keyPEM})
		},
	}
}

func initCA(e *env, cf *compatFlags, req *csr.Request, key crypto.Signer) error {
	out := map[string]string{}
	if key == nil {
		var err error
		if key, err = req.KeyRequest.Generate(); err != nil {
			return err
		}
		if out["key"], err = encodeKey(key); err != nil {
			return err
		}
	}
	cert, csrPEM, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: req, Signer: key})
	if err != nil {
		return err
	}
	printWarnings(e, cert.Warnings)
	out["cert"], out["csr"] = string(cert.PEM()), string(csrPEM)
	return writeResult(e, out)
}

func gencsrCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Generate a certificate request for an existing key",
		help: `
Usage: pkid gencsr -key KEY [-hostname H] CSRJSON
       pkid gencsr -key KEY -cert CERT [-hostname H] [-cn CN]

  Prints {"csr","key"} (key: the -key file as read, as CFSSL does). With
  -cert the request copies the certificate's subject
  and SANs (for renewing it with the same or a new key).
`,
		run: func(args []string) error {
			fs := newFlags("gencsr")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if cf.key != "" && cf.cert != "" && fs.NArg() == 0 {
				return gencsrFromCert(e, &cf)
			}
			if cf.key == "" || fs.NArg() != 1 {
				return usagef("expected -key KEY and one CSRJSON argument")
			}
			req, err := loadCSRJSON(e, fs.Arg(0))
			if err != nil {
				return err
			}
			hostsFor(&cf, req)
			keyPEM, err := readInput(e, cf.key)
			if err != nil {
				return err
			}
			key, err := csr.ParsePrivateKey(keyPEM)
			if err != nil {
				return fmt.Errorf("-key %s: %w", cf.key, err)
			}
			csrPEM, err := csr.Generate(req, key)
			if err != nil {
				return err
			}
			// CFSSL prints the key file as read next to the request.
			return writeResult(e, map[string]string{"csr": string(csrPEM), "key": string(keyPEM)})
		},
	}
}

func gencertCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Generate a key and a certificate (or a new CA)",
		help: `
Usage: pkid gencert -initca [-ca-key KEY] CSRJSON
       pkid gencert -ca CERT -ca-key KEY [-config FILE] [-profile P] [-hostname H] [-cn CN] CSRJSON
       pkid gencert -config pkid.hcl -label CA [-profile P] CSRJSON
       pkid gencert -remote HOST:PORT[,HOST:PORT] [-label CA] [-profile P] [-tls-remote-ca F] CSRJSON

  Prints {"cert","csr","key"} for pkid json or cfssljson. -config takes a
  CFSSL JSON signing configuration.
`,
		run: func(args []string) error {
			fs := newFlags("gencert")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if cf.renewca {
				return renewCA(e, &cf)
			}
			if fs.NArg() != 1 {
				return usagef("expected one CSRJSON argument")
			}
			req, err := loadCSRJSON(e, fs.Arg(0))
			if err != nil {
				return err
			}
			hostsFor(&cf, req)
			if cf.initca {
				var key crypto.Signer
				if cf.caKey != "" {
					keyPEM, err := readInput(e, cf.caKey)
					if err != nil {
						return err
					}
					if key, err = csr.ParsePrivateKey(keyPEM); err != nil {
						return fmt.Errorf("-ca-key %s: %w", cf.caKey, err)
					}
				}
				return initCA(e, &cf, req, key)
			}
			if req.CA != nil {
				return errors.New(fs.Arg(0) + ": ca section only permitted in initca")
			}
			if cf.crl != "" {
				if u, err := url.Parse(cf.crl); err != nil || !u.IsAbs() || u.Host == "" {
					return usagef("-crl %q: not an absolute URL", cf.crl)
				}
			}
			if useRemote(&cf) {
				return remoteGencert(e, fs, &cf, req)
			}
			iss, done, err := issuerFor(e, &cf)
			if err != nil {
				return err
			}
			defer done()
			_, csrPEM, keyPEM, err := newKeyAndCSR(req)
			if err != nil {
				return err
			}
			// -crl is CFSSL's crl_override: the only CRL distribution point.
			cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: csrPEM, Profile: cf.profile, CRLOverride: cf.crl})
			if err != nil {
				return err
			}
			printWarnings(e, cert.Warnings)
			if len(req.Hosts) == 0 {
				fmt.Fprintln(e.stderr, "pkid: warning: this certificate has no hosts, so it is unsuitable for web servers")
			}
			return writeResult(e, map[string]string{"cert": string(cert.PEM()), "csr": string(csrPEM), "key": keyPEM})
		},
	}
}

func signCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Sign a certificate request",
		help: `
Usage: pkid sign -ca CERT -ca-key KEY [-config FILE] [-profile P] [-hostname H] CSR [SUBJECTJSON]
       pkid sign -config pkid.hcl -label CA [-profile P] CSR
       pkid sign -remote HOST:PORT[,HOST:PORT] [-label CA] [-profile P] [-tls-remote-ca F] CSR

  CSR is a PEM file ("-" reads stdin); SUBJECTJSON optionally overrides the
  subject ({"CN": ..., "names": [...]}). Prints {"cert","csr"}.
`,
		run: cfsslErrors(func(args []string) error {
			fs := newFlags("sign")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			csrFile := cf.csr
			rest := fs.Args()
			if csrFile == "" && len(rest) > 0 {
				csrFile, rest = rest[0], rest[1:]
			}
			if csrFile == "" || len(rest) > 1 {
				return usagef("expected CSR [SUBJECTJSON]")
			}
			csrPEM, err := readInput(e, csrFile)
			if err != nil {
				return err
			}
			sreq := ca.SignRequest{CSR: csrPEM, Profile: cf.profile}
			if cf.hostname != "" {
				sreq.Hosts = csr.SplitHostname(cf.hostname)
			}
			if len(rest) == 1 {
				data, err := readInput(e, rest[0])
				if err != nil {
					return err
				}
				var s struct {
					CN           string
					Names        []csr.Name
					SerialNumber string
				}
				if err := json.Unmarshal(data, &s); err != nil {
					return fmt.Errorf("%s: invalid subject JSON: %w", rest[0], err)
				}
				sreq.Subject = &ca.Subject{CN: s.CN, Names: s.Names, SerialNumber: s.SerialNumber}
			}
			if useRemote(&cf) {
				return remoteSign(e, fs, &cf, sreq)
			}
			iss, done, err := issuerFor(e, &cf)
			if err != nil {
				return err
			}
			defer done()
			cert, err := iss.Sign(context.Background(), sreq)
			if err != nil {
				return err
			}
			printWarnings(e, cert.Warnings)
			return writeResult(e, map[string]string{"cert": string(cert.PEM()), "csr": string(csrPEM)})
		}),
	}
}

func selfsignCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Generate a self-signed certificate (testing only)",
		help: `
Usage: pkid selfsign HOSTNAME CSRJSON

  HOSTNAME (a comma list) sets the SANs. Prints {"cert","csr","key"}.
`,
		run: func(args []string) error {
			fs := newFlags("selfsign")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 2 {
				return usagef("expected HOSTNAME and CSRJSON")
			}
			req, err := loadCSRJSON(e, fs.Arg(1))
			if err != nil {
				return err
			}
			req.Hosts = csr.SplitHostname(fs.Arg(0))
			key, err := req.KeyRequest.Generate()
			if err != nil {
				return err
			}
			cert, csrPEM, err := ca.SelfSign(context.Background(), req, key, 2190*time.Hour)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stderr, "pkid: warning: a self-signed certificate is for testing only; no CA vouches for it")
			keyPEM, err := encodeKey(key)
			if err != nil {
				return err
			}
			return writeResult(e, map[string]string{"cert": string(cert.PEM()), "csr": string(csrPEM), "key": keyPEM})
		},
	}
}
