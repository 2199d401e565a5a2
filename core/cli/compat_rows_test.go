package cli

// compatRows is the compat suite's table (compat_test.go). Placeholders:
// {NAME} is a fixture file's path (ca.pem, ca-key.pem, leaf.pem, leaf.csr,
// leaf-key.pem, responder.pem, responder-key.pem, ca.json, leaf.json,
// config.json, serials.txt, leaf.envelope, leaf.bare), {NAME.pem:json}
// its content as a JSON string; {serial} and {aki} are the leaf's,
// recorded in both certdbs; {db} is each side's own certdb configuration
// and {url} each side's daemon; {dir} the fixture directory.
var compatRows = []compatRow{
	// ---- API endpoints, against cfssl serve and pkid serve with the same
	// command line (-ca -ca-key -config -responder -responder-key
	// -ca-bundle -db-config).
	{covers: []string{"endpoint sign"}, method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "profile": "www"}`, mode: sameEnvelope},
	{covers: []string{"endpoint sign"}, method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "hostname": "a.example.com,10.0.0.9", "profile": "client"}`, mode: sameEnvelope},
	{covers: []string{"endpoint sign"}, method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "hosts": [], "subject": {"CN": "override", "names": [{"O": "other"}]}}`, mode: sameEnvelope},
	{covers: []string{"endpoint sign"}, method: "POST", path: "sign", body: `{"certificate_request": `, mode: sameEnvelope},
	{covers: []string{"endpoint sign"}, method: "POST", path: "sign", body: `{"profile": "www"}`, mode: sameEnvelope},
	{covers: []string{"endpoint sign"}, method: "POST", path: "sign", body: `{"certificate_request": "not a CSR"}`, mode: sameEnvelope},
	{covers: []string{"endpoint sign"}, method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "profile": "nosuch"}`, mode: sameEnvelope, diff: "Unknown profiles are errors"},
	{covers: []string{"endpoint sign"}, method: "GET", path: "sign", mode: sameEnvelope},
	{covers: []string{"endpoint authsign"}, method: "POST", path: "authsign", body: `{"token": "", "request": ""}`, mode: sameEnvelope, diff: "Unknown paths get an envelope"},
	{covers: []string{"endpoint authsign"}, ref: "TestRemoteCFSSLServe"},
	{covers: []string{"endpoint info"}, method: "POST", path: "info", body: `{}`, mode: sameResult},
	{covers: []string{"endpoint info"}, method: "POST", path: "info", body: `{"profile": "client"}`, mode: sameResult},
	{covers: []string{"endpoint info"}, method: "POST", path: "info", body: `{"label": "nosuch"}`, mode: sameEnvelope, diff: "Unknown labels are errors"},
	{covers: []string{"endpoint info"}, method: "POST", path: "info", body: `{"profile": "nosuch"}`, mode: sameEnvelope, diff: "Unknown profiles are errors"},
	{covers: []string{"endpoint info"}, method: "POST", path: "info", body: `[`, mode: sameEnvelope},
	{covers: []string{"endpoint newkey"}, method: "POST", path: "newkey", body: `{"CN": "k.example.com", "hosts": ["k.example.com"], "key": {"algo": "rsa", "size": 2048}}`, mode: sameEnvelope},
	{covers: []string{"endpoint newkey"}, method: "POST", path: "newkey", body: `{"CN": "k.example.com", "key": {"algo": "rsa", "size": 1024}}`, mode: sameEnvelope},
	{covers: []string{"endpoint newkey"}, method: "POST", path: "newkey", body: `{"CN": "k.example.com", "ca": {"expiry": "1h"}}`, mode: sameEnvelope},
	{covers: []string{"endpoint newkey"}, method: "POST", path: "newkey", body: `{}`, mode: sameEnvelope, diff: "Requests need a subject"},
	{covers: []string{"endpoint newcert"}, method: "POST", path: "newcert", body: `{"request": {"CN": "n.example.com", "hosts": ["n.example.com"]}, "profile": "www"}`, mode: sameEnvelope},
	{covers: []string{"endpoint newcert"}, method: "POST", path: "newcert", body: `{"request": {"CN": "n.example.com"}}`, mode: sameEnvelope},
	{covers: []string{"endpoint newcert"}, method: "POST", path: "newcert", body: `{"profile": "www"}`, mode: sameEnvelope, diff: "Requests need a subject"},
	{covers: []string{"endpoint init_ca"}, method: "POST", path: "init_ca", body: `{"CN": "sub CA", "key": {"algo": "ecdsa", "size": 256}, "ca": {"pathlen": 1, "expiry": "8760h"}}`, mode: sameEnvelope},
	{covers: []string{"endpoint init_ca"}, method: "POST", path: "init_ca", body: `{}`, mode: sameEnvelope},
	{covers: []string{"endpoint bundle"}, method: "POST", path: "bundle", body: `{"certificate": {leaf.pem:json}, "flavor": "force"}`, mode: sameEnvelope},
	{covers: []string{"endpoint bundle"}, method: "POST", path: "bundle", body: `{"nothing": "x"}`, mode: sameEnvelope},
	{covers: []string{"endpoint bundle"}, method: "POST", path: "bundle", body: `{"certificate": 7}`, mode: sameEnvelope, diff: "Client mistakes are 4xx, faults are opaque"},
	{covers: []string{"endpoint certinfo"}, method: "POST", path: "certinfo", body: `{"certificate": {leaf.pem:json}}`, mode: sameResult},
	{covers: []string{"endpoint certinfo"}, method: "POST", path: "certinfo", body: `{"serial": "{serial}", "authority_key_id": "{aki}"}`, mode: sameEnvelope},
	{covers: []string{"endpoint certinfo"}, method: "POST", path: "certinfo", body: `{"nothing": "x"}`, mode: sameEnvelope},
	{covers: []string{"endpoint crl"}, method: "GET", path: "crl", mode: sameEnvelope},
	{covers: []string{"endpoint crl"}, method: "GET", path: "crl?expiry=1h", mode: sameEnvelope},
	{covers: []string{"endpoint gencrl"}, method: "POST", path: "gencrl", body: `{"certificate": {ca.pem:json}, "serialNumber": ["1"], "issuingKey": {ca-key.pem:json}, "expireTime": "3600"}`, mode: sameEnvelope, diff: "Opt-in endpoints"},
	{covers: []string{"endpoint revoke"}, method: "POST", path: "revoke", body: `{"serial": "", "authority_key_id": "{aki}"}`, mode: sameEnvelope},
	{covers: []string{"endpoint revoke"}, method: "POST", path: "revoke", body: `{"serial": "{serial}", "authority_key_id": "{aki}", "reason": "bogus"}`, mode: sameEnvelope},
	{covers: []string{"endpoint revoke"}, method: "POST", path: "revoke", body: `{"serial": "12345", "authority_key_id": "{aki}", "reason": "keyCompromise"}`, mode: sameEnvelope},
	{covers: []string{"endpoint revoke"}, method: "POST", path: "revoke", body: `{"serial": "{serial}", "authority_key_id": "{aki}", "reason": "superseded"}`, mode: sameEnvelope},
	{covers: []string{"endpoint ocspsign"}, method: "POST", path: "ocspsign", body: `{"certificate": {leaf.pem:json}, "status": "good"}`, mode: sameEnvelope, diff: "ocspsign is off by default"},
	{covers: []string{"endpoint scan"}, method: "GET", path: "scan", mode: sameEnvelope, diff: "Scans are bounded per host and per request"},
	{covers: []string{"endpoint scan"}, ref: "TestServeScan"},
	{covers: []string{"endpoint scaninfo"}, method: "GET", path: "scaninfo", mode: sameEnvelope, diff: "Scans are bounded per host and per request"},
	{covers: []string{"endpoint health"}, method: "GET", path: "health", mode: sameResult},
	{covers: []string{"endpoint certadd"}, method: "POST", path: "certadd", body: `{}`, mode: sameEnvelope, diff: "certadd is opt-in"},
	{covers: []string{"endpoint sign"}, method: "POST", path: "nosuch", body: `{}`, mode: sameEnvelope, diff: "Unknown paths get an envelope"},

	// ---- cfssl serve without -ca: what needs no CA.
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}}`, mode: sameEnvelope, diff: "Unknown paths get an envelope"},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "POST", path: "info", body: `{}`, mode: sameEnvelope, diff: "Unknown paths get an envelope"},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "POST", path: "newkey", body: `{"CN": "k.example.com"}`, mode: sameEnvelope},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "POST", path: "init_ca", body: `{}`, mode: sameEnvelope},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "POST", path: "init_ca", body: `{"CN": "x"}`, mode: sameEnvelope},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "POST", path: "certinfo", body: `{"certificate": {leaf.pem:json}}`, mode: sameResult},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "GET", path: "health", mode: sameResult},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "POST", path: "bundle", body: `{"certificate": {leaf.pem:json}}`, mode: sameEnvelope, diff: "bundle needs configured roots"},
	{covers: []string{"endpoint serve-without-ca"}, noCA: true, method: "GET", path: "crl", mode: sameEnvelope, diff: "Unknown paths get an envelope"},
	{covers: []string{"endpoint forwarding-profile"}, ref: "TestCompatForwarding"},

	// ---- multirootca and the OCSP responder: their own side-by-side tests.
	{covers: []string{"endpoint multirootca authsign", "endpoint multirootca info", "endpoint multirootca metrics", "command multirootca",
		"flag multirootca -a", "flag multirootca -roots", "flag multirootca -l", "flag multirootca -loglevel"}, ref: "testdata/dropin/multirootca.txtar"},
	{covers: []string{"flag multirootca -tls-cert", "flag multirootca -tls-key"}, ref: "testdata/dropin/multirootca.txtar"},
	{covers: []string{"endpoint ocspserve GET", "endpoint ocspserve POST", "command cfssl ocspserve", "flag cfssl -responses", "flag cfssl -path"}, ref: "TestOCSPServe"},

	// ---- cfssl commands.
	{covers: []string{"command cfssl gencert -initca", "flag cfssl -initca"}, tool: "cfssl", args: []string{"gencert", "-initca", "{ca.json}"}, mode: sameCert},
	{covers: []string{"command cfssl gencert -initca", "flag cfssl -ca-key"}, tool: "cfssl", args: []string{"gencert", "-initca", "-ca-key", "{ca-key.pem}", "{ca.json}"}, mode: sameCert},
	{covers: []string{"command cfssl gencert -renewca", "flag cfssl -renewca"}, tool: "cfssl", args: []string{"gencert", "-renewca", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}"}, mode: sameCert},
	{covers: []string{"command cfssl gencert", "flag cfssl -ca", "flag cfssl -config", "flag cfssl -profile"}, tool: "cfssl",
		args: []string{"gencert", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-config", "{config.json}", "-profile", "www", "{leaf.json}"}, mode: sameCert},
	{covers: []string{"command cfssl gencert", "flag cfssl -hostname", "flag cfssl -cn"}, tool: "cfssl",
		args: []string{"gencert", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-hostname", "h.example.com,10.1.1.1", "-cn", "other CN", "{leaf.json}"}, mode: sameCert},
	{covers: []string{"command cfssl gencert", "flag cfssl -crl"}, tool: "cfssl",
		args: []string{"gencert", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-crl", "http://crl.example/over.crl", "{leaf.json}"}, mode: sameCert, known: "gencert -crl does not set the CRL distribution point (CFSSL's crl_override)"},
	{covers: []string{"command cfssl gencert"}, tool: "cfssl", args: []string{"gencert", "-ca", "{ca.pem}", "{leaf.json}"}, mode: sameExitCode, diff: "Every CLI failure exits non-zero"},
	{covers: []string{"command cfssl gencert"}, tool: "cfssl", args: []string{"gencert", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-profile", "nosuch", "{leaf.json}"}, mode: sameCert, diff: "Unknown profiles are errors"},
	{covers: []string{"command cfssl gencert -remote", "flag cfssl -remote", "flag cfssl -label"}, tool: "cfssl",
		args: []string{"gencert", "-remote", "{url}", "-profile", "www", "-label", "", "{leaf.json}"}, mode: sameCert},
	{covers: []string{"command cfssl genkey"}, tool: "cfssl", args: []string{"genkey", "{leaf.json}"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl genkey"}, tool: "cfssl", args: []string{"genkey", "-initca", "{ca.json}"}, mode: sameCert},
	{covers: []string{"command cfssl gencsr", "flag cfssl -key"}, tool: "cfssl", args: []string{"gencsr", "-key", "{leaf-key.pem}", "{leaf.json}"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl gencsr", "flag cfssl -cert"}, tool: "cfssl", args: []string{"gencsr", "-key", "{leaf-key.pem}", "-cert", "{leaf.pem}"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl sign"}, tool: "cfssl", args: []string{"sign", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-config", "{config.json}", "-profile", "client", "{leaf.csr}"}, mode: sameCert},
	{covers: []string{"command cfssl sign", "flag cfssl -csr"}, tool: "cfssl", args: []string{"sign", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-csr", "{leaf.csr}", "-hostname", "s.example.com"}, mode: sameCert},
	{covers: []string{"command cfssl sign", "flag cfssl -db-config"}, tool: "cfssl", args: []string{"sign", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-db-config", "{db}", "{leaf.csr}"}, mode: sameCert},
	{covers: []string{"command cfssl sign"}, tool: "cfssl", args: []string{"sign", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "{leaf.json}"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl sign"}, tool: "cfssl", args: []string{"sign", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "www.example.com", "{leaf.csr}"}, mode: sameExitCode},
	{covers: []string{"command cfssl sign -remote"}, tool: "cfssl", args: []string{"sign", "-remote", "{url}", "-profile", "www", "{leaf.csr}"}, mode: sameCert},
	{covers: []string{"command cfssl selfsign"}, tool: "cfssl", args: []string{"selfsign", "self.example.com", "{leaf.json}"}, mode: sameCert, diff: "selfsign uses its HOSTNAME"},
	{covers: []string{"command cfssl bundle", "flag cfssl -ca-bundle", "flag cfssl -flavor"}, tool: "cfssl", args: []string{"bundle", "-cert", "{leaf.pem}", "-ca-bundle", "{ca.pem}", "-flavor", "optimal"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl bundle", "flag cfssl -int-bundle", "flag cfssl -int-dir", "flag cfssl -metadata", "flag cfssl -domain", "flag cfssl -ip", "flag cfssl -password"}, ref: "TestBundleCommandOracle"},
	{covers: []string{"command cfssl bundle"}, ref: "TestBundleCommandDomain"},
	{covers: []string{"command cfssl-bundle"}, tool: "cfssl-bundle", args: []string{"-cert", "{leaf.pem}", "-ca-bundle", "{ca.pem}"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl certinfo"}, tool: "cfssl", args: []string{"certinfo", "-cert", "{leaf.pem}"}, mode: sameStdout},
	{covers: []string{"command cfssl certinfo"}, tool: "cfssl", args: []string{"certinfo", "-csr", "{leaf.csr}"}, mode: sameJSONKeys, diff: "Certificate requests have a defined summary"},
	{covers: []string{"command cfssl certinfo", "flag cfssl -serial", "flag cfssl -aki"}, tool: "cfssl", args: []string{"certinfo", "-serial", "{serial}", "-aki", "{aki}", "-db-config", "{db}"}, mode: sameStdout},
	{covers: []string{"command cfssl-certinfo"}, tool: "cfssl-certinfo", args: []string{"-cert", "{leaf.pem}"}, oracle: []string{"cfssl", "certinfo", "-cert", "{leaf.pem}"}, mode: sameStdout},
	{covers: []string{"command cfssl crl", "flag cfssl -expiry"}, tool: "cfssl", args: []string{"crl", "-db-config", "{db}", "-ca", "{ca.pem}", "-ca-key", "{ca-key.pem}", "-expiry", "24h"}, mode: sameExitCode},
	{covers: []string{"command cfssl gencrl"}, tool: "cfssl", args: []string{"gencrl", "{serials.txt}", "{ca.pem}", "{ca-key.pem}", "3600"}, mode: sameExitCode},
	{covers: []string{"command cfssl gencrl"}, ref: "TestGencrlCommand"},
	{covers: []string{"command cfssl info"}, tool: "cfssl", args: []string{"info", "-remote", "{url}"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl info"}, tool: "cfssl", args: []string{"info", "-remote", "{url}"}, mode: sameStdout, known: "pkid sorts info's keys and ends the line; CFSSL prints certificate, usages, expiry without a newline"},
	{covers: []string{"command cfssl info"}, tool: "cfssl", args: []string{"info", "-remote", "{url}", "-profile", "client"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl ocspsign", "flag cfssl -responder", "flag cfssl -responder-key", "flag cfssl -status", "flag cfssl -reason", "flag cfssl -revoked-at"}, tool: "cfssl",
		args: []string{"ocspsign", "-ca", "{ca.pem}", "-responder", "{responder.pem}", "-responder-key", "{responder-key.pem}", "-cert", "{leaf.pem}", "-status", "revoked", "-reason", "1", "-revoked-at", "now"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl ocspsign", "flag cfssl -interval"}, tool: "cfssl",
		args: []string{"ocspsign", "-ca", "{ca.pem}", "-responder", "{responder.pem}", "-responder-key", "{responder-key.pem}", "-cert", "{leaf.pem}", "-interval", "1h"}, mode: sameJSONKeys},
	{covers: []string{"command cfssl ocsprefresh"}, tool: "cfssl",
		args: []string{"ocsprefresh", "-db-config", "{db}", "-ca", "{ca.pem}", "-responder", "{responder.pem}", "-responder-key", "{responder-key.pem}"}, mode: sameStdout},
	{covers: []string{"command cfssl ocspdump"}, tool: "cfssl", args: []string{"ocspdump", "-db-config", "{db}"}, mode: sameExitCode},
	{covers: []string{"command cfssl ocsprefresh", "command cfssl ocspdump"}, ref: "TestOCSPRefreshAndDump"},
	{covers: []string{"command cfssl revoke"}, tool: "cfssl", args: []string{"revoke", "-db-config", "{db}", "-serial", "99", "-aki", "{aki}", "-reason", "keyCompromise"}, mode: sameExitCode},
	{covers: []string{"command cfssl revoke"}, tool: "cfssl", args: []string{"revoke", "-db-config", "{db}", "-serial", "{serial2}", "-aki", "{aki}"}, mode: sameExitCode, diff: "Revocation reasons and re-revocation"},
	{covers: []string{"command cfssl revoke"}, ref: "TestDBConfigSideBySide"},
	{covers: []string{"command cfssl scan", "command cfssl-scan", "flag cfssl -list", "flag cfssl -family", "flag cfssl -scanner", "flag cfssl -timeout",
		"flag cfssl -csv", "flag cfssl -num-workers", "flag cfssl -max-hosts"}, ref: "TestScanSideBySideCFSSL"},
	{covers: []string{"command cfssl scan"}, ref: "TestScanListCoversCFSSL"},
	{covers: []string{"command cfssl serve", "flag cfssl -address", "flag cfssl -port", "flag cfssl -disable", "flag cfssl -tls-cert", "flag cfssl -tls-key",
		"flag cfssl -mutual-tls-ca", "flag cfssl -mutual-tls-cn", "flag cfssl -min-tls-version"}, ref: "testdata/dropin/serve_flags.txtar"},
	{covers: []string{"command cfssl serve"}, ref: "testdata/dropin/serve_readme.txtar"},
	{covers: []string{"flag cfssl -tls-remote-ca", "flag cfssl -mutual-tls-client-cert", "flag cfssl -mutual-tls-client-key"}, ref: "TestServeConfigAuthTLS"},
	{covers: []string{"command cfssl print-defaults"}, tool: "cfssl", args: []string{"print-defaults", "list"}, mode: sameLines},
	{covers: []string{"command cfssl print-defaults"}, tool: "cfssl", args: []string{"print-defaults", "config"}, mode: sameStdout},
	{covers: []string{"command cfssl print-defaults"}, tool: "cfssl", args: []string{"print-defaults", "csr"}, mode: sameStdout},
	{covers: []string{"command cfssl print-defaults"}, tool: "cfssl", args: []string{"print-defaults", "nosuch"}, mode: sameExitCode, diff: "Every CLI failure exits non-zero"},
	{covers: []string{"command cfssl version"}, tool: "cfssl", args: []string{"version"}, mode: sameExitCode},
	{covers: []string{"command mkbundle", "flag mkbundle -f", "flag mkbundle -nw"}, tool: "mkbundle", args: []string{"-f", "{dir}/out-{side}.pem", "-nw", "2", "{ca.pem}"}, mode: sameStdout},
	{covers: []string{"command mkbundle"}, ref: "TestMkbundleOracle"},
	{covers: []string{"command cfssljson", "flag cfssljson -bare", "flag cfssljson -stdout"}, tool: "cfssljson", args: []string{"-bare", "-stdout"}, stdin: "@{leaf.bare}", mode: sameStdout},
	{covers: []string{"command cfssljson", "flag cfssljson -f", "flag cfssljson -stdout"}, tool: "cfssljson", args: []string{"-f", "{leaf.envelope}", "-stdout"}, mode: sameStdout},
	{covers: []string{"flag cfssljson -version"}, tool: "cfssljson", args: []string{"-version"}, mode: sameExitCode},
	{covers: []string{"command cfssljson"}, ref: "TestJSONGolden"},
	{covers: []string{"command cfssl-newkey"}, tool: "cfssl-newkey", args: []string{"{leaf.json}"}, oracle: []string{"cfssl", "genkey", "{leaf.json}"}, mode: sameJSONKeys},
}

// Every global flag is accepted by every command (CFSSL shares one flag
// set): each through print-defaults, which ignores them all.
func init() {
	for _, f := range []struct{ name, value string }{
		{"hostname", "a.example"}, {"cn", "x"}, {"label", "x"}, {"profile", "x"}, {"config", "{config.json}"}, {"crl", "http://c.example/x.crl"},
		{"initca", ""}, {"renewca", ""}, {"remote", "127.0.0.1:1"}, {"ca", "{ca.pem}"}, {"ca-key", "{ca-key.pem}"}, {"cert", "{leaf.pem}"},
		{"csr", "{leaf.csr}"}, {"key", "{leaf-key.pem}"}, {"password", "0"}, {"db-config", "{db}"}, {"address", "127.0.0.1"}, {"port", "8888"},
		{"tls-cert", "x"}, {"tls-key", "x"}, {"mutual-tls-ca", "x"}, {"mutual-tls-cn", "x"}, {"min-tls-version", "1.2"}, {"disable", "sign"},
		{"tls-remote-ca", "x"}, {"mutual-tls-client-cert", "x"}, {"mutual-tls-client-key", "x"}, {"ca-bundle", "x"}, {"int-bundle", "x"},
		{"int-dir", "x"}, {"metadata", "x"}, {"flavor", "optimal"}, {"domain", "x"}, {"ip", "x"}, {"responder", "x"}, {"responder-key", "x"},
		{"status", "good"}, {"reason", "1"}, {"revoked-at", "now"}, {"interval", "1h"}, {"responses", "x"}, {"path", "/"}, {"serial", "1"},
		{"aki", "ab"}, {"expiry", "1h"}, {"list", ""}, {"family", "x"}, {"scanner", "x"}, {"timeout", "1m"}, {"csv", "x"}, {"num-workers", "2"},
		{"max-hosts", "2"}, {"intermediates", "x"}, {"authkey", "x"}, {"usage", "x"}, {"pgp-private", "x"}, {"pgp-name", "x"}, {"loglevel", "2"},
	} {
		arg := "-" + f.name
		if f.value != "" {
			arg += "=" + f.value
		}
		r := compatRow{covers: []string{"flag cfssl -" + f.name}, tool: "cfssl", args: []string{"print-defaults", arg, "csr"}, mode: sameStdout}
		switch f.name {
		case "list":
			r.known = "-list takes a value in pkid (a bool in CFSSL), so it swallows the next argument"
		}
		compatRows = append(compatRows, r)
	}
}
