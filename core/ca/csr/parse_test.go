package csr

import (
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "csr: invalid JSON: empty document"},
		{"syntax", "{\n  \"CN\": \"x\",\n}", "csr: invalid JSON at line 3, column 1 (offset 16): invalid character '}' looking for beginning of object key string"},
		{"truncated", `{"CN": "x"`, "csr: invalid JSON at line 1, column 10 (offset 10): unexpected end of JSON input"},
		{"trailing", `{} x`, "csr: invalid JSON at line 1, column 4 (offset 4): invalid character 'x' after top-level value"},
		{"not object", `[1]`, "csr: invalid JSON at line 1, column 1 (offset 1): document: want an object, got array"},
		{"CN type", `{"CN": 5}`, "csr: invalid JSON at line 1, column 8 (offset 8): CN: want a string, got number"},
		{"size type", `{"key": {"algo": "rsa", "size": "2048"}}`, `csr: invalid JSON at line 1, column 38 (offset 38): key.size: want an integer, got string`},
		{"size fraction", `{"key": {"size": 256.5}}`, `csr: invalid JSON at line 1, column 22 (offset 22): key.size: want an integer, got number 256.5`},
		{"names type", `{"names": {"C": "US"}}`, `names: want an array, got object`},
		{"OID value type", `{"names": [{"OID": {"1.2.3": 4}}]}`, `names.OID: want a string, got number`},
		{"algo", `{"key": {"algo": "dsa", "size": 2048}}`, `csr: key: algo "dsa" not supported: want ecdsa, rsa or ed25519`},
		{"algo upper", `{"key": {"algo": "RSA", "size": 2048}}`, `csr: key: algo "RSA" not supported: want ecdsa, rsa or ed25519`},
		{"algo empty", `{"key": {"algo": ""}}`, `csr: key: algo "" not supported: want ecdsa, rsa or ed25519`},
		{"rsa small", `{"key": {"algo": "rsa", "size": 1024}}`, "csr: key: rsa size 1024 not allowed: want 2048 to 8192"},
		{"rsa large", `{"key": {"algo": "rsa", "size": 9000}}`, "csr: key: rsa size 9000 not allowed: want 2048 to 8192"},
		{"rsa default size", `{"key": {"algo": "rsa"}}`, "csr: key: rsa size 256 not allowed: want 2048 to 8192"},
		{"ecdsa size", `{"key": {"algo": "ecdsa", "size": 224}}`, "csr: key: ecdsa size 224 not allowed: want 256, 384 or 521"},
		{"ecdsa zero", `{"key": {"size": 0}}`, "csr: key: ecdsa size 0 not allowed: want 256, 384 or 521"},
		{"expiry", `{"ca": {"expiry": "1y"}}`, `csr: ca.expiry: invalid duration "1y": want a Go duration or days, e.g. 8760h, 90m, 14d, 1d12h`},
		{"expiry negative", `{"ca": {"expiry": "-5h"}}`, `csr: ca.expiry: invalid duration "-5h"`},
		{"backdate", `{"ca": {"backdate": "5 minutes"}}`, `csr: ca.backdate: invalid duration "5 minutes"`},
		{"pathlen", `{"ca": {"pathlen": -2}}`, "csr: ca.pathlen: -2 not allowed: want 0 or more (-1 or omitted: no limit)"},
		{"pathlen type", `{"ca": {"pathlen": true}}`, "ca.pathlen: want an integer, got bool"},
		{"name OID", `{"names": [{"OID": {"1.2.x": "v"}}]}`, `csr: names[0].OID: OID "1.2.x": arc 3 is not a decimal number: want dotted decimal like 1.2.3.4`},
		{"name OID short", `{"names": [{}, {"OID": {"1": "v"}}]}`, `csr: names[1].OID: OID "1": an OID needs at least two arcs`},
		{"name OID arc", `{"names": [{"OID": {"1.40.1": "v"}}]}`, `csr: names[0].OID: OID "1.40.1": second OID arc 40 not allowed under 1: want 0 to 39`},
		{"name OID first", `{"names": [{"OID": {"3.1": "v"}}]}`, `first OID arc 3 not allowed: want 0, 1 or 2`},
		{"name OID empty", `{"names": [{"OID": {"": "v"}}]}`, `csr: names[0].OID: empty OID`},
		{"ext id", `{"extensions": [{"Id": [1], "Value": "BQA="}]}`, "csr: extensions[0].Id: an OID needs at least two arcs"},
		{"ext id negative", `{"extensions": [{"Id": [1, -2], "Value": "BQA="}]}`, "csr: extensions[0].Id: OID arc -2 out of range"},
		{"ext id type", `{"extensions": [{"Id": "1.2.3", "Value": "BQA="}]}`, "csr: extensions: Id: want an array, got string"},
		{"ext dup", `{"extensions": [{"Id": [1,2,3]}, {"Id": [1,2,3]}]}`, "csr: extensions[1]: extension 1.2.3 given twice"},
		{"ext base64", `{"extensions": [{"Id": [1,2,3], "Value": "!!"}]}`, "csr: extension 1.2.3: Value must be base64 DER: illegal base64 data at input byte 0"},
		{"crl", `{"crl_url": "crl.example/ca.crl"}`, `csr: crl_url: "crl.example/ca.crl" is not an absolute URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tt.in, r)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error\n got: %s\nwant: %s", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.HasPrefix(msg, "csr: ") {
				t.Errorf("error lacks csr: prefix: %q", msg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid: %v", err)
			}
		})
	}
}

func TestParseKeyMerge(t *testing.T) {
	// CFSSL decodes "key" into a pre-filled ecdsa-256 request.
	tests := []struct {
		in   string
		want KeyRequest
	}{
		{`{}`, KeyRequest{"ecdsa", 256}},
		{`{"key": null}`, KeyRequest{"ecdsa", 256}},
		{`{"key": {}}`, KeyRequest{"ecdsa", 256}},
		{`{"key": {"size": 384}}`, KeyRequest{"ecdsa", 384}},
		{`{"key": {"algo": "ed25519"}}`, KeyRequest{"ed25519", 256}},
		{`{"key": {"algo": "ed25519", "size": 1}}`, KeyRequest{"ed25519", 1}},
		{`{"KEY": {"ALGO": "rsa", "Size": 3072}}`, KeyRequest{"rsa", 3072}},
		{`{"key": {"algo": "rsa", "size": 2049}}`, KeyRequest{"rsa", 2049}},
		{`{"key": {"algo": "ecdsa", "size": 521}}`, KeyRequest{"ecdsa", 521}},
	}
	for _, tt := range tests {
		r, err := Parse([]byte(tt.in))
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.in, err)
			continue
		}
		if *r.KeyRequest != tt.want {
			t.Errorf("Parse(%s).KeyRequest = %+v, want %+v", tt.in, *r.KeyRequest, tt.want)
		}
	}
}

func TestParseFull(t *testing.T) {
	in := `{
		"cn": "ca.example", "Hosts": ["a.example", "10.0.0.1"], "unknown": {"ignored": true},
		"names": [{"C": "US", "O": "Org", "OID": {"1.2.3.4": "v"}, "SerialNumber": "x"}],
		"key": {"algo": "rsa", "size": 4096},
		"ca": {"pathlen": 1, "pathlenzero": false, "expiry": "3650d", "backdate": "1d2h"},
		"serialnumber": "SN", "delegation_enabled": true, "crl_url": "http://crl.example/ca.crl",
		"extensions": [{"id": [1, 2, 3], "critical": true, "value": "BQA="}]
	}`
	r, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.CN != "ca.example" || len(r.Hosts) != 2 || r.SerialNumber != "SN" || !r.DelegationEnabled ||
		r.CRL != "http://crl.example/ca.crl" || r.Names[0].OID["1.2.3.4"] != "v" || r.Names[0].SerialNumber != "x" {
		t.Errorf("Parse = %+v", r)
	}
	if len(r.Extensions) != 1 || !r.Extensions[0].ID.Equal(asn1.ObjectIdentifier{1, 2, 3}) ||
		!r.Extensions[0].Critical || string(r.Extensions[0].Value) != "\x05\x00" {
		t.Errorf("Extensions = %+v", r.Extensions)
	}
	exp, err := r.CA.ExpiryDuration()
	if err != nil || exp != 3650*24*time.Hour {
		t.Errorf("ExpiryDuration = %v, %v", exp, err)
	}
	bd, err := r.CA.BackdateDuration()
	if err != nil || bd != 26*time.Hour {
		t.Errorf("BackdateDuration = %v, %v", bd, err)
	}
	if n, zero := r.CA.MaxPathLen(); n != 1 || zero {
		t.Errorf("MaxPathLen = %d, %v", n, zero)
	}
}

func TestMaxPathLen(t *testing.T) {
	tests := []struct {
		ca       CAConfig
		wantN    int
		wantZero bool
	}{
		{CAConfig{}, -1, false},
		{CAConfig{PathLength: 0, PathLenZero: true}, 0, true},
		{CAConfig{PathLength: 2}, 2, false},
		{CAConfig{PathLength: 2, PathLenZero: true}, 2, false},
		{CAConfig{PathLength: -1}, -1, false},
	}
	for _, tt := range tests {
		n, zero := tt.ca.MaxPathLen()
		if n != tt.wantN || zero != tt.wantZero {
			t.Errorf("%+v.MaxPathLen() = %d, %v; want %d, %v", tt.ca, n, zero, tt.wantN, tt.wantZero)
		}
	}
}

func TestValidateNilKey(t *testing.T) {
	if err := (&Request{}).Validate(); err != nil {
		t.Errorf("Validate with nil key: %v", err)
	}
}
