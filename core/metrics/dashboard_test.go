package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

// exercised returns metrics with a sample in every family.
func exercised(t *testing.T) *Metrics {
	m := New()
	m.ObserveRequest(Request{Endpoint: "sign", CA: "a", Profile: "p", Status: 400, Lints: []string{"e_x"}, AuthFailure: true})
	m.ObserveRequest(Request{Endpoint: "revoke", CA: "a", Status: 200})
	m.PluginCall("keystore", "file", "dev", time.Millisecond, errors.New("x"), true)
	m.StoreBatch("main", 3, time.Millisecond)
	m.OCSP(OCSPHit, time.Millisecond)
	m.Audit("issuance", nil)
	m.Audit("issuance", errors.New("disk full"))
	now := time.Now()
	if err := m.Register(NewCollector(Source{
		Plugins: func(context.Context) []PluginState {
			return []PluginState{{Kind: "keystore", Type: "file", Healthy: true}}
		},
		CRLs:     func() []CRLState { return []CRLState{{CA: "a", Kind: "full", ThisUpdate: now, NextUpdate: now}} },
		Expiring: func(context.Context, time.Duration) (map[string]int, error) { return map[string]int{"a": 1}, nil },
		Leader:   func() bool { return true },
	})); err != nil {
		t.Fatal(err)
	}
	return m
}

// The Grafana dashboard asks only for metrics pkid exports, in queries
// promtool parses.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "grafana", "pkid-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	fams, err := exercised(t).Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range fams {
		known[f.GetName()] = true
	}
	name := regexp.MustCompile(`\b([a-z_]+_(?:total|seconds|bytes|size|entries|up|expiring|leader|seconds_bucket|size_bucket|size_sum|size_count))\b`)
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
			found := false
			for _, m := range name.FindAllStringSubmatch(tg.Expr, -1) {
				n := m[1]
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if base := strings.TrimSuffix(n, suf); base != n && known[base] {
						n = base
					}
				}
				if !known[n] {
					t.Errorf("panel %q asks for %s, which pkid does not export", p.Title, m[1])
				}
				found = true
			}
			if !found {
				t.Errorf("panel %q: no pkid metric in %q", p.Title, tg.Expr)
			}
		}
	}
	if len(exprs) < 20 {
		t.Fatalf("only %d queries", len(exprs))
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testtool.Missing(t, "promtool (apt-get install prometheus; scripts/test.sh does)", err)
	}
	// Grafana's variables replaced, each query becomes a recording rule
	// that promtool parses.
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for i, e := range exprs {
		e = strings.NewReplacer("$__rate_interval", "5m", "$job", ".*").Replace(e)
		q, _ := json.Marshal(e)
		fmt.Fprintf(&rules, "  - record: pkid:dashboard:%d\n    expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(path, []byte(rules.String()), 0o600)
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
