package scanchecks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

// cfsslResult is one scanner's result in `cfssl scan` output.
type cfsslResult struct {
	Grade  string          `json:"grade"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
}

// cfsslScan runs real CFSSL's scanner on host and returns its results by
// family and scanner.
func cfsslScan(t *testing.T, bin, roots, host string) map[string]map[string]cfsslResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "scan", "-ca-bundle", roots, "-timeout", "50s", host).Output()
	if err != nil {
		t.Fatalf("cfssl scan %s: %v", host, err)
	}
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		t.Fatalf("cfssl scan %s printed no JSON:\n%s", host, out)
	}
	var res map[string]map[string]cfsslResult
	if err := json.Unmarshal(out[i:], &res); err != nil {
		t.Fatalf("cfssl scan %s: %v\n%s", host, err, out)
	}
	return res
}

// severity orders grades: a lower number is a worse finding.
var severity = map[string]int{"Bad": 0, "Warning": 1, "Good": 2, "Skipped": 3}

func pkidGrade(g sdk.Grade) string {
	return map[sdk.Grade]string{sdk.GradeBad: "Bad", sdk.GradeWarning: "Warning", sdk.GradeGood: "Good", sdk.GradeSkipped: "Skipped"}[g]
}

// difference is a result where pkid deliberately disagrees with CFSSL:
// when CFSSL's error contains cfsslError and the grades differ, pkid's
// grade must be grade. Each is listed in docs/scanner.md.
type difference struct{ grade, cfsslError string }

// cfsslDifferences by endpoint/Family/Scanner, "*" for any endpoint.
var cfsslDifferences = map[string][]difference{
	// CFSSL's client stops at TLS 1.2: a TLS 1.3-only server negotiates
	// nothing with it, and every scanner that needs a handshake fails.
	"tls13/TLSHandshake/CipherSuite": {{"Good", "couldn't negotiate any cipher suites"}},
	"tls13/PKI/ChainExpiration":      {{"Good", ""}},
	"tls13/PKI/ChainValidation":      {{"Good", ""}},
	"tls13/PKI/MultipleCerts":        {{"Good", ""}},
	"tls13/TLSSession/SessionResume": {{"Good", ""}},
	"tls13/Connectivity/TLSDial":     {{"Good", ""}},
	"tls13/Broad/IntermediateCAs":    {{"Good", ""}},
	// CFSSL offers an empty signature_algorithms list, which TLS 1.2
	// servers refuse, so CertsByCiphers never finds a suite.
	"*/TLSHandshake/CertsByCiphers": {{"Good", "no cipher supported"},
		// When a suite does get through (seen against the DHE server), the
		// same certificate-decoding failure as CertsBySigAlgs below.
		{"Good", "Failed to decode certificate"}},
	// CFSSL offers TLS 1.2 to learn a server's curves and suites and
	// fails when a TLS 1.1 server answers with its own version.
	"*/TLSHandshake/CipherSuite": {{"Good", "server negotiated protocol version we didn't send"}},
	"*/TLSHandshake/ECCurves":    {{"Good", "server negotiated protocol version we didn't send"}},
	// CFSSL fetches the chain with a client that offers no finite-field
	// DHE suite, so a DHE-only server has no chain for it.
	"*/PKI/ChainExpiration": {{"Good", "handshake failure"}},
	"*/PKI/ChainValidation": {{"Good", "handshake failure"},
		// Go's x509, under CFSSL, no longer checks SHA-1 signatures, so
		// CFSSL grades Bad what its own rule says is a Warning.
		{"Warning", "insecure algorithm"}},
	"*/PKI/MultipleCerts": {{"Good", "handshake failure"}},
	// CFSSL cannot parse an RSA leaf signed with ECDSA out of its TLS 1.2
	// handshake (pkid and Go's x509 can).
	"*/TLSHandshake/CertsBySigAlgs": {{"Good", "Failed to decode certificate"}},
}

// lookupDifference returns the documented difference for a CFSSL result.
func lookupDifference(name, fam, scanner, cfsslError string) (difference, bool) {
	for _, key := range []string{name + "/" + fam + "/" + scanner, "*/" + fam + "/" + scanner} {
		for _, d := range cfsslDifferences[key] {
			if strings.Contains(cfsslError, d.cfsslError) {
				return d, true
			}
		}
	}
	return difference{}, false
}

// TestAgainstCFSSL scans the same loopback endpoints with real CFSSL 1.6.5
// and with pkid: pkid reports every finding (Bad or Warning) CFSSL reports,
// at least as severe, except the differences above.
func TestAgainstCFSSL(t *testing.T) {
	bin := testtool.Oracle(t, "cfssl")
	ca := newTestCA(t)
	ep := startEndpoints(t, ca)
	openSSLEndpoints(t, ca, ep)
	sc := newInstance(t, fmt.Sprintf(`{"ca_file":%q,"dial_timeout":"5s","fetch_revocation":true}`, ca.roots()))
	names := []string{"modern", "tls13", "expired", "soon", "selfsigned", "wronghost", "weakkey", "3des", "legacy", "tls10", "dhe1024", "withroot", "sha1", "openssl"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			host := ep[name]
			cf := cfsslScan(t, bin, ca.roots(), host)
			var fams []string
			for f := range cf {
				fams = append(fams, f)
			}
			sort.Strings(fams)
			for _, fam := range fams {
				for scanner, r := range cf[fam] {
					if fam == "Connectivity" && scanner == "CloudFlareStatus" {
						continue // CFSSL downloads the ranges; pkid carries them
					}
					f := run(t, sc, host, fam, scanner)[0]
					got := pkidGrade(f.Grade)
					key := name + "/" + fam + "/" + scanner
					if d, ok := lookupDifference(name, fam, scanner, r.Error); ok && got != r.Grade {
						if got != d.grade {
							t.Errorf("%s: pkid %s (%s), CFSSL %s (%s); the documented difference says pkid %s", key, got, f.Reason, r.Grade, r.Error, d.grade)
						}
						continue
					}
					if r.Grade == "Bad" || r.Grade == "Warning" {
						if severity[got] > severity[r.Grade] {
							t.Errorf("%s: CFSSL %s (%s %s), pkid only %s (%s)", key, r.Grade, r.Error, r.Output, got, f.Reason)
						}
					}
					if fam == "TLSHandshake" && scanner == "CipherSuite" && r.Grade != "Bad" {
						compareSuites(t, key, r.Output, f.Output)
					}
				}
			}
		})
	}
}

// compareSuites checks that pkid finds as many suites at each version as
// CFSSL (CFSSL names them as OpenSSL does, pkid as IANA does).
func compareSuites(t *testing.T, key string, cfssl, pkid json.RawMessage) {
	t.Helper()
	count := func(raw json.RawMessage) map[string]int {
		var list []map[string][]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatalf("%s: %v: %s", key, err, raw)
		}
		n := map[string]int{}
		for _, m := range list {
			for _, vers := range m {
				for _, v := range vers {
					var s string
					if json.Unmarshal(v, &s) != nil {
						var withCurves map[string]json.RawMessage
						_ = json.Unmarshal(v, &withCurves)
						for k := range withCurves {
							s = k
						}
					}
					n[s]++
				}
			}
		}
		return n
	}
	c, p := count(cfssl), count(pkid)
	for v, n := range c {
		if p[v] < n {
			t.Errorf("%s: CFSSL finds %d suites at %s, pkid %d\nCFSSL %s\npkid  %s", key, n, v, p[v], cfssl, pkid)
		}
	}
	if !strings.Contains(string(pkid), "TLS 1.3") && strings.Contains(key, "tls13") {
		t.Errorf("%s: pkid misses TLS 1.3", key)
	}
}
