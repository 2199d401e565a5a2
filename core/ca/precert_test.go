package ca

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
)

// TestCTMetadata: the CT record joins the caller's metadata under "ct";
// metadata that is not an object is kept whole beside it.
func TestCTMetadata(t *testing.T) {
	c := &ctIssuance{precertDER: []byte{1, 2}, scts: &SCTList{SCTs: []SCT{{LogURL: "https://log.example"}}}}
	for _, tc := range []struct{ in, want string }{
		{``, `{"ct":{"precertificate":"AQI=","scts":[{"log_url":"https://log.example","log_id":null,"timestamp":"0001-01-01T00:00:00Z","sct":null}]}}`},
		{`{"ticket":"T-1"}`, `{"ct":{"precertificate":"AQI=","scts":[{"log_url":"https://log.example","log_id":null,"timestamp":"0001-01-01T00:00:00Z","sct":null}]},"ticket":"T-1"}`},
		{`["a"]`, `{"ct":{"precertificate":"AQI=","scts":[{"log_url":"https://log.example","log_id":null,"timestamp":"0001-01-01T00:00:00Z","sct":null}]},"metadata":["a"]}`},
		{`null`, `{"ct":{"precertificate":"AQI=","scts":[{"log_url":"https://log.example","log_id":null,"timestamp":"0001-01-01T00:00:00Z","sct":null}]},"metadata":null}`},
	} {
		got, err := c.metadata(json.RawMessage(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v\nwant %s", tc.in, got, err, tc.want)
		}
	}
}

// TestCTWithoutSource: a profile with a ct block on an issuer that cannot
// submit is refused with the CT code, before anything is signed.
func TestCTWithoutSource(t *testing.T) {
	ctx := context.Background()
	kr := &csr.KeyRequest{Algo: "ecdsa", Size: 256}
	key, err := kr.Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := InitCA(ctx, InitCARequest{Request: &csr.Request{CN: "ct root", KeyRequest: kr}, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := profile.ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "720h", "usages": ["digital signature", "server auth"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	profiles.Default.CT = &config.CTPolicy{RequiredSCTs: 1}
	iss, err := NewIssuer(IssuerConfig{Label: "t", Certificate: root.Cert, Signer: key, Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := kr.Generate()
	req, _ := csr.Generate(&csr.Request{CN: "leaf.example", Hosts: []string{"leaf.example"}, KeyRequest: kr}, lk)
	_, err = iss.Sign(ctx, SignRequest{CSR: req})
	if CodeOf(err) != CodeCTSubmission {
		t.Errorf("err %v (code %d), want %d", err, CodeOf(err), CodeCTSubmission)
	}
}
