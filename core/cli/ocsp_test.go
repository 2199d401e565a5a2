package cli

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ocspOf decodes ocspsign's {"ocspResponse"} output for leaf under issuer.
func ocspOf(t *testing.T, r result, leaf, issuer *x509.Certificate) *ocsp.Response {
	t.Helper()
	m := decodeResult(t, r)
	der, err := base64.StdEncoding.DecodeString(m["ocspResponse"])
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		t.Fatalf("parse OCSP response: %v", err)
	}
	return resp
}

func TestOCSPSignCommand(t *testing.T) {
	cfg, dir, iss, leg := revocationSetup(t, 1, 1)
	caCert := mustParsePEM(t, mustRead(t, filepath.Join(dir, "ca", "issuing.pem")))
	leafFile := writeFile(t, dir, "leaf.pem", pemCert(iss[0]))

	resp := ocspOf(t, pkid(t, "ocspsign", "-config", cfg, "-label", "issuing", "-cert", leafFile), iss[0], caCert)
	if resp.Status != ocsp.Good || resp.SerialNumber.Cmp(iss[0].SerialNumber) != 0 || resp.NextUpdate.Sub(resp.ThisUpdate) != 96*time.Hour {
		t.Errorf("good: %+v", resp)
	}
	resp = ocspOf(t, pkid(t, "ocspsign", "-config", cfg, "-label", "issuing", "-cert", leafFile, "-status", "revoked",
		"-reason", "keyCompromise", "-revoked-at", "2024-01-02", "-interval", "24h"), iss[0], caCert)
	if resp.Status != ocsp.Revoked || resp.RevocationReason != 1 || !resp.RevokedAt.Equal(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)) ||
		resp.NextUpdate.Sub(resp.ThisUpdate) != 24*time.Hour {
		t.Errorf("revoked: %+v", resp)
	}
	wantFail(t, pkid(t, "ocspsign", "-config", cfg, "-label", "issuing", "-cert", leafFile, "-status", "bogus"), "-status")
	wantFail(t, pkid(t, "ocspsign", "-config", cfg, "-label", "issuing", "-cert", leafFile, "-status", "revoked", "-reason", "7"), "invalid reason")
	wantFail(t, pkid(t, "ocspsign", "-config", cfg, "-label", "issuing"), "-cert FILE is required")
	// A certificate of the other CA: 8100-style refusal from the CA.
	wantFail(t, pkid(t, "ocspsign", "-config", cfg, "-label", "issuing", "-cert", writeFile(t, dir, "leg.pem", pemCert(leg[0]))), "not issued")

	// CFSSL file mode: the CA signs its own responses...
	fdir := t.TempDir()
	m := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, fdir, "ca.json", caJSON)))
	caFile := writeFile(t, fdir, "ca.pem", m["cert"])
	keyFile := writeFile(t, fdir, "ca-key.pem", m["key"])
	fileCA := mustParsePEM(t, m["cert"])
	conf := writeFile(t, fdir, "config.json", `{"signing": {"default": {"expiry": "168h"}, "profiles": {
	  "server": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"]},
	  "ocsp": {"expiry": "8760h", "usages": ["digital signature", "ocsp signing"]}}}}`)
	lm := decodeResult(t, pkid(t, "gencert", "-ca", caFile, "-ca-key", keyFile, "-config", conf, "-profile", "server", writeFile(t, fdir, "leaf.json", ecLeafJSON)))
	fileLeaf := mustParsePEM(t, lm["cert"])
	fileLeafFile := writeFile(t, fdir, "leaf.pem", lm["cert"])
	resp = ocspOf(t, pkid(t, "ocspsign", "-ca", caFile, "-responder", caFile, "-responder-key", keyFile, "-cert", fileLeafFile), fileLeaf, fileCA)
	if resp.Status != ocsp.Good {
		t.Errorf("file mode: %+v", resp)
	}
	// ... or a delegated responder does.
	rm := decodeResult(t, pkid(t, "gencert", "-ca", caFile, "-ca-key", keyFile, "-config", conf, "-profile", "ocsp",
		writeFile(t, fdir, "responder.json", `{"CN": "OCSP responder", "key": {"algo": "ecdsa", "size": 256}}`)))
	rFile := writeFile(t, fdir, "responder.pem", rm["cert"])
	rKey := writeFile(t, fdir, "responder-key.pem", rm["key"])
	resp = ocspOf(t, pkid(t, "ocspsign", "-ca", caFile, "-responder", rFile, "-responder-key", rKey, "-cert", fileLeafFile,
		"-status", "revoked", "-reason", "4"), fileLeaf, fileCA)
	if resp.Status != ocsp.Revoked || resp.RevocationReason != 4 || resp.Certificate == nil || resp.Certificate.Subject.CommonName != "OCSP responder" {
		t.Errorf("delegated: %+v", resp)
	}
	// With -ca-key the CA key signs.
	resp = ocspOf(t, pkid(t, "ocspsign", "-ca", caFile, "-ca-key", keyFile, "-cert", fileLeafFile), fileLeaf, fileCA)
	if resp.Status != ocsp.Good {
		t.Errorf("-ca-key: %+v", resp)
	}
	wantFail(t, pkid(t, "ocspsign", "-ca", caFile, "-cert", fileLeafFile), "-responder")
}

func TestOCSPRefreshAndDump(t *testing.T) {
	cfg, dir, iss, leg := revocationSetup(t, 2, 1)
	caCert := mustParsePEM(t, mustRead(t, filepath.Join(dir, "ca", "issuing.pem")))
	legCA := mustParsePEM(t, mustRead(t, filepath.Join(dir, "ca", "legacy.pem")))
	if r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-serial", iss[1].SerialNumber.String(), "-reason", "keyCompromise"); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	r := pkid(t, "ocsprefresh", "-config", cfg, "-label", "issuing")
	if sum := summaryLines(r.stderr); r.code != 0 || r.stdout != "" || len(sum) != 1 || !strings.HasPrefix(sum[0], "issuing: checked 2, signed ") {
		t.Fatalf("ocsprefresh: %+v", r)
	}
	// Fresh responses are kept on a second run.
	r = pkid(t, "ocsprefresh", "-config", cfg, "-label", "issuing")
	if r.code != 0 || !strings.Contains(r.stderr, "issuing: checked 2, signed 0, fresh 2") {
		t.Errorf("second ocsprefresh: %+v", r)
	}

	r = pkid(t, "ocspdump", "-config", cfg, "-label", "issuing")
	lines := strings.Fields(r.stdout)
	if r.code != 0 || len(lines) != 2 || strings.Count(r.stdout, "\n") != 2 {
		t.Fatalf("ocspdump: %+v", r)
	}
	seen := map[string]int{}
	for _, l := range lines {
		der, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ocsp.ParseResponse(der, caCert)
		if err != nil {
			t.Fatal(err)
		}
		seen[resp.SerialNumber.String()] = resp.Status
		if resp.SerialNumber.Cmp(iss[1].SerialNumber) == 0 && resp.RevocationReason != 1 {
			t.Errorf("revoked response reason %d", resp.RevocationReason)
		}
	}
	if len(seen) != 2 || seen[iss[0].SerialNumber.String()] != ocsp.Good || seen[iss[1].SerialNumber.String()] != ocsp.Revoked {
		t.Errorf("dumped statuses %v", seen)
	}

	// Without -label: every CA with a certstore.
	r = pkid(t, "ocsprefresh", "-config", cfg)
	if r.code != 0 || !strings.Contains(r.stderr, "legacy: checked 1, signed 1") || !strings.Contains(r.stderr, "issuing: checked 2") {
		t.Errorf("ocsprefresh all: %+v", r)
	}
	r = pkid(t, "ocspdump", "-config", cfg)
	if lines := strings.Fields(r.stdout); r.code != 0 || len(lines) != 3 {
		t.Errorf("ocspdump all: %+v", r)
	} else {
		found := false
		for _, l := range lines {
			der, _ := base64.StdEncoding.DecodeString(l)
			if resp, err := ocsp.ParseResponse(der, legCA); err == nil && resp.SerialNumber.Cmp(leg[0].SerialNumber) == 0 && resp.Status == ocsp.Good {
				found = true
			}
		}
		if !found {
			t.Errorf("legacy response missing from the dump")
		}
	}
	wantFail(t, pkid(t, "ocsprefresh", "-config", cfg, "-label", "nope"), "nope")
	wantFail(t, pkid(t, "ocsprefresh", "-config", cfg, "-interval", "soon"), "-interval")
	wantFail(t, pkid(t, "ocspdump", "-config", cfg, "-label", "nope"), "nope")
}

// pemCert encodes c as PEM.
func pemCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// summaryLines returns ocsprefresh's "LABEL: checked ..." lines.
func summaryLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, ": checked ") {
			out = append(out, l)
		}
	}
	return out
}
