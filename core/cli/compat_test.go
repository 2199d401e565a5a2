package cli

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

// The compat suite: real CFSSL 1.6.5 and pkid side by side on the same
// inputs, one row per (command or endpoint, flags, input), for every
// command, flag and endpoint of CFSSL's surface (testdata/compat/surface.txt;
// TestCompatCoverage fails when one has no row). A row either matches in
// its comparison mode, or names the entry of
// docs/differences-from-cfssl.md that explains why it differs (and then it
// must differ: a stale entry fails), or names the existing side-by-side
// test that covers it. Daemons are started once for the suite.

// compareMode says what "the same" means for a row.
type compareMode int

const (
	sameExitCode compareMode = iota // exit codes (CLI) or statuses (HTTP)
	sameStdout                      // stdout byte for byte, and the exit code
	sameJSONKeys                    // the JSON output's keys, and the exit code
	sameCert                        // sameJSONKeys, and the certificate fields (serials, times, keys normalised)
	sameEnvelope                    // HTTP: status, success, error codes, result keys
	sameResult                      // HTTP: sameEnvelope, and the result byte for byte
	sameLines                       // stdout's lines in any order (CFSSL prints some maps unordered), and the exit code
)

func (m compareMode) String() string {
	return [...]string{"exit code", "bytes", "JSON keys", "certificate", "envelope", "result", "lines"}[m]
}

// compatRow is one line of the suite.
type compatRow struct {
	covers []string // items of surface.txt
	// CLI: tool is cfssl, cfssljson, mkbundle, multirootca or a drop-in
	// name; oracle replaces the oracle's argv when its tool is not in bin/.
	tool   string
	args   []string
	oracle []string
	stdin  string
	// HTTP: method, path (under /api/v1/cfssl/ unless it starts with /)
	// and body, sent to the suite's daemons (noCA: the ones without -ca).
	method, path, body string
	noCA               bool

	mode compareMode
	// diff names the heading of docs/differences-from-cfssl.md that
	// explains why this row differs; the row then must differ.
	diff string
	// known marks a difference that is a defect to fix, not a decision:
	// logged, not failed, and failed once it no longer differs.
	known string
	// ref names an existing side-by-side test (Test function or testscript
	// file) that covers the item; the row then runs nothing itself.
	ref string
}

// compatFixture is the suite's shared state: CFSSL-made inputs and the
// two daemons.
type compatFixture struct {
	dir  string
	vars map[string]string // placeholder → value, common to both sides
	side [2]map[string]string
	// base URLs: [0] cfssl, [1] pkid; noCA without -ca.
	base, noCA [2]string
}

const (
	cfsslSide = 0
	pkidSide  = 1
)

// normalisedDifferences are the headings compareCerts normalises.
var normalisedDifferences = []string{"Key encipherment only for RSA keys", "The daemon's certificates name its OCSP and CRL URLs"}

// compatPkidBase is the base URL of the suite's pkid daemon with a CA
// (compareCerts).
var compatPkidBase string

var (
	compatOnce sync.Once
	compatFix  *compatFixture
	compatErr  error
)

// compatSetup builds the fixture once per test binary.
func compatSetup(t *testing.T) *compatFixture {
	t.Helper()
	cfssl := oracle(t, "cfssl")
	bin := pkidBinary(t)
	compatOnce.Do(func() { compatFix, compatErr = newCompatFixture(t, cfssl, bin) })
	if compatErr != nil {
		t.Fatal(compatErr)
	}
	if compatFix == nil {
		t.Fatal("the compat fixture failed in an earlier test")
	}
	return compatFix
}

func newCompatFixture(t *testing.T, cfssl, pkidBin string) (_ *compatFixture, err error) {
	dir, err := os.MkdirTemp("", "pkid-compat-")
	if err != nil {
		return nil, err
	}
	f := &compatFixture{dir: dir, vars: map[string]string{"{dir}": dir}}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err == nil {
			err = os.WriteFile(p, []byte(content), 0o600)
		}
		f.vars["{"+name+"}"] = p
		return p
	}
	runJSON := func(args ...string) map[string]string {
		var m map[string]string
		if err != nil {
			return m
		}
		out, e := exec.Command(cfssl, args...).Output()
		if e != nil {
			err = fmt.Errorf("cfssl %v: %v", args, e)
			return m
		}
		err = json.Unmarshal(out, &m)
		return m
	}
	caJSONFile := write("ca.json", `{"CN": "compat CA", "key": {"algo": "ecdsa", "size": 256}, "names": [{"C": "US", "O": "pkid"}]}`)
	write("leaf.json", `{"CN": "leaf.example.com", "hosts": ["leaf.example.com", "10.0.0.2"], "key": {"algo": "ecdsa", "size": 256}, "names": [{"C": "US", "O": "pkid"}]}`)
	write("config.json", `{"signing": {"default": {"expiry": "168h", "usages": ["signing", "key encipherment", "server auth"]},
  "profiles": {"www": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"], "crl_url": "http://crl.example/ca.crl"},
    "client": {"expiry": "720h", "usages": ["signing", "client auth"]},
    "ocsp": {"expiry": "720h", "usages": ["digital signature", "ocsp signing"]}}}}`)
	ca := runJSON("gencert", "-initca", caJSONFile)
	write("ca.pem", ca["cert"])
	write("ca-key.pem", ca["key"])
	leaf := runJSON("gencert", "-ca", f.vars["{ca.pem}"], "-ca-key", f.vars["{ca-key.pem}"], "-config", f.vars["{config.json}"], "-profile", "www", f.vars["{leaf.json}"])
	resp := runJSON("gencert", "-ca", f.vars["{ca.pem}"], "-ca-key", f.vars["{ca-key.pem}"], "-config", f.vars["{config.json}"], "-profile", "ocsp", f.vars["{leaf.json}"])
	write("responder.pem", resp["cert"])
	write("responder-key.pem", resp["key"])
	leaf2 := runJSON("gencert", "-ca", f.vars["{ca.pem}"], "-ca-key", f.vars["{ca-key.pem}"], "-config", f.vars["{config.json}"], "-profile", "client", f.vars["{leaf.json}"])
	write("leaf.pem", leaf["cert"])
	write("leaf.csr", leaf["csr"])
	write("leaf-key.pem", leaf["key"])
	if err != nil {
		return nil, err
	}
	cert, err := parseOnePEM(leaf["cert"])
	if err != nil {
		return nil, err
	}
	cert2, err := parseOnePEM(leaf2["cert"])
	if err != nil {
		return nil, err
	}
	f.vars["{serial}"], f.vars["{serial2}"] = cert.SerialNumber.String(), cert2.SerialNumber.String()
	f.vars["{aki}"] = hex.EncodeToString(cert.AuthorityKeyId)
	write("serials.txt", cert.SerialNumber.String()+"\n")
	write("leaf.envelope", `{"success":true,"result":{"certificate":`+jsonString(leaf["cert"])+`,"certificate_request":`+jsonString(leaf["csr"])+`},"errors":[],"messages":[]}`)
	write("leaf.bare", `{"cert":`+jsonString(leaf["cert"])+`,"csr":`+jsonString(leaf["csr"])+`}`)
	for i, name := range []string{"cfssl", "pkid"} {
		db := filepath.Join(dir, name+".db")
		cfsslCertDB(t, db)
		insertCFSSLRow(t, db, cert)
		insertCFSSLRow(t, db, cert2)
		dbc := write("db-"+name+".json", `{"driver": "sqlite3", "data_source": "`+db+`"}`)
		f.side[i] = map[string]string{"{db}": dbc}
	}
	serveArgs := func(side int) []string {
		return []string{"-ca", f.vars["{ca.pem}"], "-ca-key", f.vars["{ca-key.pem}"], "-config", f.vars["{config.json}"],
			"-responder", f.vars["{responder.pem}"], "-responder-key", f.vars["{responder-key.pem}"], "-ca-bundle", f.vars["{ca.pem}"],
			"-db-config", f.side[side]["{db}"]}
	}
	// The four daemons start together: the cost of one start, not four.
	type started struct {
		i, side int
		base    string
		err     error
	}
	ch := make(chan started, 4)
	for i, argv := range [][]string{
		append([]string{cfssl, "serve"}, serveArgs(cfsslSide)...),
		append([]string{pkidBin, "serve"}, serveArgs(pkidSide)...),
		{cfssl, "serve"},
		{pkidBin, "serve"},
	} {
		go func() {
			base, err := startServe(argv)
			ch <- started{i, i % 2, base, err}
		}()
	}
	for range 4 {
		s := <-ch
		if s.err != nil && err == nil {
			err = s.err
		}
		if s.i < 2 {
			f.base[s.side] = s.base
		} else {
			f.noCA[s.side] = s.base
		}
	}
	if err != nil {
		return nil, err
	}
	f.side[cfsslSide]["{url}"], f.side[pkidSide]["{url}"] = f.base[cfsslSide], f.base[pkidSide]
	compatPkidBase = f.base[pkidSide]
	return f, nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// parseOnePEM parses the first certificate of a PEM text.
func parseOnePEM(s string) (*x509.Certificate, error) {
	for rest := []byte(s); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, fmt.Errorf("no certificate in %q", s)
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// compatDaemons are the suite's processes, shared by the tests of the
// package and stopped by TestMain (stopCompatDaemons).
var compatDaemons struct {
	sync.Mutex
	cmds []*exec.Cmd
}

// startServe runs a `serve` command line on a free loopback port and
// returns its base URL once health answers.
func startServe(argv []string) (string, error) {
	p, err := testtool.FreePort()
	if err != nil {
		return "", err
	}
	port := fmt.Sprint(p)
	var logBuf logBuffer
	cmd := exec.Command(argv[0], append(slices.Clone(argv[1:]), "-address", "127.0.0.1", "-port", port, "-loglevel", "3")...)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	compatDaemons.Lock()
	compatDaemons.cmds = append(compatDaemons.cmds, cmd)
	compatDaemons.Unlock()
	// A test binary killed by its timeout takes them along.
	base := "http://127.0.0.1:" + port
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := hc.Get(base + "/api/v1/cfssl/health"); err == nil {
			resp.Body.Close()
			return base, nil
		}
	}
	return "", fmt.Errorf("%s serve did not start: %s", filepath.Base(argv[0]), logBuf.String())
}

// TestCompatSuite runs every row.
func TestCompatSuite(t *testing.T) {
	f := compatSetup(t)
	diffs := diffHeadings(t)
	for _, r := range compatRows {
		t.Run(r.name(), func(t *testing.T) {
			if r.diff != "" && !diffs[r.diff] {
				t.Fatalf("names %q, which docs/differences-from-cfssl.md does not have", r.diff)
			}
			if r.ref != "" {
				return // TestCompatCoverage checks the reference exists
			}
			var theirs, ours sideOutcome
			if r.path != "" {
				theirs, ours = f.http(t, r, cfsslSide), f.http(t, r, pkidSide)
			} else {
				theirs, ours = f.cli(t, r, cfsslSide), f.cli(t, r, pkidSide)
			}
			why := compareOutcomes(r.mode, theirs, ours)
			switch {
			case why == "" && (r.diff != "" || r.known != ""):
				t.Errorf("same %s now, but the row says it differs (%s%s): drop the mark\ncfssl: %s\npkid:  %s", r.mode, r.diff, r.known, theirs, ours)
			case why != "" && r.known != "":
				t.Logf("known difference (%s): %s", r.known, why)
			case why != "" && r.diff == "":
				t.Errorf("%s differs: %s\ncfssl: %s\npkid:  %s", r.mode, why, theirs, ours)
			}
		})
	}
}

// stopCompatDaemons ends the suite's daemons with SIGTERM (pkid then
// removes its ephemeral keystore directory; SIGKILL after 10 s) and
// removes the fixture directory.
func stopCompatDaemons() {
	compatDaemons.Lock()
	defer compatDaemons.Unlock()
	done := make(chan struct{})
	for _, c := range compatDaemons.cmds {
		c.Process.Signal(syscall.SIGTERM)
		go func() {
			c.Wait()
			done <- struct{}{}
		}()
	}
	timeout := time.After(10 * time.Second)
	for range compatDaemons.cmds {
		select {
		case <-done:
		case <-timeout:
			for _, c := range compatDaemons.cmds {
				c.Process.Kill()
			}
			<-done
		}
	}
	compatDaemons.cmds = nil
	if compatFix != nil {
		os.RemoveAll(compatFix.dir)
	}
}

func (r compatRow) name() string {
	var s string
	switch {
	case r.path != "":
		s = r.method + " " + r.path
		if r.noCA {
			s += " (no -ca)"
		}
		if r.body != "" {
			s += " " + r.body
		}
	case len(r.args) > 0 || r.tool != "":
		s = r.tool + " " + strings.Join(r.args, " ")
	default:
		s = strings.Join(r.covers, ",")
	}
	if len(s) > 90 {
		s = s[:90]
	}
	return s
}

// sideOutcome is what one side did.
type sideOutcome struct {
	code   int // exit code or HTTP status
	stdout []byte
	stderr string
}

func (o sideOutcome) String() string {
	out := string(o.stdout)
	if len(out) > 300 {
		out = out[:300] + "…"
	}
	errs := o.stderr
	if len(errs) > 200 {
		errs = errs[:200] + "…"
	}
	return fmt.Sprintf("%d %q %q", o.code, out, errs)
}

func (f *compatFixture) expand(s string, side int) string {
	s = strings.ReplaceAll(s, "{side}", [...]string{"cfssl", "pkid"}[side])
	for k, v := range f.side[side] {
		s = strings.ReplaceAll(s, k, v)
	}
	for k, v := range f.vars {
		if strings.HasSuffix(k, ".pem}") || strings.HasSuffix(k, ".csr}") {
			// {ca.pem} is the file; {ca.pem:json} its content as a JSON string
			if data, err := os.ReadFile(v); err == nil {
				s = strings.ReplaceAll(s, strings.TrimSuffix(k, "}")+":json}", jsonString(string(data)))
			}
		}
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// cli runs the row's command line on one side: the oracle binary, or pkid
// in this process under the same argv[0].
func (f *compatFixture) cli(t *testing.T, r compatRow, side int) sideOutcome {
	t.Helper()
	args := make([]string, len(r.args))
	for i, a := range r.args {
		args[i] = f.expand(a, side)
	}
	out := t.TempDir()
	stdin := f.expand(r.stdin, side)
	if name, ok := strings.CutPrefix(stdin, "@"); ok { // @FILE: the file's content
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		stdin = string(data)
	}
	if side == pkidSide {
		var o, e bytes.Buffer
		wd, _ := os.Getwd()
		os.Chdir(out) // cfssljson and mkbundle write relative to it
		code := runAs(r.tool, args, &env{stdout: &o, stderr: &e, stdin: strings.NewReader(stdin)})
		os.Chdir(wd)
		return sideOutcome{code, o.Bytes(), e.String()}
	}
	argv := append([]string{r.tool}, args...)
	if r.oracle != nil {
		argv = make([]string, len(r.oracle))
		for i, a := range r.oracle {
			argv[i] = f.expand(a, side)
		}
	}
	cmd := exec.Command(oracle(t, argv[0]), argv[1:]...)
	cmd.Dir, cmd.Stdin = out, strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return sideOutcome{code, o.Bytes(), e.String()}
}

// http sends the row's request to one side's daemon.
func (f *compatFixture) http(t *testing.T, r compatRow, side int) sideOutcome {
	t.Helper()
	base := f.base[side]
	if r.noCA {
		base = f.noCA[side]
	}
	path := r.path
	if !strings.HasPrefix(path, "/") {
		path = "/api/v1/cfssl/" + path
	}
	req, err := http.NewRequest(r.method, base+f.expand(path, side), strings.NewReader(f.expand(r.body, side)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return sideOutcome{code: resp.StatusCode, stdout: body}
}

// compareOutcomes says how theirs and ours differ under mode ("" = same).
func compareOutcomes(mode compareMode, theirs, ours sideOutcome) string {
	if theirs.code != ours.code {
		return fmt.Sprintf("exit code or status %d, pkid %d", theirs.code, ours.code)
	}
	switch mode {
	case sameStdout:
		if !bytes.Equal(theirs.stdout, ours.stdout) {
			return "output bytes differ"
		}
	case sameLines:
		a, b := strings.Split(string(theirs.stdout), "\n"), strings.Split(string(ours.stdout), "\n")
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return "output lines differ"
		}
	case sameJSONKeys, sameCert:
		a, b := jsonKeys(theirs.stdout), jsonKeys(ours.stdout)
		if !slices.Equal(a, b) {
			return fmt.Sprintf("keys %v, pkid %v", a, b)
		}
		if mode == sameCert {
			return compareCerts(certOf(theirs.stdout), certOf(ours.stdout))
		}
	case sameEnvelope, sameResult:
		var a, b struct {
			Success  *bool
			Result   json.RawMessage
			Errors   []struct{ Code int }
			Messages []struct{ Code int }
		}
		ea, eb := json.Unmarshal(theirs.stdout, &a), json.Unmarshal(ours.stdout, &b)
		switch {
		case (ea == nil) != (eb == nil):
			return fmt.Sprintf("envelope: cfssl parses %v, pkid %v", ea == nil, eb == nil)
		case ea != nil:
			return "" // neither is an envelope: the statuses decide
		case (a.Success == nil) != (b.Success == nil) || (a.Success != nil && *a.Success != *b.Success):
			return "success differs"
		case fmt.Sprint(a.Errors) != fmt.Sprint(b.Errors):
			return fmt.Sprintf("error codes %v, pkid %v", a.Errors, b.Errors)
		case fmt.Sprint(a.Messages) != fmt.Sprint(b.Messages):
			return fmt.Sprintf("message codes %v, pkid %v", a.Messages, b.Messages)
		}
		if ka, kb := jsonKeys(a.Result), jsonKeys(b.Result); !slices.Equal(ka, kb) {
			return fmt.Sprintf("result keys %v, pkid %v", ka, kb)
		}
		if mode == sameResult && !bytes.Equal(a.Result, b.Result) {
			return "result bytes differ"
		}
		if ca := certOf(a.Result); ca != nil {
			return compareCerts(ca, certOf(b.Result))
		}
	}
	return ""
}

// jsonKeys are the sorted keys of a JSON object, nil if it is none.
func jsonKeys(data []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// certOf is the certificate of a JSON object's cert or certificate field.
func certOf(data []byte) *x509.Certificate {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	for _, k := range []string{"cert", "certificate"} {
		var s string
		if json.Unmarshal(m[k], &s) == nil && s != "" {
			c, _ := parseOnePEM(s)
			return c
		}
	}
	return nil
}

// compareCerts compares what a certificate says, normalising what must
// differ between two issuances (serial, times, keys, signatures).
func compareCerts(a, b *x509.Certificate) string {
	if a == nil || b == nil {
		if a != b {
			return fmt.Sprintf("certificate: cfssl %v, pkid %v", a != nil, b != nil)
		}
		return ""
	}
	type view struct {
		Subject, Issuer       string
		DNS, Email, URI       []string
		IPs                   string
		KeyUsage              x509.KeyUsage
		ExtKeyUsage           []x509.ExtKeyUsage
		IsCA                  bool
		MaxPathLen            int
		CRL, OCSP, IssuerURLs []string
		Validity              time.Duration
		SigAlg, KeyAlg        string
	}
	v := func(c *x509.Certificate) view {
		uris := make([]string, len(c.URIs))
		for i, u := range c.URIs {
			uris[i] = u.String()
		}
		return view{string(c.RawSubject), string(c.RawIssuer), c.DNSNames, c.EmailAddresses, uris, fmt.Sprint(c.IPAddresses),
			c.KeyUsage, c.ExtKeyUsage, c.IsCA, c.MaxPathLen, c.CRLDistributionPoints, c.OCSPServer, c.IssuingCertificateURL,
			c.NotAfter.Sub(c.NotBefore), c.SignatureAlgorithm.String(), c.PublicKeyAlgorithm.String()}
	}
	va, vb := v(a), v(b)
	// Two decided differences show in every certificate; the rows would
	// say nothing else if they were not normalised here (both headings
	// are checked by TestCompatCoverage):
	// "Key encipherment only for RSA keys": CFSSL sets the bit on EC and
	// Ed25519 keys too.
	if a.PublicKeyAlgorithm != x509.RSA && vb.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		va.KeyUsage &^= x509.KeyUsageKeyEncipherment
	}
	// "The daemon's certificates name its OCSP and CRL URLs": where the
	// profile sets none, pkid serve's point at itself.
	if compatPkidBase != "" {
		ownURLs := func(theirs, ours []string) []string {
			if len(theirs) == 0 && len(ours) > 0 && !slices.ContainsFunc(ours, func(u string) bool { return !strings.HasPrefix(u, compatPkidBase+"/") }) {
				return nil
			}
			return ours
		}
		vb.CRL, vb.OCSP, vb.IssuerURLs = ownURLs(va.CRL, vb.CRL), ownURLs(va.OCSP, vb.OCSP), ownURLs(va.IssuerURLs, vb.IssuerURLs)
	}
	if fmt.Sprint(va) != fmt.Sprint(vb) {
		return fmt.Sprintf("certificate: cfssl %+v, pkid %+v", va, vb)
	}
	return ""
}

// diffHeadings are the "### " headings of docs/differences-from-cfssl.md.
func diffHeadings(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "differences-from-cfssl.md"))
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "### "); ok {
			h[strings.TrimSpace(s)] = true
		}
	}
	return h
}

// TestCompatCoverage: every item of testdata/compat/surface.txt has a row,
// every row covers only listed items, every reference names a test that
// exists, and every heading of docs/differences-from-cfssl.md a row names
// exists.
func TestCompatCoverage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "compat", "surface.txt"))
	if err != nil {
		t.Fatal(err)
	}
	surface := map[string]bool{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			surface[line] = true
		}
	}
	if len(surface) < 100 {
		t.Fatalf("surface.txt lists only %d items", len(surface))
	}
	covered := map[string]bool{}
	tests := testNames(t)
	diffs := diffHeadings(t)
	for _, r := range compatRows {
		if len(r.covers) == 0 {
			t.Errorf("row %q covers nothing", r.name())
		}
		for _, c := range r.covers {
			if !surface[c] {
				t.Errorf("row %q covers %q, which surface.txt does not list", r.name(), c)
			}
			covered[c] = true
		}
		if r.ref != "" && !tests[r.ref] {
			t.Errorf("row %q refers to %s, which does not exist", r.name(), r.ref)
		}
		if r.diff != "" && !diffs[r.diff] {
			t.Errorf("row %q names the difference %q, which docs/differences-from-cfssl.md does not have", r.name(), r.diff)
		}
		if r.diff != "" && r.known != "" {
			t.Errorf("row %q is both a decided difference and a known defect", r.name())
		}
	}
	for _, h := range normalisedDifferences {
		if !diffs[h] {
			t.Errorf("compareCerts normalises %q, which docs/differences-from-cfssl.md does not have", h)
		}
	}
	var missing []string
	for item := range surface {
		if !covered[item] {
			missing = append(missing, item)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("no compat row for:\n%s", strings.Join(missing, "\n"))
	}
}

// testNames are the Test functions of this package's and core/server's
// test files, and the testscript files, as "TestX" and "testdata/…/x.txtar".
func testNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	re := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	for _, pat := range []string{"*_test.go", "../server/*_test.go"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				names[m[1]] = true
			}
		}
	}
	scripts, _ := filepath.Glob(filepath.Join("testdata", "*", "*.txtar"))
	for _, s := range scripts {
		names[filepath.ToSlash(s)] = true
	}
	return names
}
