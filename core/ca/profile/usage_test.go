package profile

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"reflect"
	"testing"
)

func TestResolveUsages(t *testing.T) {
	all := []string{"signing", "digital signature", "content commitment", "key encipherment",
		"key agreement", "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only",
		"any", "server auth", "client auth", "code signing", "email protection", "s/mime",
		"ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
		"microsoft sgc", "netscape sgc"}
	ku, eku, oids, unknown := ResolveUsages(all)
	if ku != 1<<9-1 {
		t.Errorf("key usage = %b", ku)
	}
	wantEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageAny, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth,
		x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageIPSECEndSystem,
		x509.ExtKeyUsageIPSECTunnel, x509.ExtKeyUsageIPSECUser, x509.ExtKeyUsageTimeStamping,
		x509.ExtKeyUsageOCSPSigning, x509.ExtKeyUsageMicrosoftServerGatedCrypto, x509.ExtKeyUsageNetscapeServerGatedCrypto}
	if !reflect.DeepEqual(eku, wantEKU) || oids != nil || unknown != nil {
		t.Errorf("eku %v oids %v unknown %q", eku, oids, unknown)
	}

	for _, tc := range []struct {
		names   []string
		ku      x509.KeyUsage
		eku     []x509.ExtKeyUsage
		oids    []asn1.ObjectIdentifier
		unknown []string
	}{
		{[]string{"signing"}, x509.KeyUsageDigitalSignature, nil, nil, nil},
		{[]string{"signing", "digital signature"}, x509.KeyUsageDigitalSignature, nil, nil, nil},
		{[]string{"server auth", "server auth", "s/mime", "email protection"}, 0,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageEmailProtection}, nil, nil},
		{[]string{"Server Auth", "frob", "", "1.2.3.4", "1.2.3.4", "1.x"}, 0, nil,
			[]asn1.ObjectIdentifier{{1, 2, 3, 4}}, []string{"Server Auth", "frob", "", "1.x"}},
		{nil, 0, nil, nil, nil},
	} {
		ku, eku, oids, unknown := ResolveUsages(tc.names)
		if ku != tc.ku || !reflect.DeepEqual(eku, tc.eku) || !reflect.DeepEqual(oids, tc.oids) || !reflect.DeepEqual(unknown, tc.unknown) {
			t.Errorf("%q: got %v %v %v %q", tc.names, ku, eku, oids, unknown)
		}
	}
}

func TestUsageHint(t *testing.T) {
	for in, want := range map[string]string{
		"Server Auth": "server auth", "client_auth": "client auth", "KEY-ENCIPHERMENT": "key encipherment",
		"server auth": "", "frob": "", "cert  sign": "cert sign",
	} {
		if got := usageHint(in); got != want {
			t.Errorf("usageHint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsageNames(t *testing.T) {
	p := &Profile{Usages: []string{"signing", "frob", "server auth"}}
	if got := UsageNames(p); !reflect.DeepEqual(got, []string{"signing", "frob", "server auth"}) {
		t.Errorf("configured = %q", got)
	}
	got := UsageNames(p)
	got[0] = "x"
	if p.Usages[0] != "signing" {
		t.Error("UsageNames shares the profile's slice")
	}
	derived := &Profile{
		KeyUsage:           x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 2, 3}},
	}
	if got := UsageNames(derived); !reflect.DeepEqual(got, []string{"digital signature", "cert sign", "client auth", "1.2.3"}) {
		t.Errorf("derived = %q", got)
	}
	if UsageNames(&Profile{}) != nil || UsageNames(nil) != nil {
		t.Error("no usages should be nil")
	}
	if got := UsageNames(DefaultConfig().Profiles["www"]); !reflect.DeepEqual(got, []string{"signing", "key encipherment", "server auth"}) {
		t.Errorf("www = %q", got)
	}
}

func TestDropUnfitUsages(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader) // ed is the public key
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	const (
		ds = x509.KeyUsageDigitalSignature
		ke = x509.KeyUsageKeyEncipherment
		de = x509.KeyUsageDataEncipherment
		ka = x509.KeyUsageKeyAgreement
		cs = x509.KeyUsageCertSign
		eo = x509.KeyUsageEncipherOnly
		do = x509.KeyUsageDecipherOnly
	)
	for _, tc := range []struct {
		name string
		ku   x509.KeyUsage
		pub  any
		want x509.KeyUsage
		msgs []string
	}{
		{"ecdsa", ds | ke, &ec.PublicKey, ds, []string{`profile "p": usage "key encipherment" dropped: it does not apply to ECDSA keys`}},
		{"ecdsa keeps agreement", ds | ke | de | ka | eo, &ec.PublicKey, ds | ka | eo, []string{
			`profile "p": usage "key encipherment" dropped: it does not apply to ECDSA keys`,
			`profile "p": usage "data encipherment" dropped: it does not apply to ECDSA keys`}},
		{"ed25519", ds | ke | de | ka | do | cs, ed, ds | cs, []string{
			`profile "p": usage "key encipherment" dropped: it does not apply to Ed25519 keys`,
			`profile "p": usage "data encipherment" dropped: it does not apply to Ed25519 keys`,
			`profile "p": usage "key agreement" dropped: it does not apply to Ed25519 keys`,
			`profile "p": usage "decipher only" dropped: it applies only with key agreement`}},
		{"rsa keeps encipherment", ds | ke | de, &rk.PublicKey, ds | ke | de, nil},
		{"rsa drops agreement", ds | ka | eo, &rk.PublicKey, ds, []string{
			`profile "p": usage "key agreement" dropped: it does not apply to RSA keys`,
			`profile "p": usage "encipher only" dropped: it applies only with key agreement`}},
		{"ecdsa clean", ds, &ec.PublicKey, ds, nil},
		{"unknown key type", ds | ke | ka, "not a key", ds | ke | ka, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Profile{Name: "p", KeyUsage: tc.ku}
			got, msgs := DropUnfitUsages(p, tc.pub)
			if got != tc.want || !reflect.DeepEqual(msgs, tc.msgs) {
				t.Errorf("got %b %q, want %b %q", got, msgs, tc.want, tc.msgs)
			}
			if p.KeyUsage != tc.ku {
				t.Error("profile modified")
			}
		})
	}
	// The built-in default with an ECDSA key loses key encipherment only.
	if got, msgs := DropUnfitUsages(BuiltinDefault(), &ec.PublicKey); got != ds || len(msgs) != 1 {
		t.Errorf("builtin default: %b %q", got, msgs)
	}
}
