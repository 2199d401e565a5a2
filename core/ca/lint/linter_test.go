package lint

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pkid/pkid/core/ca/profile"
)

type profileLint = profile.Lint

func TestLintCases(t *testing.T) {
	ca := newRoot(t, "p256")
	leafKey := testKey(t, "p256")
	pub := leafKey.Public()

	good := func() *x509.Certificate { return leafTemplate(t, pub) }
	der := func(mod func(*x509.Certificate)) []byte {
		tmpl := good()
		if mod != nil {
			mod(tmpl)
		}
		return preIssue(t, tmpl, ca, pub)
	}

	tests := []struct {
		name    string
		cfg     profileLint
		der     []byte
		refuse  []string // lints the refusal must name; nil: no refusal
		warn    []string // lints Warnings must contain
		absent  []string // lints that must not be found
		contain string   // substring of the refusal message
	}{
		{
			name:   "good P-256 leaf, default sources",
			der:    der(nil),
			absent: []string{"e_ecdsa_allowed_ku"},
		},
		{
			name:    "keyEncipherment on ECDSA",
			der:     der(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageKeyEncipherment }),
			refuse:  []string{"e_ecdsa_allowed_ku"},
			contain: "lint refused issuance: e_ecdsa_allowed_ku (error",
		},
		{
			name:   "keyEncipherment on ECDSA, lint ignored",
			cfg:    profileLint{IgnoredLints: []string{"e_ecdsa_allowed_ku"}},
			der:    der(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageKeyEncipherment }),
			absent: []string{"e_ecdsa_allowed_ku"},
		},
		{
			name:   "keyEncipherment on ECDSA, RFC8813 source ignored",
			cfg:    profileLint{IgnoredSources: []string{"rfc8813"}},
			der:    der(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageKeyEncipherment }),
			absent: []string{"e_ecdsa_allowed_ku"},
		},
		{
			name: "keyEncipherment on ECDSA, level fatal",
			cfg:  profileLint{Level: "fatal"},
			der:  der(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageKeyEncipherment }),
			warn: []string{"e_ecdsa_allowed_ku"},
		},
		{
			name:   "keyEncipherment on ECDSA, disabled",
			cfg:    profileLint{Disabled: true},
			der:    der(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageKeyEncipherment }),
			absent: []string{"e_ecdsa_allowed_ku"},
		},
		{
			name:   "negative serial",
			der:    withSerial(t, der(nil), big.NewInt(-4711)),
			refuse: []string{"e_serial_number_not_positive"},
		},
		{
			name: "empty subject without SANs",
			der: der(func(c *x509.Certificate) {
				c.Subject = pkix.Name{}
				c.DNSNames = nil
			}),
			refuse: []string{"e_subject_empty_without_san"},
		},
		{
			name: "missing SKI is a warning at level error",
			der:  der(func(c *x509.Certificate) { c.SubjectKeyId = nil }),
			warn: []string{"w_ext_subject_key_identifier_missing_sub_cert"},
		},
		{
			name:    "missing SKI refused at level warn",
			cfg:     profileLint{Level: "warn"},
			der:     der(func(c *x509.Certificate) { c.SubjectKeyId = nil }),
			refuse:  []string{"w_ext_subject_key_identifier_missing_sub_cert"},
			contain: "w_ext_subject_key_identifier_missing_sub_cert (warn",
		},
		{
			name: "5-year leaf passes the default sources",
			der: der(func(c *x509.Certificate) {
				c.NotAfter = c.NotBefore.AddDate(5, 0, 0)
			}),
		},
		{
			name: "5-year leaf refused by CABF_BR",
			cfg:  profileLint{Sources: []string{"CABF_BR"}},
			der: der(func(c *x509.Certificate) {
				c.NotAfter = c.NotBefore.AddDate(5, 0, 0)
			}),
			refuse: []string{"e_sub_cert_valid_time_longer_than_39_months"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, tc.cfg)
			r, err := l.Lint(tc.der)
			if err != nil {
				t.Fatal(err)
			}
			found := names(r.Findings)
			t.Logf("findings: %v", r.Findings)
			for _, n := range tc.absent {
				if slices.Contains(found, n) {
					t.Errorf("finding %s present, want absent", n)
				}
			}
			err = r.Err()
			if tc.refuse == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				if !errors.Is(err, ErrLintRefused) {
					t.Fatalf("Err() = %v, want ErrLintRefused", err)
				}
				var re *RefusalError
				if !errors.As(err, &re) {
					t.Fatalf("Err() = %T, want *RefusalError", err)
				}
				for _, n := range tc.refuse {
					if !slices.Contains(names(re.Findings), n) || !strings.Contains(err.Error(), n) {
						t.Errorf("refusal %q does not name %s", err, n)
					}
				}
				if tc.contain != "" && !strings.Contains(err.Error(), tc.contain) {
					t.Errorf("refusal %q does not contain %q", err, tc.contain)
				}
			}
			w := names(r.Warnings())
			for _, n := range tc.warn {
				if !slices.Contains(w, n) {
					t.Errorf("Warnings() = %v, want %s", w, n)
				}
			}
			if !slices.IsSortedFunc(r.Findings, func(a, b Finding) int { return strings.Compare(a.Name, b.Name) }) {
				t.Errorf("findings not sorted: %v", found)
			}
		})
	}
}

// TestCABFOnlyFindsBR checks that a BR validity lint is absent from the
// default set and present with CABF_BR.
func TestCABFOnlyFindsBR(t *testing.T) {
	ca := newRoot(t, "p256")
	pub := testKey(t, "p256").Public()
	tmpl := leafTemplate(t, pub)
	tmpl.NotAfter = tmpl.NotBefore.AddDate(5, 0, 0)
	der := preIssue(t, tmpl, ca, pub)
	isValidity := func(f Finding) bool { return strings.Contains(f.Name, "valid_time_longer") }

	def, err := mustNew(t, profileLint{}).Lint(der)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(def.Findings, isValidity) {
		t.Errorf("default sources found a validity lint: %v", def.Findings)
	}
	br, err := mustNew(t, profileLint{Sources: []string{"CABF_BR"}}).Lint(der)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(br.Findings, isValidity) {
		t.Errorf("CABF_BR found no validity lint: %v", br.Findings)
	}
	for _, f := range br.Findings {
		if f.Source != "CABF_BR" {
			t.Errorf("finding %v from source %s", f, f.Source)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  profileLint
		want []string
	}{
		{"unknown source", profileLint{Sources: []string{"RFC5280", "CABF"}},
			[]string{`unknown lint source "CABF"`, "CABF_BR", "RFC5280", "Community"}},
		{"unknown ignored source", profileLint{IgnoredSources: []string{"nope"}},
			[]string{"ignored sources: unknown lint source \"nope\"", "CABF_BR"}},
		{"unknown lint", profileLint{IgnoredLints: []string{"w_ecdsa_allowed_ku"}},
			[]string{`unknown lint name "w_ecdsa_allowed_ku"`, "e_ecdsa_allowed_ku"}},
		{"unknown lint, no suggestion", profileLint{IgnoredLints: []string{"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}},
			[]string{"unknown lint name", "certificate lints known"}},
		{"unknown level", profileLint{Level: "notice"},
			[]string{`unknown lint level "notice"`, "info, warn, error, fatal"}},
		{"disabled still validated", profileLint{Disabled: true, Sources: []string{"x"}},
			[]string{`unknown lint source "x"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLevels(t *testing.T) {
	for in, want := range map[string]string{"": "error", "INFO": "info", "warn": "warn", "Error": "error", "fatal": "fatal"} {
		l := mustNew(t, profileLint{Level: in})
		if l.Level() != want {
			t.Errorf("Level(%q) = %q, want %q", in, l.Level(), want)
		}
	}
	r := &Report{Level: "error", Findings: []Finding{
		{Name: "e_a", Status: "error", Details: "bad"},
		{Name: "n_b", Status: "info"},
		{Name: "w_c", Status: "warn"},
	}}
	if err := r.Refusal("fatal"); err != nil {
		t.Errorf("Refusal(fatal) = %v", err)
	}
	if got, want := r.Err().Error(), "lint refused issuance: e_a (error: bad)"; got != want {
		t.Errorf("Err() = %q, want %q", got, want)
	}
	if got, want := r.Refusal("info").Error(), "lint refused issuance: e_a (error: bad), n_b (info), w_c (warn)"; got != want {
		t.Errorf("Refusal(info) = %q, want %q", got, want)
	}
	if w := names(r.Warnings()); !slices.Equal(w, []string{"w_c"}) {
		t.Errorf("Warnings() = %v", w)
	}
	if err := r.Refusal("bogus"); err == nil || errors.Is(err, ErrLintRefused) {
		t.Errorf("Refusal(bogus) = %v, want a level error", err)
	}
}

func TestRegistryCache(t *testing.T) {
	a := mustNew(t, profileLint{})
	b := mustNew(t, profileLint{Sources: []string{"community", "RFC6962", "RFC3279", "RFC8813", "RFC5891", "RFC5480", "RFC5280", "RFC5280"}, Level: "warn"})
	if a.registry != b.registry {
		t.Error("equivalent configurations built two registries")
	}
	c := mustNew(t, profileLint{IgnoredLints: []string{"e_ecdsa_allowed_ku"}})
	if a.registry == c.registry {
		t.Error("different configurations share a registry")
	}
	if c.registry.CertificateLints().ByName("e_ecdsa_allowed_ku") != nil {
		t.Error("ignored lint still registered")
	}
	if a.registry.CertificateLints().ByName("e_sub_cert_valid_time_longer_than_39_months") != nil {
		t.Error("default set holds a CABF_BR lint")
	}
}

func TestLintBadDER(t *testing.T) {
	if _, err := mustNew(t, profileLint{}).Lint([]byte("junk")); err == nil ||
		!strings.HasPrefix(err.Error(), "parse certificate for lint: ") {
		t.Errorf("Lint(junk) = %v", err)
	}
}

func TestSources(t *testing.T) {
	s := Sources()
	for _, want := range append([]string{"CABF_BR"}, DefaultSources...) {
		if !slices.Contains(s, want) {
			t.Errorf("Sources() = %v, missing %s", s, want)
		}
	}
}

// TestConcurrent runs New, PreIssuance and Lint from several goroutines
// (meaningful under -race).
func TestConcurrent(t *testing.T) {
	ca := newRoot(t, "p256")
	pub := testKey(t, "p256").Public()
	tmpl := leafTemplate(t, pub)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			cfg := profileLint{IgnoredLints: []string{"e_ecdsa_allowed_ku"}}
			if i%2 == 0 {
				cfg = profileLint{}
			}
			l, err := New(cfg)
			if err != nil {
				t.Error(err)
				return
			}
			der, err := PreIssuance(tmpl, ca.cert, pub, ca.key.Public())
			if err != nil {
				t.Error(err)
				return
			}
			r, err := l.Lint(der)
			if err != nil || r.Err() != nil {
				t.Error(err, r.Err())
			}
		})
	}
	wg.Wait()
}

func TestSignatureLintsExcluded(t *testing.T) {
	for _, cfg := range []profileLint{{}, {Sources: []string{"Community"}}, {IgnoredLints: SignatureLints}} {
		l := mustNew(t, cfg)
		for _, n := range SignatureLints {
			if l.registry.CertificateLints().ByName(n) != nil {
				t.Errorf("%+v: signature lint %s registered", cfg, n)
			}
		}
	}
}
