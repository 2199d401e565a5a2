package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
)

// ctSubmitTimeout bounds a whole `pkid ct submit`.
const ctSubmitTimeout = 2 * time.Minute

func ctSubmitCmd(e *env) *command {
	return &command{
		synopsis: "Submit an issued certificate chain to CT logs",
		help: `
Usage: pkid ct submit -cert FILE [-config pkid.hcl] [-label CA] [-profile NAME]

  Submits an existing certificate (add-chain, as CFSSL does for final
  certificates) to the logs of a profile's ct block and prints the
  verified SCTs and each log's result as JSON. FILE holds the certificate
  then its issuer and the issuer's chain (PEM). The policy comes from
  profile NAME (default "default") of CA -label (default: the only or
  first ca block) in the configuration (-config or $PKID_CONFIG).

  Exits non-zero when the policy is not met, naming each log that failed
  and why.
`,
		run: func(args []string) error {
			fs := newFlags("ct submit")
			var certFile, label, profileName string
			var cfg configFlag
			fs.StringVar(&certFile, "cert", "", "certificate chain `FILE` (PEM: certificate, issuer, ...)")
			fs.StringVar(&label, "label", "", "CA whose profile gives the policy")
			fs.StringVar(&profileName, "profile", "default", "profile whose ct block gives the policy")
			cfg.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if certFile == "" {
				return usagef("-cert is required")
			}
			data, err := readInput(e, certFile)
			if err != nil {
				return err
			}
			chain, err := pemChain(data)
			if err != nil {
				return fmt.Errorf("-cert %s: %w", certFile, err)
			}
			if len(chain) < 2 {
				return fmt.Errorf("-cert %s: holds %d certificate; the issuer must follow the certificate", certFile, len(chain))
			}
			pol, err := ctPolicyFromConfig(e, &cfg, label, profileName)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), ctSubmitTimeout)
			defer cancel()
			p, err := ct.Resolve(ctx, pol, http.DefaultClient)
			if err != nil {
				return err
			}
			results, serr := ct.NewSubmitter(ct.Options{}).Submit(ctx, p, ct.Request{Chain: chain})
			out := struct {
				SCTs    []sctJSON    `json:"scts"`
				Results []resultJSON `json:"results"`
			}{SCTs: []sctJSON{}, Results: []resultJSON{}}
			for _, r := range results {
				rj := resultJSON{Log: r.Log.URL, Operator: r.Log.Operator, Attempts: r.Attempts, Result: "ok"}
				if r.Err != nil {
					rj.Result = r.Err.Error()
				} else {
					out.SCTs = append(out.SCTs, sctJSON{Log: r.Log.URL, LogID: hex.EncodeToString(r.SCT.LogID.KeyID[:]), Timestamp: time.UnixMilli(int64(r.SCT.Timestamp)).UTC(), SCT: r.Raw})
				}
				out.Results = append(out.Results, rj)
			}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", b)
			return serr
		},
	}
}

type sctJSON struct {
	Log       string    `json:"log_url"`
	LogID     string    `json:"log_id"`
	Timestamp time.Time `json:"timestamp"`
	SCT       []byte    `json:"sct"`
}

type resultJSON struct {
	Log      string `json:"log_url"`
	Operator string `json:"operator"`
	Attempts int    `json:"attempts"`
	Result   string `json:"result"`
}

// pemChain reads every CERTIFICATE block of data (at most 10).
func pemChain(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		if out = append(out, b.Bytes); len(out) > 10 {
			return nil, errors.New("more than 10 certificates")
		}
	}
	if len(bytes.TrimSpace(data)) > 0 || len(out) == 0 {
		return nil, errors.New("not a PEM certificate chain")
	}
	return out, nil
}

// ctPolicyFromConfig finds the ct block of profile name in CA label (or
// the first ca block) of the configuration.
func ctPolicyFromConfig(e *env, cf *configFlag, label, name string) (*config.CTPolicy, error) {
	paths, err := cf.resolve()
	if err != nil {
		return nil, err
	}
	cfg, diags := config.Load(paths...)
	if diags.HasErrors() {
		return nil, printDiags(e, cfg, diags)
	}
	for _, c := range cfg.CAs {
		if label != "" && c.Name != label {
			continue
		}
		profiles, diags := profile.DecodeHCL(c.Profiles)
		if diags.HasErrors() {
			return nil, printDiags(e, cfg, diags)
		}
		p := profiles.Default
		if name != "default" {
			p = profiles.Profiles[name]
		}
		if p == nil {
			return nil, fmt.Errorf("ca %q has no profile %q", c.Name, name)
		}
		if p.CT == nil {
			return nil, fmt.Errorf("profile %q of ca %q has no ct block with logs", name, c.Name)
		}
		return p.CT, nil
	}
	if label != "" {
		return nil, fmt.Errorf("no ca %q in the configuration", label)
	}
	return nil, errors.New("the configuration has no ca block")
}

// ctLogsFromConfig collects the logs of every ct block of the
// configuration (for certinfo's SCT verification).
func ctLogsFromConfig(ctx context.Context, e *env, cf *configFlag) ([]*ct.Log, error) {
	paths, err := cf.resolve()
	if err != nil {
		return nil, err
	}
	cfg, diags := config.Load(paths...)
	if diags.HasErrors() {
		return nil, printDiags(e, cfg, diags)
	}
	seen := map[[32]byte]bool{}
	var logs []*ct.Log
	for _, c := range cfg.CAs {
		profiles, diags := profile.DecodeHCL(c.Profiles)
		if diags.HasErrors() {
			return nil, printDiags(e, cfg, diags)
		}
		all := []*profile.Profile{profiles.Default}
		names := make([]string, 0, len(profiles.Profiles))
		for n := range profiles.Profiles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			all = append(all, profiles.Profiles[n])
		}
		for _, p := range all {
			if p == nil || p.CT == nil {
				continue
			}
			pol, err := ct.Resolve(ctx, p.CT, http.DefaultClient)
			if err != nil {
				return nil, err
			}
			for _, l := range pol.Logs {
				if !seen[l.ID] {
					seen[l.ID] = true
					logs = append(logs, l)
				}
			}
		}
	}
	return logs, nil
}

// sctReport is certinfo's view of one embedded SCT.
type sctReport struct {
	LogID     string    `json:"log_id"`
	Log       string    `json:"log_url,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	// Result is "verified", or why not.
	Result string `json:"result"`
}

// embeddedSCTReport verifies the SCTs embedded in c against issuer and
// logs; without an issuer or logs it says so per SCT.
func embeddedSCTReport(c, issuer *x509.Certificate, logs []*ct.Log) ([]sctReport, error) {
	scts, err := ct.EmbeddedSCTs(c)
	if err != nil || len(scts) == 0 {
		return nil, err
	}
	var out []sctReport
	if issuer == nil {
		for _, s := range scts {
			out = append(out, sctReport{LogID: hex.EncodeToString(s.LogID.KeyID[:]), Timestamp: time.UnixMilli(int64(s.Timestamp)).UTC(), Result: "not verified: give the issuer with -ca"})
		}
		return out, nil
	}
	vs, err := ct.VerifyEmbedded(c, issuer, logs)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		r := sctReport{LogID: hex.EncodeToString(v.LogID[:]), Timestamp: v.Timestamp, Result: "verified"}
		if v.Log != nil {
			r.Log = v.Log.URL
		}
		switch {
		case v.Err != nil && v.Log == nil:
			r.Result = "not verified: unknown log (declare it in a ct block of -config)"
		case v.Err != nil:
			r.Result = "invalid: " + v.Err.Error()
		}
		out = append(out, r)
	}
	return out, nil
}
