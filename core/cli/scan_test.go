package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

// scanEndpoint serves TLS 1.2 and 1.3 on loopback.
func scanEndpoint(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // scanners hang up mid-handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// Every mistake is exit 1 with one line on stderr (usage errors point at
// -h, as CFSSL's one-line usage errors do) and nothing on stdout.
func TestScanCommandErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.csv")
	badCSV := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(badCSV, []byte("1,ok.test\n2,bad host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"scan"}, 1, "pkid: scan: no hosts to scan: name some, or pass -input FILE (pkid scan -h for usage)"},
		{[]string{"scan", "-format", "xml", "h.test"}, 1, `pkid: scan: -format "xml": want one of json, jsonl, table (pkid scan -h for usage)`},
		{[]string{"scan", "-timeout", "0s", "h.test"}, 1, "pkid: scan: -timeout 0s: want more than 0 and at most 1h0m0s (pkid scan -h for usage)"},
		{[]string{"scan", "-concurrency", "0", "h.test"}, 1, "pkid: scan: -concurrency 0: want 1 to 1000 (pkid scan -h for usage)"},
		{[]string{"scan", "-rate", "-1", "h.test"}, 1, "pkid: scan: -rate -1: want 0 (no limit) or more (pkid scan -h for usage)"},
		{[]string{"scan", "-progress", "maybe", "h.test"}, 1, `pkid: scan: -progress "maybe": want auto, always or never (pkid scan -h for usage)`},
		{[]string{"scan", "-list", "h.test"}, 1, "pkid: scan: -list takes no hosts (pkid scan -h for usage)"},
		{[]string{"scan", "-nope", "h.test"}, 1, "pkid: scan: flag provided but not defined: -nope (pkid scan -h for usage)"},
		{[]string{"scan", "10.0.0.0/15"}, 1, "pkid: scan: range too large: 10.0.0.0/15 has 2^17 addresses, more than 2^16 (pass -force to scan up to /8)"},
		{[]string{"scan", "-force", "10.0.0.0/7"}, 1, "pkid: scan: range too large: 10.0.0.0/7 has 2^25 addresses, more than 2^24"},
		{[]string{"scan", "bad host"}, 1, `pkid: scan: invalid target: "bad host" is not a host name or address`},
		{[]string{"scan", "-ip", "nope", "h.test"}, 1, `pkid: scan: invalid target: -ip "nope" is not an IP address`},
		{[]string{"scan", "-input", missing}, 1, "pkid: scan: -input: open " + missing + ": no such file or directory"},
		{[]string{"scan", "-input", badCSV}, 1, `pkid: scan: -input: csv: line 2: invalid target: "bad host" is not a host name or address`},
		{[]string{"scan", "-family", "(", "127.0.0.1"}, 1, "pkid: scan: family filter: error parsing regexp: missing closing ): `(`"},
		{[]string{"scan", "-family", "NoSuchFamily", "127.0.0.1"}, 1, `pkid: scan: no scanner matches family "NoSuchFamily" and scanner ""`},
	} {
		r := pkid(t, tc.args...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != tc.code || first != tc.msg || r.stdout != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit %d and %q", tc.args, r.code, r.stderr, r.stdout, tc.code, tc.msg)
		}
		if tc.code == 1 && strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: stderr is not one line: %q", tc.args, r.stderr)
		}
	}
}

// scan -list names every family and scanner real CFSSL's -list does.
func TestScanListCoversCFSSL(t *testing.T) {
	r := pkid(t, "scan", "-list")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "}\n\n") {
		t.Fatalf("scan -list: exit %d, %q", r.code, r.stderr)
	}
	var ours, theirs map[string]struct {
		Description string
		Scanners    map[string]struct{ Description string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &ours); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testtool.Oracle(t, "cfssl"), "scan", "-list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	for fam, f := range theirs {
		for name := range f.Scanners {
			if s, ok := ours[fam].Scanners[name]; !ok || s.Description == "" {
				t.Errorf("pkid scan -list lacks %s/%s (or its description)", fam, name)
			}
		}
	}
	tbl := pkid(t, "scan", "-list", "-format", "table")
	if tbl.code != 0 || !strings.HasPrefix(tbl.stdout, "FAMILY") || !strings.Contains(tbl.stdout, "\n              ChainValidation ") {
		t.Errorf("scan -list -format table:\n%s", tbl.stdout)
	}
}

// cfsslScanOutput splits `scan` output into its hosts' results, checking
// CFSSL's framing ("=== HOST ===", indented JSON, a blank line).
func cfsslScanOutput(t *testing.T, out string) map[string]map[string]map[string]map[string]json.RawMessage {
	t.Helper()
	res := map[string]map[string]map[string]map[string]json.RawMessage{}
	for block := range strings.SplitSeq(strings.TrimSuffix(out, "\n\n"), "\n\n") {
		header, body, ok := strings.Cut(block, "\n")
		host, ok2 := strings.CutPrefix(header, "=== ")
		host, ok3 := strings.CutSuffix(host, " ===")
		if !ok || !ok2 || !ok3 || !strings.HasPrefix(body, "{\n  \"") {
			t.Fatalf("block without CFSSL's framing:\n%s", block)
		}
		var v map[string]map[string]map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		res[host] = v
	}
	return res
}

// jsonKind is the JSON type of a value: object, array, string, ...
func jsonKind(raw json.RawMessage) string {
	switch b := bytes.TrimSpace(raw); {
	case len(b) == 0:
		return "absent"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == '"':
		return "string"
	}
	return "scalar"
}

// Side by side with real CFSSL scan on one loopback endpoint: the same
// framing and keys, every family and scanner CFSSL reports present, each
// result with only grade/output/error, the same grade vocabulary, and
// outputs of the same JSON type where both have one.
func TestScanSideBySideCFSSL(t *testing.T) {
	host := scanEndpoint(t)
	cmd := exec.Command(testtool.Oracle(t, "cfssl"), "scan", "-timeout", "30s", host)
	var theirOut bytes.Buffer
	cmd.Stdout = &theirOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("cfssl scan: %v", err)
	}
	// CFSSL announces each host on stdout first; pkid shows progress on
	// stderr instead (docs/scanner-runner.md).
	theirText := strings.Replace(theirOut.String(), "Scanning "+host+"...\n", "", 1)
	r := pkid(t, "scan", "-timeout", "30s", host)
	if r.code != 0 {
		t.Fatalf("pkid scan: exit %d: %s", r.code, r.stderr)
	}
	ours, theirs := cfsslScanOutput(t, r.stdout)[host], cfsslScanOutput(t, theirText)[host]
	if ours == nil || theirs == nil {
		t.Fatalf("results for %s: pkid %v, cfssl %v", host, ours != nil, theirs != nil)
	}
	grades := []string{`"Bad"`, `"Warning"`, `"Good"`, `"Skipped"`}
	for fam, scanners := range ours {
		for name, res := range scanners {
			for k := range res {
				if !slices.Contains([]string{"grade", "output", "error"}, k) {
					t.Errorf("pkid %s/%s has key %q", fam, name, k)
				}
			}
			if !slices.Contains(grades, string(res["grade"])) {
				t.Errorf("pkid %s/%s grade %s", fam, name, res["grade"])
			}
		}
	}
	for fam, scanners := range theirs {
		for name, res := range scanners {
			mine, ok := ours[fam][name]
			if !ok {
				t.Errorf("CFSSL reports %s/%s, pkid does not", fam, name)
				continue
			}
			if a, b := jsonKind(res["output"]), jsonKind(mine["output"]); a != "absent" && b != "absent" && a != b {
				t.Errorf("%s/%s output: CFSSL's is a JSON %s, pkid's a JSON %s", fam, name, a, b)
			}
		}
	}
}

// Several hosts: each printed once as it completes, -max-hosts cuts with a
// warning, jsonl and table carry the overall grade, -input reads CSV.
func TestScanCommandHosts(t *testing.T) {
	a, b := scanEndpoint(t), scanEndpoint(t)
	csv := filepath.Join(t.TempDir(), "hosts.csv")
	if err := os.WriteFile(csv, []byte("1,"+b+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := pkid(t, "scan", "-family", "^Connectivity$", "-scanner", "^T", "-format", "jsonl", "-input", csv, a)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		var h struct {
			Host, Grade string
			Results     map[string]map[string]struct{ Grade string }
		}
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		seen[h.Host] = true
		if h.Results["Connectivity"]["TCPDial"].Grade != "Good" || len(h.Results["Connectivity"]) != 2 || h.Grade == "" {
			t.Errorf("%s: %s", h.Host, l)
		}
	}
	if len(lines) != 2 || !seen[a] || !seen[b] {
		t.Errorf("jsonl lines for %v:\n%s", seen, r.stdout)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("two hosts, two scanners took %v", el)
	}
	r = pkid(t, "scan", "-family", "^Connectivity$", "-scanner", "^TCPDial$", "-format", "table", "-max-hosts", "1", a, b)
	if r.code != 0 || r.stderr != "pkid: scan: scanning the first 1 of 2 hosts (-max-hosts)\n" {
		t.Errorf("-max-hosts: exit %d, stderr %q", r.code, r.stderr)
	}
	want := "== " + a + ": Good\nFAMILY        SCANNER  GRADE  DETAIL\nConnectivity  TCPDial  Good\n\n"
	if r.stdout != want {
		t.Errorf("table:\n%s\nwant:\n%s", r.stdout, want)
	}
	// A closed port is scanned (and graded), not an error.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	r = pkid(t, "scan", "-family", "^Connectivity$", "-scanner", "^TCPDial$", "-format", "jsonl", "-progress", "always", closed, a)
	if r.code != 0 || !strings.Contains(r.stdout, `"host":"`+closed+`","grade":"Bad"`) {
		t.Errorf("closed port: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "2/2 hosts, 1 bad") {
		t.Errorf("progress on stderr: %q", r.stderr)
	}
	// CFSSL's global flags are accepted (and ignored), as by `cfssl scan`.
	r = pkid(t, "scan", "-ca-bundle", "roots.pem", "-loglevel", "0", "-initca", "-family", "^Connectivity$", "-scanner", "^TCPDial$", a)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "=== "+a+" ===\n") {
		t.Errorf("CFSSL's global flags: exit %d, %s", r.code, r.stderr)
	}
}

// A configuration's scancheck blocks add checks: the third-party example
// (built against the sdk alone, run out of process, pinned by sha256) runs
// beside the builtin checks; a block describing the builtin's scanners
// again is refused.
func TestScanConfiguredChecks(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pkid-plugin-scancheck-example")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..", "examples", "plugins", "scancheck-example")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the example scan check: %v\n%s", err, out)
	}
	reg := pkid(t, "plugin", "register", bin)
	if reg.code != 0 {
		t.Fatalf("plugin register: %s", reg.stderr)
	}
	cfg := filepath.Join(dir, "scan.hcl")
	if err := os.WriteFile(cfg, []byte(reg.stdout+"scancheck \"scancheck-example\" \"lifetime\" {\n  min_days = 60\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	host := scanEndpoint(t)
	r := pkid(t, "scan", "-config", cfg, "-family", "^(Example|Connectivity)$", "-scanner", "^(CertLifetime|TCPDial)$", "-format", "jsonl", host)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Results map[string]map[string]struct {
			Grade  string
			Output struct {
				DaysLeft int `json:"days_left"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if l := res.Results["Example"]["CertLifetime"]; l.Grade != "Good" || l.Output.DaysLeft < 60 {
		t.Errorf("Example/CertLifetime = %+v, want Good with days_left >= 60", l)
	}
	if res.Results["Connectivity"]["TCPDial"].Grade != "Good" {
		t.Errorf("the builtin checks did not run beside it: %s", r.stdout)
	}
	list := pkid(t, "scan", "-list", "-config", cfg)
	if list.code != 0 || !strings.Contains(list.stdout, `"CertLifetime": {`) || !strings.Contains(list.stdout, `"ChainValidation": {`) {
		t.Errorf("scan -list with the configuration: %s %s", list.stdout, list.stderr)
	}

	dup := filepath.Join(dir, "dup.hcl")
	if err := os.WriteFile(dup, []byte("scancheck \"tls\" \"again\" {\n  isolation = \"inprocess\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = pkid(t, "scan", "-config", dup, host)
	if r.code != 1 || r.stderr != "pkid: scan: scanner Connectivity/DNSLookup is described by two check instances\n" {
		t.Errorf("a second tls instance: exit %d, %q", r.code, r.stderr)
	}
}

// pkid serve with a scan block: the builtin checks run in a plugin process
// of their own (the default isolation), the allowlist holds.
func TestServeScan(t *testing.T) {
	cfg := nodeConfig(t, "certstore \"sqlite\" \"main\" {\n  path = \""+filepath.Join(t.TempDir(), "pkid.db")+"\"\n}\n"+
		"pkid {\n  scan {\n    allow = [\"127.0.0.0/8\"]\n  }\n}\n")
	initIssuing(t, cfg)
	d := startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0")
	host := scanEndpoint(t)
	get := func(q string) (int, envelope) {
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Get(d.base + "/api/v1/cfssl/scan?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env envelope
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, env
	}
	status, env := get("host=" + host + "&family=^PKI$&scanner=^KeySize$&timeout=30s")
	if status != 200 || !strings.Contains(string(env.Result), `"KeySize":{"grade":"Good"`) {
		t.Errorf("scan: %d %s %+v", status, env.Result, env.Errors)
	}
	status, env = get("host=198.51.100.1:443")
	if status != 403 || len(env.Errors) != 1 || !strings.Contains(env.Errors[0].Message, "198.51.100.1 is not on the allowlist") {
		t.Errorf("scan outside the allowlist: %d %+v", status, env.Errors)
	}
	if !strings.Contains(pkid(t, "plugin", "list").stdout, "scancheck  tls") {
		t.Error("plugin list does not show the scancheck builtin")
	}
}
