package forward

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// FuzzProbe: probe reads untrusted request bodies (and the base64 request
// inside a token wrapper) to decide whether a request forwards; it must
// never panic, and a profile it reports must be the one the body (or its
// wrapped request) names.
func FuzzProbe(f *testing.F) {
	f.Add("sign", []byte(`{"certificate_request":"x","profile":"p","label":"l"}`))
	f.Add("authsign", []byte(`{"token":"AAAA","request":"`+base64.StdEncoding.EncodeToString([]byte(`{"profile":"p"}`))+`"}`))
	f.Add("newcert", []byte(`{"token":"","request":"e30="}`))
	f.Add("info", []byte(`{"token":"x","request":"e30=","profile":"q"}`))
	f.Add("sign", []byte(`{"token":null,"request":{"CN":"x"}}`))
	f.Fuzz(func(t *testing.T, endpoint string, body []byte) {
		label, profile, wrapped, err := probe(endpoint, body)
		if err != nil {
			return
		}
		if endpoint == "info" && wrapped {
			t.Fatal("info has no token wrapper")
		}
		var outer struct {
			Label, Profile string
			Request        json.RawMessage
		}
		json.Unmarshal(body, &outer)
		if !wrapped && (outer.Label != label || outer.Profile != profile) {
			t.Fatalf("probe says %q/%q, body says %q/%q", label, profile, outer.Label, outer.Profile)
		}
	})
}
