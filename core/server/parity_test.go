package server

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// extensionOIDs parses a PEM certificate: its subject bytes and extension
// OIDs.
func extensionOIDs(t *testing.T, pemCert []byte) (subject []byte, oids []string) {
	t.Helper()
	c := parsePEMCert(t, pemCert)
	for _, e := range c.Extensions {
		oids = append(oids, e.Id.String())
	}
	return c.RawSubject, oids
}

// newcert keeps csr.json's E and OID subject attributes and the delegation
// usage extension, as CFSSL does for the same csr.json (its gencert signs
// through the same code as its newcert).
func TestParityNewcertSubject(t *testing.T) {
	bin := oracle(t, "cfssl")
	dir := t.TempDir()
	req := `{"CN": "n.example", "hosts": ["n.example", "n@example.com"], "delegation_enabled": true,
	  "names": [{"C": "US", "O": "pkid", "E": "n@example.com", "OID": {"1.2.3.4.5": "oid value"}}]}`
	f := writeFile(t, dir, "csr.json", []byte(req))
	ca := runCFSSL(t, bin, dir, "gencert", "-initca", writeFile(t, dir, "ca.json", []byte(`{"CN": "oracle CA"}`)))
	var caRes struct{ Cert, Key string }
	if err := json.Unmarshal(ca, &caRes); err != nil {
		t.Fatal(err)
	}
	out := runCFSSL(t, bin, dir, "gencert", "-ca", writeFile(t, dir, "ca.pem", []byte(caRes.Cert)),
		"-ca-key", writeFile(t, dir, "ca-key.pem", []byte(caRes.Key)), f)
	var theirs struct{ Cert string }
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	wantSubject, wantOIDs := extensionOIDs(t, []byte(theirs.Cert))

	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "newcert", `{"request": `+req+`, "profile": "server"}`)
	wantOK(t, r)
	var res struct{ Certificate string }
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal(err)
	}
	subject, oids := extensionOIDs(t, []byte(res.Certificate))
	if !bytes.Equal(subject, wantSubject) {
		t.Errorf("subject: cfssl %x, pkid %x", wantSubject, subject)
	}
	const delegation = "1.3.6.1.4.1.44363.44"
	if !slices.Contains(wantOIDs, delegation) || !slices.Contains(oids, delegation) {
		t.Errorf("delegation usage: cfssl %v, pkid %v", wantOIDs, oids)
	}
}
