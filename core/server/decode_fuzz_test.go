package server

import (
	"strings"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary bodies through the API's request
// decoding, as each endpoint does it: the token wrapper, the typed
// bodies, the key request of newkey/init_ca, the string maps of certinfo
// and sign's conversion. Nothing may panic, and every refusal must be a
// client error (4xx, one line): a decoding failure that classifies as a
// 500 is a bug the daemon would show.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"certificate_request":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----","hosts":["a.example.com"],"profile":"server","label":"issuing"}`,
		`{"certificate_request":"x","serial":"123","subject":{"CN":"a","names":[{"C":"US","O":"x"}]},"extensions":[{"id":"1.2.3","critical":true,"value":"0500"}],"NotBefore":"2020-01-01T00:00:00Z","metadata":{"a":1}}`,
		`{"token":"AAAA","request":"e30="}`,
		`{"token":"!!","request":"e30="}`,
		`{"CN":"x","hosts":["a","b"],"key":{"algo":"rsa","size":2048},"names":[{"C":"US"}],"ca":{"pathlen":1,"expiry":"1h"}}`,
		`{"request":{"CN":"x"},"profile":"p","label":"l","bundle":true}`,
		`{"serial":"1","authority_key_id":"00ff","reason":"keyCompromise","label":"x"}`,
		`{"certificate":"x","serialNumber":["1","2"],"issuingKey":"k","expireTime":"1h"}`,
		`{"certificate":"x","status":"revoked","reason":1,"revoked_at":"now","issuer_hash":"SHA256"}`,
		`{"certificate":"x","domain":"example.com:443"}`,
		`[[[[[[]]]]]]`, `"x"`, `null`, `{"serial":1e400}`, `{"hosts":"a"}`, "{\"a\":\"\xff\"}", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		clientError := func(what string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			status, _, msg, internal := classify(err)
			if internal || status < 400 || status >= 500 {
				t.Fatalf("%s: %v classifies as %d (internal %v), want a 4xx", what, err, status, internal)
			}
			if msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("%s: message %q is not one line", what, msg)
			}
		}
		decode := func(what string, data []byte, v any) bool {
			t.Helper()
			err := decodeJSON(data, v)
			if err != nil {
				clientError(what, badRequest("%v", err))
			}
			return err == nil
		}

		_, inner, _, err := unwrap(body)
		clientError("unwrap", err)
		if err != nil {
			inner = body
		}
		var sb signBody
		if decode("sign", inner, &sb) {
			_, err := sb.signRequest(true)
			clientError("signRequest", err)
		}
		var w wrapper
		if decode("authsign", inner, &w) {
			_, _, err := decodeWrapper(&w)
			clientError("decodeWrapper", err)
		}
		decode("newcert", inner, &newcertBody{})
		decode("revoke", inner, &revokeBody{})
		decode("gencrl", inner, &gencrlBody{})
		decode("ocspsign", inner, &ocspsignBody{})
		_, err = parseKeyRequest(body)
		clientError("parseKeyRequest", err)
		_, err = decodeStringMap(body)
		clientError("decodeStringMap", err)
	})
}
