package cli

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/duration"
	"github.com/pkid/pkid/sdk"
)

// ocspHashNames are the CertID hashes -issuer-hash accepts.
var ocspHashNames = map[string]crypto.Hash{
	"SHA1": crypto.SHA1, "SHA256": crypto.SHA256, "SHA384": crypto.SHA384, "SHA512": crypto.SHA512,
}

func ocspsignCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Sign an OCSP response for a certificate",
		help: `
Usage: pkid ocspsign -config pkid.hcl [-label CA] -cert FILE [-status good]
                     [-reason 0] [-revoked-at now|YYYY-MM-DD] [-interval 96h]
       pkid ocspsign -ca CA.pem -responder R.pem -responder-key R-key.pem -cert FILE ...

  Prints {"ocspResponse":"<base64 DER>"} for the certificate FILE with the
  given status (good, revoked or unknown), signed by the CA's OCSP
  responder (its delegated responder when configured, else the CA key).
  -reason is an RFC 5280 reason name or number (revoked only);
  -revoked-at is now or a date; -interval is nextUpdate - thisUpdate;
  -issuer-hash picks the CertID hash (SHA1, SHA256, SHA384, SHA512).

  File mode (CFSSL's shape) signs with -responder-key: either the CA key
  itself (-responder is the CA certificate) or a delegated responder
  certificate issued by -ca; -ca-key may be given instead of -responder.
`,
		run: cfsslErrors(func(args []string) error {
			fs := newFlags("ocspsign")
			status := fs.String("status", "good", "certificate status: good, revoked or unknown")
			reasonFlag := fs.String("reason", "0", "revocation reason: RFC 5280 name or number")
			revokedAt := fs.String("revoked-at", "now", "revocation time: now or YYYY-MM-DD")
			interval := fs.String("interval", "96h", "response validity (nextUpdate - thisUpdate)")
			hashName := fs.String("issuer-hash", "SHA1", "CertID hash: SHA1, SHA256, SHA384 or SHA512")
			responder := fs.String("responder", "", "responder certificate (file mode)")
			responderKey := fs.String("responder-key", "", "responder private key (file mode)")
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if cf.cert == "" {
				return errors.New("-cert FILE is required")
			}
			validity, err := duration.Parse(*interval)
			if err != nil || validity <= 0 {
				return fmt.Errorf("-interval %q: want a duration such as 96h", *interval)
			}
			hash, ok := ocspHashNames[strings.ToUpper(*hashName)]
			if !ok {
				return fmt.Errorf("-issuer-hash %q: want SHA1, SHA256, SHA384 or SHA512", *hashName)
			}
			req := ca.OCSPRequest{Status: *status, Hash: hash, Validity: validity}
			switch *status {
			case sdk.StatusGood, ca.StatusUnknown:
			case sdk.StatusRevoked:
				reason, ok := sdk.ParseReason(*reasonFlag)
				if !ok {
					return fmt.Errorf("invalid reason %q: want an RFC 5280 reason name or a number 0-6 or 8-10", *reasonFlag)
				}
				at := time.Now().UTC()
				if s := strings.TrimSpace(*revokedAt); s != "" && !strings.EqualFold(s, "now") {
					if at, err = time.Parse("2006-01-02", s); err != nil {
						return fmt.Errorf("-revoked-at %q: want now or YYYY-MM-DD", *revokedAt)
					}
				}
				req.Reason, req.RevokedAt = reason, at
			default:
				return coded(codeInvalidStatus, fmt.Errorf("-status %q: want good, revoked or unknown", *status))
			}
			certPEM, err := readInput(e, cf.cert)
			if err != nil {
				return fmt.Errorf("reading -cert: %w", err)
			}
			if req.Certificate, err = parseCertificatePEM(certPEM); err != nil {
				return coded(codeCertDecode, fmt.Errorf("-cert %s: %w", cf.cert, err))
			}
			var iss *ca.Issuer
			if cf.ca != "" && cf.caKey == "" {
				iss, err = responderIssuer(e, &cf, *responder, *responderKey)
			} else {
				var done func()
				iss, done, err = issuerFor(e, &cf)
				if err == nil {
					defer done()
				}
			}
			if err != nil {
				return err
			}
			resp, err := iss.SignOCSP(context.Background(), req)
			if err != nil {
				return err
			}
			return writeResult(e, map[string]string{"ocspResponse": base64.StdEncoding.EncodeToString(resp.DER)})
		}),
	}
}

// caKeyUnavailable stands in for the CA key in file mode with a delegated
// responder: it has the CA's public key (ca.NewIssuer checks it) and
// refuses to sign, since responses are signed by the responder.
type caKeyUnavailable struct{ pub crypto.PublicKey }

func (k caKeyUnavailable) Public() crypto.PublicKey { return k.pub }
func (k caKeyUnavailable) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("the CA key is not available in file mode (only -responder-key signs)")
}

// responderIssuer builds an OCSP-only issuer from CFSSL's file flags: -ca
// and a responder certificate/key that is either the CA itself or a
// delegated responder issued by it.
func responderIssuer(e *env, cf *compatFlags, responder, responderKey string) (*ca.Issuer, error) {
	if responder == "" || responderKey == "" {
		return nil, errors.New("file mode needs -ca, -responder and -responder-key (or -ca-key)")
	}
	load := func(flagName, path string) ([]byte, error) {
		b, err := readInput(e, path)
		if err != nil {
			return nil, fmt.Errorf("reading -%s: %w", flagName, err)
		}
		return b, nil
	}
	b, err := load("ca", cf.ca)
	if err != nil {
		return nil, err
	}
	caCert, err := parseCertificatePEM(b)
	if err != nil {
		return nil, fmt.Errorf("-ca %s: %w", cf.ca, err)
	}
	if b, err = load("responder", responder); err != nil {
		return nil, err
	}
	rCert, err := parseCertificatePEM(b)
	if err != nil {
		return nil, fmt.Errorf("-responder %s: %w", responder, err)
	}
	if b, err = load("responder-key", responderKey); err != nil {
		return nil, err
	}
	rKey, err := csr.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("-responder-key %s: %w", responderKey, err)
	}
	profiles, err := profile.ParseCFSSL([]byte(`{"signing":{}}`))
	if err != nil {
		return nil, err
	}
	cfg := ca.IssuerConfig{Label: cf.label, Certificate: caCert, Profiles: profiles}
	if rCert.Equal(caCert) {
		cfg.Signer = rKey // the CA signs its own responses
	} else {
		cfg.Signer = caKeyUnavailable{pub: caCert.PublicKey}
		cfg.OCSPResponder = &ca.OCSPResponder{Certificate: rCert, Signer: rKey}
	}
	return ca.NewIssuer(cfg)
}

func ocsprefreshCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Pre-sign OCSP responses into the certificate store",
		help: `
Usage: pkid ocsprefresh -config pkid.hcl [-label CA] [-interval 96h] [-within DURATION]
       pkid ocsprefresh -db-config DBCONFIG -ca CERT -responder CERT -responder-key KEY
                        [-label CA] [-interval 96h]

  Signs and stores an OCSP response for each unexpired certificate of the
  CA (every CA with a certstore when -label is not given) whose stored
  response is missing or expires within -within (default: half of
  -interval). Prints nothing on stdout; one line per CA on stderr:
  "LABEL: checked N, signed M, fresh K", and progress on a terminal or
  with -progress (at most two lines a second).

  With -db-config it signs, as cfssl ocsprefresh does, a response for every
  unexpired certificate of the -ca key in CFSSL's certdb (of the -label
  only, when given), fresh or not, so revocations made by cfssl revoke are
  picked up (docs/cfssl-certdb.md).
`,
		run: func(args []string) error {
			fs := newFlags("ocsprefresh")
			interval := fs.String("interval", "96h", "response validity (nextUpdate - thisUpdate)")
			within := fs.String("within", "", "re-sign responses expiring within this duration (default half -interval)")
			prog := progressFlag(fs)
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			req := ca.RefreshRequest{}
			var err error
			if req.Validity, err = duration.Parse(*interval); err != nil || req.Validity <= 0 {
				return fmt.Errorf("-interval %q: want a duration such as 96h", *interval)
			}
			if *within != "" {
				if req.Within, err = duration.Parse(*within); err != nil {
					return fmt.Errorf("-within %q: want a duration such as 48h", *within)
				}
			}
			if cf.dbConfig != "" {
				return ocsprefreshDB(e, fs, &cf, req, progressOn(e, *prog))
			}
			s, err := loadCASession(e, &cf)
			if err != nil {
				return err
			}
			defer s.Close()
			labels, err := s.storeLabels(cf.label)
			if err != nil {
				return err
			}
			var failed []string
			for _, l := range labels {
				iss, store, err := s.issuerStore(l)
				if err == nil {
					r := req
					r.Store = store
					pr := newProgress(e.stderr, progressOn(e, *prog), "ocsprefresh "+l, "certificates checked", 0)
					r.Progress = func(p ca.RefreshResult) { pr.set(int64(p.Checked)) }
					var res ca.RefreshResult
					res, err = iss.RefreshOCSP(context.Background(), r)
					pr.done(fmt.Sprintf("%d signed", res.Signed))
					line := fmt.Sprintf("%s: checked %d, signed %d, fresh %d", l, res.Checked, res.Signed, res.Fresh)
					if res.Skipped > 0 {
						line += fmt.Sprintf(", skipped %d of other keys", res.Skipped)
					}
					fmt.Fprintln(e.stderr, line)
				}
				if err != nil {
					fmt.Fprintf(e.stderr, "pkid: %s: %v\n", l, err)
					failed = append(failed, l)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("OCSP refresh failed for %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
}

// ocsprefreshDB re-signs the responses of CFSSL's certdb from files.
func ocsprefreshDB(e *env, fs *flag.FlagSet, cf *compatFlags, req ca.RefreshRequest, showProgress bool) error {
	if len(cf.config) > 0 {
		return errors.New("-db-config and -config exclude each other: a pkid -config declares its certstore")
	}
	if cf.ca == "" {
		return errors.New("-db-config needs -ca, -responder and -responder-key")
	}
	iss, err := responderIssuer(e, cf, fs.Lookup("responder").Value.String(), fs.Lookup("responder-key").Value.String())
	if err != nil {
		return err
	}
	store, done, err := openDBConfig(cf.dbConfig, false)
	if err != nil {
		return err
	}
	defer done()
	req.Store = store
	// CFSSL re-signs every response: a status changed behind pkid's back
	// (cfssl revoke) must not keep a fresh "good" response.
	req.Within = req.Validity + time.Hour
	pr := newProgress(e.stderr, showProgress, "ocsprefresh db-config", "certificates checked", 0)
	req.Progress = func(p ca.RefreshResult) { pr.set(int64(p.Checked)) }
	res, err := iss.RefreshOCSP(context.Background(), req)
	pr.done(fmt.Sprintf("%d signed", res.Signed))
	line := fmt.Sprintf("db-config: checked %d, signed %d, fresh %d", res.Checked, res.Signed, res.Fresh)
	if res.Skipped > 0 {
		line += fmt.Sprintf(", skipped %d of other keys", res.Skipped)
	}
	fmt.Fprintln(e.stderr, line)
	return err
}

// storeLabels is label when given (it must have a certstore), else every
// CA with a certstore.
func (s *caSession) storeLabels(label string) ([]string, error) {
	if label != "" {
		if _, _, err := s.issuerStore(label); err != nil {
			return nil, err
		}
		return []string{label}, nil
	}
	var out []string
	for _, l := range s.set.Labels() {
		if s.storeOf(l) != nil {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no configured CA has a certstore")
	}
	return out, nil
}

func ocspdumpCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Print the stored OCSP responses",
		help: `
Usage: pkid ocspdump -config pkid.hcl [-label CA]
       pkid ocspdump -db-config DBCONFIG [-label CA]

  Prints the stored OCSP response of each unexpired certificate of the CA
  (every CA with a certstore when -label is not given) as base64 DER, one
  per line (CFSSL's shape, the input of a responses file). Certificates
  without a stored response are skipped; pkid ocsprefresh signs them.
  With -db-config it prints the unexpired responses of CFSSL's certdb
  (docs/cfssl-certdb.md).
`,
		run: func(args []string) error {
			fs := newFlags("ocspdump")
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if cf.dbConfig != "" {
				return ocspdumpDB(e, &cf)
			}
			s, err := loadCASession(e, &cf)
			if err != nil {
				return err
			}
			defer s.Close()
			labels, err := s.storeLabels(cf.label)
			if err != nil {
				return err
			}
			ctx := context.Background()
			for _, l := range labels {
				store := s.storeOf(l)
				// The listing only collects keys: a store may not accept
				// other calls inside List (SQLite), so memory is linear in
				// the number of unexpired certificates.
				type key struct{ serial, aki string }
				var keys []key
				err := store.List(ctx, sdk.ListFilter{IssuerLabel: l, ExpiresAfter: time.Now()}, func(r *sdk.CertRecord) error {
					keys = append(keys, key{r.Serial, r.AKI})
					return nil
				})
				if err != nil {
					return fmt.Errorf("%s: listing certificates: %w", l, err)
				}
				for _, k := range keys {
					rec, err := store.GetOCSP(ctx, k.serial, k.aki)
					if errors.Is(err, sdk.ErrNotFound) {
						continue
					}
					if err != nil {
						return fmt.Errorf("%s: serial %s: %w", l, k.serial, err)
					}
					if _, err := fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(rec.Response)); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

// ocspdumpDB prints the unexpired responses of CFSSL's certdb (those of
// unexpired certificates: a response is found through its certificate).
func ocspdumpDB(e *env, cf *compatFlags) error {
	if len(cf.config) > 0 {
		return errors.New("-db-config and -config exclude each other: a pkid -config declares its certstore")
	}
	store, done, err := openDBConfig(cf.dbConfig, true)
	if err != nil {
		return err
	}
	defer done()
	ctx := context.Background()
	now := time.Now()
	type key struct{ serial, aki string }
	var keys []key
	err = store.List(ctx, sdk.ListFilter{IssuerLabel: cf.label, ExpiresAfter: now}, func(r *sdk.CertRecord) error {
		keys = append(keys, key{r.Serial, r.AKI})
		return nil
	})
	if err != nil {
		return fmt.Errorf("-db-config: listing certificates: %w", err)
	}
	for _, k := range keys {
		rec, err := store.GetOCSP(ctx, k.serial, k.aki)
		if errors.Is(err, sdk.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("-db-config: serial %s: %w", k.serial, err)
		}
		if !rec.NextUpdate.After(now) {
			continue
		}
		if _, err := fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(rec.Response)); err != nil {
			return err
		}
	}
	return nil
}
