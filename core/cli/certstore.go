package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/cfsslimport"
	"github.com/pkid/pkid/core/duration"
	"text/tabwriter"
	"time"

	"github.com/pkid/pkid/sdk"
)

func certstoreCmd(e *env) *command {
	verbs := []string{"list", "get", "import-cfssl"}
	return &command{
		synopsis: "Inspect a configured certificate store",
		help: `
Usage: pkid certstore NAME COMMAND [flags] -config FILE

Commands:
  list [-issuer LABEL] [-status good|revoked] [-expiring-within 14d]
       [-limit N] [-format table|json]      list certificates
  get -serial S -aki A [-format pem|json]   show one certificate
  import-cfssl -from SOURCE                 copy a CFSSL certdb (certificates and
       OCSP responses) into this store; SOURCE is sqlite:PATH, postgres://...
       or a CFSSL db-config .json file; read only, idempotent
`,
		run: func(args []string) error {
			name, verb, rest, err := splitNameVerb(args, verbs)
			if err != nil {
				return err
			}
			var cf configFlag
			fs := newFlags("certstore " + verb)
			cf.register(fs)
			issuer := fs.String("issuer", "", "only certificates of this issuer `LABEL`")
			status := fs.String("status", "", "only `good` or revoked certificates")
			within := fs.String("expiring-within", "", "only certificates expiring within `DURATION` (e.g. 14d, 72h)")
			limit := fs.Int("limit", 0, "at most `N` certificates")
			format := fs.String("format", "", "table|json for list, pem|json for get")
			serial := fs.String("serial", "", "serial number (decimal)")
			aki := fs.String("aki", "", "authority key identifier (hex)")
			from := fs.String("from", "", "CFSSL certdb for import-cfssl")
			prog := progressFlag(fs)
			if err := parseFlagsNoArgs(fs, rest); err != nil {
				return err
			}
			f := sdk.ListFilter{IssuerLabel: *issuer, Status: *status, Limit: *limit}
			switch *status {
			case "", sdk.StatusGood, sdk.StatusRevoked:
			default:
				return usagef("-status must be good or revoked")
			}
			if *within != "" {
				d, err := duration.Parse(*within)
				if err != nil {
					return usagef("-expiring-within: %v", err)
				}
				now := time.Now()
				f.ExpiresAfter, f.ExpiresBefore = now, now.Add(d)
			}
			if verb == "get" && (*serial == "" || *aki == "") {
				return usagef("certstore get needs -serial and -aki")
			}
			if verb == "import-cfssl" && *from == "" {
				return usagef("certstore import-cfssl needs -from SOURCE")
			}
			s, err := cf.load(e, false)
			if err != nil {
				return err
			}
			defer s.Close()
			cs, ok := s.CertStores[name]
			if !ok {
				return fmt.Errorf("no certstore named %q in the configuration", name)
			}
			ctx := context.Background()
			if verb == "import-cfssl" {
				src, err := cfsslimport.OpenSource(ctx, s.host, *from)
				if err != nil {
					return fmt.Errorf("certstore %s: import: %w", name, err)
				}
				defer src.Close()
				pr := newProgress(e.stderr, progressOn(e, *prog), "certstore import-cfssl", "certificates read", 0)
				st, err := cfsslimport.Import(ctx, countingSource{src, pr}, cs, e.stderr, cfsslimport.Options{IssuerLabel: s.caLabelByAKI(e)})
				pr.done(fmt.Sprintf("%d imported, %d skipped", st.Certificates, st.Skipped))
				if err != nil {
					return fmt.Errorf("certstore %s: %w", name, err)
				}
				fmt.Fprintf(e.stdout, "Imported into %s: %d certificates (%d revoked), %d OCSP responses; %d rows skipped.\n",
					name, st.Certificates, st.Revoked, st.OCSP, st.Skipped)
				return nil
			}
			if verb == "get" {
				rec, err := cs.Get(ctx, *serial, sdk.NormalizeAKI(*aki))
				if err != nil {
					return fmt.Errorf("certstore %s: %w", name, err)
				}
				if *format == "json" {
					return writeJSON(e, recordJSON(rec))
				}
				return pem.Encode(e.stdout, &pem.Block{Type: "CERTIFICATE", Bytes: rec.DER})
			}
			switch *format {
			case "json":
				var out []any
				err = cs.List(ctx, f, func(r *sdk.CertRecord) error { out = append(out, recordJSON(r)); return nil })
				if err != nil {
					return fmt.Errorf("certstore %s: %w", name, err)
				}
				if out == nil {
					out = []any{}
				}
				return writeJSON(e, out)
			case "", "table":
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SERIAL\tISSUER\tSUBJECT\tNOT AFTER\tSTATUS")
				n := 0
				err = cs.List(ctx, f, func(r *sdk.CertRecord) error {
					n++
					_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Serial, r.IssuerLabel, r.Subject, r.NotAfter.UTC().Format(time.RFC3339), r.Status)
					return err
				})
				if err != nil {
					return fmt.Errorf("certstore %s: %w", name, err)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "%s\n", plural(n, "certificate"))
				return nil
			}
			return usagef("-format must be table or json")
		},
	}
}

// countingSource counts the records an import reads, for its progress.
type countingSource struct {
	sdk.CertStore
	p *progress
}

func (c countingSource) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	return c.CertStore.List(ctx, f, func(r *sdk.CertRecord) error {
		c.p.add(1)
		return fn(r)
	})
}

// caLabelByAKI maps a subject key identifier to the label of the
// configured CA with that key, so imported certificates of a configured CA
// carry its label (and appear on its CRL). Without usable CAs it warns and
// returns nil: records keep CFSSL's ca_label.
func (s *session) caLabelByAKI(e *env) func(string) string {
	if len(s.Config.CAs) == 0 {
		return nil
	}
	set, diags := authority.Build(context.Background(), s.Loaded)
	if diags.HasErrors() {
		fmt.Fprintf(e.stderr, "pkid: warning: the configured CAs could not be loaded (%s); imported records keep CFSSL's ca_label\n", diags.Errs()[0])
		return nil
	}
	return func(aki string) string {
		if iss := set.ByAKI(aki); iss != nil {
			return iss.Label()
		}
		return ""
	}
}

type recordOut struct {
	Serial           string          `json:"serial"`
	AKI              string          `json:"aki"`
	IssuerLabel      string          `json:"issuer_label"`
	Subject          string          `json:"subject"`
	SANs             []string        `json:"sans"`
	NotBefore        time.Time       `json:"not_before"`
	NotAfter         time.Time       `json:"not_after"`
	Status           string          `json:"status"`
	RevocationReason int             `json:"revocation_reason,omitempty"`
	RevokedAt        *time.Time      `json:"revoked_at,omitempty"`
	Profile          string          `json:"profile,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	PEM              string          `json:"pem"`
}

func recordJSON(r *sdk.CertRecord) recordOut {
	o := recordOut{
		Serial: r.Serial, AKI: r.AKI, IssuerLabel: r.IssuerLabel, Subject: r.Subject, SANs: r.SANs,
		NotBefore: r.NotBefore.UTC(), NotAfter: r.NotAfter.UTC(), Status: r.Status, Profile: r.Profile,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.DER})),
	}
	if len(r.Metadata) > 0 && json.Valid(r.Metadata) {
		o.Metadata = r.Metadata
	}
	if r.Status == sdk.StatusRevoked {
		t := r.RevokedAt.UTC()
		o.RevocationReason, o.RevokedAt = r.RevocationReason, &t
	}
	if o.SANs == nil {
		o.SANs = []string{}
	}
	return o
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
