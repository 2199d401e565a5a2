package storecfssl

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pkid/pkid/sdk"
)

// extrasKey is the metadata key holding what CFSSL has no column for.
const extrasKey = "pkid"

// extras are the pkid fields stored inside the metadata column.
type extras struct {
	Profile string    `json:"profile,omitempty"`
	Subject *string   `json:"subject,omitempty"`
	SANs    *[]string `json:"sans,omitempty"`
	// Merged: the rest of the metadata object is the record's metadata;
	// otherwise Metadata holds it (absent: none).
	Merged   bool            `json:"merged,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

func (e extras) empty() bool { return e.Profile == "" && e.Subject == nil && e.SANs == nil }

// derived is what a record's certificate says about itself; ok is false
// when der is not a certificate (then nothing can be derived).
type derived struct {
	ok         bool
	subject    string
	commonName string
	sans       []string
	dnsNames   []string
}

// derive parses der as pkid's issuer would record it (core/ca.Record).
func derive(der []byte) derived {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return derived{}
	}
	sans := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, c.EmailAddresses...)
	for _, u := range c.URIs {
		sans = append(sans, u.String())
	}
	return derived{ok: true, subject: c.Subject.String(), commonName: c.Subject.CommonName, sans: sans, dnsNames: c.DNSNames}
}

// encodeMetadata returns the metadata column for rec: its metadata as is
// when every other field is recoverable from the certificate (as for a
// CFSSL-issued row), otherwise with the extras under "pkid".
func encodeMetadata(rec *sdk.CertRecord, d derived) (string, error) {
	var ex extras
	ex.Profile = rec.Profile
	if !d.ok || d.subject != rec.Subject {
		s := rec.Subject
		ex.Subject = &s
	}
	if !d.ok || !slices.Equal(d.sans, rec.SANs) && !(len(d.sans) == 0 && len(rec.SANs) == 0) {
		s := slices.Clone(rec.SANs)
		if s == nil {
			s = []string{}
		}
		ex.SANs = &s
	}
	obj, isObj := jsonObject(rec.Metadata)
	_, clash := obj[extrasKey]
	if ex.empty() && !clash {
		if len(rec.Metadata) == 0 {
			return "null", nil
		}
		return string(rec.Metadata), nil
	}
	if isObj && !clash {
		ex.Merged = true
	} else {
		ex.Metadata = rec.Metadata
		obj = map[string]json.RawMessage{}
	}
	b, err := json.Marshal(ex)
	if err != nil {
		return "", err
	}
	obj[extrasKey] = b
	out, err := json.Marshal(obj)
	return string(out), err
}

// jsonObject decodes raw as a JSON object.
func jsonObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// decodeMetadata splits the metadata column into the record's metadata and
// the extras. JSON null (what CFSSL writes for no metadata) is none.
func decodeMetadata(col []byte) (json.RawMessage, extras, error) {
	col = bytes.TrimSpace(col)
	if len(col) == 0 || string(col) == "null" {
		return nil, extras{}, nil
	}
	obj, ok := jsonObject(col)
	raw, has := obj[extrasKey]
	if !ok || !has {
		return json.RawMessage(col), extras{}, nil
	}
	var ex extras
	if err := json.Unmarshal(raw, &ex); err != nil {
		// Someone else's "pkid" key: the column is plain metadata.
		return json.RawMessage(col), extras{}, nil
	}
	if !ex.Merged {
		return ex.Metadata, ex, nil
	}
	delete(obj, extrasKey)
	meta, err := json.Marshal(obj)
	return meta, ex, err
}

// encodePEM is the pem column: the certificate as CFSSL writes it.
func encodePEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// decodePEM reads the pem column back to DER.
func decodePEM(text []byte) ([]byte, error) {
	block, _ := pem.Decode(text)
	if block == nil {
		return nil, errors.New("pem column holds no PEM block")
	}
	return block.Bytes, nil
}

// sqliteTime is how CFSSL's SQLite driver (mattn/go-sqlite3) writes a
// time.Time, and the first layout it parses back.
const sqliteTime = "2006-01-02 15:04:05.999999999-07:00"

// parseTime reads a timestamp column as the drivers return it: time.Time,
// or text in the layouts SQLite drivers write. CFSSL's zero time (year 1)
// reads as the zero time.
func parseTime(v any) (time.Time, error) {
	var t time.Time
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		t = x
	case []byte:
		return parseTime(string(x))
	case string:
		var err error
		for _, layout := range []string{sqliteTime, "2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano,
			"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999 -0700 MST"} {
			if t, err = time.Parse(layout, x); err == nil {
				break
			}
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q: unknown layout", x)
		}
	default:
		return time.Time{}, fmt.Errorf("timestamp of type %T", v)
	}
	if t.Year() <= 1 {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}
