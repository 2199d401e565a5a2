package cli

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/zclconf/go-cty/cty"
)

// compatPlan is a CFSSL deployment (a `cfssl serve` command line or a
// multirootca roots file) described as what pkid needs: CAs whose keys are
// imported into a file keystore, their signing configurations, and the
// daemon's settings. render turns it into pkid HCL; serve and multirootca
// run it from an ephemeral directory, `pkid config import` prints it.
type compatPlan struct {
	KeyDir, PassphraseFile string // the file keystore holding the imported keys
	// KDFWorkFactor, when set, is the file keystore's scrypt work factor.
	KDFWorkFactor int
	// StateDir, when set, is the pkid block's state_dir (published CRLs).
	StateDir             string
	Listen               string
	CAs                  []*compatCA
	Disable              []string
	ClientCN             string   // -mutual-tls-cn: the CN pattern every endpoint requires
	Roots, Intermediates []string // -ca-bundle, -int-bundle: the bundler's trust
	DBConfig             string   // -db-config: CFSSL's certdb, shared by every CA
	// notes are plan steps render found (where to put a remote's key).
	notes []string
}

// compatCA is one CA of a plan. Key is the private key file to import
// under KeyID; Certificate is the CA certificate file.
type compatCA struct {
	Label, KeyID, Key, Certificate string
	// SigningConfig is CFSSL JSON (a config file's content); nil: CFSSL's
	// built-in default profile.
	SigningConfig []byte
	// ResponderKeyID and ResponderCertificate name a delegated OCSP
	// responder (-responder, -responder-key) whose key is ResponderKey.
	ResponderKeyID, ResponderKey, ResponderCertificate string
	Nets                                               []netip.Prefix
	DBConfig                                           string
}

// authKeyValue renders a CFSSL auth key value ("hex", "env:VAR",
// "file:PATH") as an HCL expression: env and file sources stay references,
// so no secret is copied into the configuration.
func authKeyValue(v, baseDir string) (hclwrite.Tokens, error) {
	switch {
	case strings.HasPrefix(v, "env:"):
		return hclwrite.TokensForFunctionCall("env", hclwrite.TokensForValue(cty.StringVal(strings.TrimPrefix(v, "env:")))), nil
	case strings.HasPrefix(v, "file:"):
		p := strings.TrimPrefix(v, "file:")
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		return hclwrite.TokensForFunctionCall("trimspace", hclwrite.TokensForFunctionCall("file", hclwrite.TokensForValue(cty.StringVal(p)))), nil
	}
	if _, err := hex.DecodeString(v); err != nil {
		return nil, errors.New("auth key is not hex, env:VAR or file:PATH")
	}
	return hclwrite.TokensForValue(cty.StringVal(v)), nil
}

// cfsslProfile is the part of a CFSSL signing profile pkid translates.
// The JSON decoder matches keys case-insensitively, as CFSSL's does.
type cfsslProfile struct {
	Usages       []string `json:"usages"`
	IssuerURLs   []string `json:"issuer_urls"`
	OCSPURL      string   `json:"ocsp_url"`
	CRLURL       string   `json:"crl_url"`
	CAConstraint *struct {
		IsCA           bool `json:"is_ca"`
		MaxPathLen     int  `json:"max_path_len"`
		MaxPathLenZero bool `json:"max_path_len_zero"`
	} `json:"ca_constraint"`
	OCSPNoCheck       bool     `json:"ocsp_no_check"`
	Expiry            string   `json:"expiry"`
	Backdate          string   `json:"backdate"`
	AuthKey           string   `json:"auth_key"`
	PrevAuthKey       string   `json:"prev_auth_key"`
	CopyExtensions    bool     `json:"copy_extensions"`
	Remote            string   `json:"remote"`
	NotBefore         string   `json:"not_before"`
	NotAfter          string   `json:"not_after"`
	NameWhitelist     string   `json:"name_whitelist"`
	AllowedExtensions []string `json:"allowed_extensions"`
	AuthRemote        *struct {
		Remote  string `json:"remote"`
		AuthKey string `json:"auth_key"`
	} `json:"auth_remote"`
	CTLogServers []string `json:"ct_log_servers"`
	Policies     []any    `json:"policies"`
}

type cfsslSigningConfig struct {
	Signing struct {
		Default  *cfsslProfile            `json:"default"`
		Profiles map[string]*cfsslProfile `json:"profiles"`
	} `json:"signing"`
	AuthKeys map[string]struct {
		Type string `json:"type"`
		Key  string `json:"key"`
	} `json:"auth_keys"`
	Remotes map[string]string `json:"remotes"`
}

// translateSigning validates a CFSSL signing configuration as CFSSL would
// (profile.ParseCFSSL) and appends its profiles to the ca block and its
// auth keys to the pkid block. Settings pkid cannot express this way
// (forwarding to remotes, certificate policies) are errors, not silently
// dropped; ct_log_servers become a ct block with CFSSL's every-log rule. It returns ParseCFSSL's warnings.
//
// keyPrefix is put before the auth key names: CAs of a roots file each
// have their own configuration, whose key names may collide.
func translateSigning(data []byte, baseDir, keyPrefix string, caBody, pkidBody *hclwrite.Body, keysDone map[string]bool, fw *forwardTranslation) ([]string, error) {
	parsed, err := profile.ParseCFSSL(withoutKeySources(data))
	if err != nil {
		return nil, err
	}
	var raw cfsslSigningConfig
	if err := json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &raw); err != nil {
		return nil, err
	}
	// A key only auth_remote uses authenticates this daemon to the remote:
	// it becomes a remote_auth_key reference, not a local auth_key.
	localKey, remoteKey := map[string]bool{}, map[string]bool{}
	for _, p := range append([]*cfsslProfile{raw.Signing.Default}, mapValues(raw.Signing.Profiles)...) {
		if p != nil {
			localKey[p.AuthKey], localKey[p.PrevAuthKey] = true, true
			if p.AuthRemote != nil {
				remoteKey[p.AuthRemote.AuthKey] = true
			}
		}
	}
	for _, name := range sortedKeys(raw.AuthKeys) {
		if keysDone[keyPrefix+name] || (remoteKey[name] && !localKey[name]) {
			continue
		}
		k := raw.AuthKeys[name]
		v, err := authKeyValue(k.Key, baseDir)
		if err != nil {
			return nil, fmt.Errorf("auth_keys %q: %w", name, err)
		}
		b := pkidBody.AppendNewBlock("auth_key", []string{keyPrefix + name}).Body()
		b.SetAttributeRaw("key", v)
		keysDone[keyPrefix+name] = true
	}
	emit := func(name string, p *cfsslProfile) error {
		if p == nil {
			return nil
		}
		where := fmt.Sprintf("profile %q", name)
		if p.Remote != "" || (p.AuthRemote != nil && p.AuthRemote.Remote != "") {
			return fw.profile(caBody, name, keyPrefix, p, &raw, baseDir)
		}
		if len(p.Policies) > 0 {
			return fmt.Errorf("%s: policies: not translated (use certificate_policy blocks)", where)
		}
		b := caBody.AppendNewBlock("profile", []string{name}).Body()
		setList := func(attr string, vs []string) {
			if len(vs) > 0 {
				l := make([]cty.Value, len(vs))
				for i, v := range vs {
					l[i] = cty.StringVal(v)
				}
				b.SetAttributeValue(attr, cty.ListVal(l))
			}
		}
		setStr := func(attr, v string) {
			if v != "" {
				b.SetAttributeValue(attr, cty.StringVal(v))
			}
		}
		setBool := func(attr string, v bool) {
			if v {
				b.SetAttributeValue(attr, cty.True)
			}
		}
		setList("usages", p.Usages)
		setStr("expiry", p.Expiry)
		setStr("backdate", p.Backdate)
		setStr("not_before", p.NotBefore)
		setStr("not_after", p.NotAfter)
		setList("issuer_urls", p.IssuerURLs)
		setStr("ocsp_url", p.OCSPURL)
		setStr("crl_url", p.CRLURL)
		setBool("ocsp_no_check", p.OCSPNoCheck)
		setBool("copy_extensions", p.CopyExtensions)
		setList("allowed_extensions", p.AllowedExtensions)
		setStr("name_whitelist", p.NameWhitelist)
		if p.AuthKey != "" {
			setStr("auth_key", keyPrefix+p.AuthKey)
		}
		if p.PrevAuthKey != "" {
			setStr("prev_auth_key", keyPrefix+p.PrevAuthKey)
		}
		if c := p.CAConstraint; c != nil && c.IsCA {
			cb := b.AppendNewBlock("ca_constraint", nil).Body()
			cb.SetAttributeValue("is_ca", cty.True)
			cb.SetAttributeValue("max_path_len", cty.NumberIntVal(int64(c.MaxPathLen)))
			if c.MaxPathLenZero {
				cb.SetAttributeValue("max_path_len_zero", cty.True)
			}
		}
		if len(p.CTLogServers) > 0 {
			translateCTLogServers(b, p.CTLogServers)
		}
		return nil
	}
	if err := emit("default", raw.Signing.Default); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(raw.Signing.Profiles) {
		if name == "default" {
			return nil, errors.New(`a profile named "default" would replace signing.default in pkid; rename it`)
		}
		if err := emit(name, raw.Signing.Profiles[name]); err != nil {
			return nil, err
		}
	}
	return parsed.Warnings, nil
}

// translateCTLogServers writes CFSSL's ct_log_servers as a ct block with
// CFSSL's rule: every log must return an SCT (N of N). The logs' keys
// are not in CFSSL's configuration, so they stay log_servers, whose SCTs
// pkid embeds unverified, as CFSSL does; the comment says how to do
// better.
func translateCTLogServers(b *hclwrite.Body, logs []string) {
	b.AppendNewline()
	b.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(
		"# CFSSL's ct_log_servers: every log must return an SCT (N of N), as in\n" +
			"# CFSSL. Their keys are unknown, so their SCTs are embedded unverified;\n" +
			"# declare each as log \"URL\" { key = ..., operator = ... } instead to\n" +
			"# verify them, and relax required_scts to a policy (docs/ct.md).\n")}})
	cb := b.AppendNewBlock("ct", nil).Body()
	cb.SetAttributeValue("required_scts", cty.NumberIntVal(int64(len(logs))))
	cb.SetAttributeValue("required_operators", cty.NumberIntVal(1))
	l := make([]cty.Value, len(logs))
	for i, u := range logs {
		l[i] = cty.StringVal(u)
	}
	cb.SetAttributeValue("log_servers", cty.ListVal(l))
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// render writes the plan as a pkid configuration. Relative paths in it
// are resolved against baseDir (where the CFSSL files were named from).
func (p *compatPlan) render(baseDir string) ([]byte, []string, error) {
	f := hclwrite.NewEmptyFile()
	root := f.Body()
	abs := func(path string) string {
		if path == "" || filepath.IsAbs(path) {
			return path
		}
		return filepath.Join(baseDir, path)
	}
	pk := root.AppendNewBlock("pkid", nil).Body()
	if p.StateDir != "" {
		pk.SetAttributeValue("state_dir", cty.StringVal(p.StateDir))
	}
	if p.Listen != "" {
		pk.SetAttributeValue("listen", cty.StringVal(p.Listen))
	}
	if len(p.Disable) > 0 {
		l := make([]cty.Value, len(p.Disable))
		for i, d := range p.Disable {
			l[i] = cty.StringVal(d)
		}
		pk.SetAttributeValue("disable_endpoints", cty.ListVal(l))
	}
	if p.ClientCN != "" {
		pk.SetAttributeValue("client_cert_policy", cty.ObjectVal(map[string]cty.Value{"*": cty.ListVal([]cty.Value{cty.StringVal(p.ClientCN)})}))
	}
	root.AppendNewline()
	ks := root.AppendNewBlock("keystore", []string{"file", "cfssl"}).Body()
	ks.SetAttributeValue("dir", cty.StringVal(p.KeyDir))
	ks.SetAttributeValue("passphrase_file", cty.StringVal(p.PassphraseFile))
	if p.KDFWorkFactor != 0 {
		ks.SetAttributeValue("kdf_work_factor", cty.NumberIntVal(int64(p.KDFWorkFactor)))
	}
	fw := &forwardTranslation{root: root, done: map[string]bool{}}
	defer func() { p.notes = fw.notes }()
	dbs := map[string]string{} // db-config path -> certstore name
	dbName := func(dbc string) string {
		if dbc == "" {
			return ""
		}
		dbc = abs(dbc)
		if n, ok := dbs[dbc]; ok {
			return n
		}
		n := fmt.Sprintf("certdb%d", len(dbs)+1)
		dbs[dbc] = n
		root.AppendNewline()
		cs := root.AppendNewBlock("certstore", []string{"cfssl", n}).Body()
		cs.SetAttributeValue("db_config", cty.StringVal(dbc))
		return n
	}
	if len(p.Roots)+len(p.Intermediates) > 0 {
		root.AppendNewline()
		tb := root.AppendNewBlock("trust", []string{"files", "cfssl"}).Body()
		for attr, files := range map[string][]string{"roots": p.Roots, "intermediates": p.Intermediates} {
			if len(files) == 0 {
				continue
			}
			l := make([]cty.Value, len(files))
			for i, f := range files {
				l[i] = cty.StringVal(abs(f))
			}
			tb.SetAttributeValue(attr, cty.ListVal(l))
		}
	}
	if len(p.CAs) == 0 {
		dbName(p.DBConfig) // cfssl serve without -ca still records through certadd
	}
	var warnings []string
	keysDone := map[string]bool{}
	for _, c := range p.CAs {
		root.AppendNewline()
		cb := root.AppendNewBlock("ca", []string{c.Label}).Body()
		cb.SetAttributeTraversal("keystore", hclTraversal("keystore", "cfssl"))
		cb.SetAttributeValue("key", cty.StringVal(c.KeyID))
		cb.SetAttributeValue("certificate", cty.StringVal(abs(c.Certificate)))
		if n := dbName(orStr(c.DBConfig, p.DBConfig)); n != "" {
			cb.SetAttributeTraversal("certstore", hclTraversal("certstore", n))
		}
		if c.ResponderKeyID != "" {
			ob := cb.AppendNewBlock("ocsp", nil).Body()
			ob.SetAttributeValue("responder_key", cty.StringVal(c.ResponderKeyID))
			ob.SetAttributeValue("responder_certificate", cty.StringVal(abs(c.ResponderCertificate)))
		}
		sc := c.SigningConfig
		if sc == nil {
			sc = []byte(`{"signing":{}}`)
		}
		prefix := ""
		if len(p.CAs) > 1 {
			prefix = c.Label + "."
		}
		ws, err := translateSigning(sc, baseDir, prefix, cb, pk, keysDone, fw)
		if err != nil {
			return nil, nil, fmt.Errorf("ca %q: %w", c.Label, err)
		}
		warnings = append(warnings, ws...)
	}
	return f.Bytes(), warnings, nil
}

func orStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// rootsFile is a parsed multirootca roots file.
type rootsFile struct {
	Labels []string // in file order
	Roots  map[string]map[string]string
}

// maxRootsFile bounds what a roots file may be: it is a handful of lines.
const maxRootsFile = 1 << 20

// parseRoots reads multirootca's roots format: `[label]` sections, `#`
// comments, `key = value` lines (values optionally quoted); keys before the
// first section belong to "default".
func parseRoots(data []byte) (*rootsFile, error) {
	if len(data) > maxRootsFile {
		return nil, fmt.Errorf("roots file larger than %d bytes", maxRootsFile)
	}
	rf := &rootsFile{Roots: map[string]map[string]string{}}
	section := "default"
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxRootsFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: bad section header %q", n, line)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			if _, dup := rf.Roots[section]; dup {
				return nil, fmt.Errorf("line %d: section %q repeated", n, section)
			}
			rf.Roots[section] = map[string]string{}
			rf.Labels = append(rf.Labels, section)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = value", n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if rf.Roots[section] == nil {
			rf.Roots[section] = map[string]string{}
			rf.Labels = append(rf.Labels, section)
		}
		rf.Roots[section][k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rf.Labels) == 0 {
		return nil, errors.New("no roots found")
	}
	return rf, nil
}

// rootsPlan turns a roots file into a plan; relative paths are resolved
// against baseDir. Red October keys (rofile://) need the split-key
// keystore and are refused.
func rootsPlan(rf *rootsFile, baseDir string) (*compatPlan, error) {
	p := &compatPlan{}
	abs := func(path string) string {
		if filepath.IsAbs(path) {
			return path
		}
		return filepath.Join(baseDir, path)
	}
	for i, label := range rf.Labels {
		r := rf.Roots[label]
		for k := range r {
			switch k {
			case "private", "certificate", "config", "nets", "dbconfig":
			case "ro_server", "ro_user", "ro_pass", "ro_ca":
				return nil, fmt.Errorf("root %q: %s: Red October is not supported", label, k)
			default:
				return nil, fmt.Errorf("root %q: unknown key %q", label, k)
			}
		}
		priv := r["private"]
		var keyPath string
		switch {
		case strings.HasPrefix(priv, "file://"):
			keyPath = strings.TrimPrefix(priv, "file://")
		case strings.HasPrefix(priv, "rofile://"):
			return nil, fmt.Errorf("root %q: private %q: Red October keys are not supported", label, priv)
		case priv == "":
			return nil, fmt.Errorf("root %q: no private key", label)
		default:
			return nil, fmt.Errorf("root %q: private %q: want a file:// URI", label, priv)
		}
		if r["certificate"] == "" {
			return nil, fmt.Errorf("root %q: no certificate", label)
		}
		c := &compatCA{Label: label, KeyID: fmt.Sprintf("root-%d", i+1), Key: abs(keyPath), Certificate: abs(r["certificate"]), DBConfig: r["dbconfig"]}
		if c.DBConfig != "" {
			c.DBConfig = abs(c.DBConfig)
		}
		if cfgPath := r["config"]; cfgPath != "" {
			data, err := os.ReadFile(abs(cfgPath))
			if err != nil {
				return nil, fmt.Errorf("root %q: config: %w", label, err)
			}
			c.SigningConfig = data
		}
		if nets := r["nets"]; nets != "" {
			for _, n := range strings.Split(nets, ",") {
				pfx, err := netip.ParsePrefix(strings.TrimSpace(n))
				if err != nil {
					return nil, fmt.Errorf("root %q: nets: %w", label, err)
				}
				c.Nets = append(c.Nets, pfx.Masked())
			}
		}
		p.CAs = append(p.CAs, c)
	}
	return p, nil
}

func hclTraversal(root, attr string) hcl.Traversal {
	return hcl.Traversal{hcl.TraverseRoot{Name: root}, hcl.TraverseAttr{Name: attr}}
}

func configImportCmd(e *env) *command {
	return &command{
		synopsis: "Turn a CFSSL config.json or a multirootca roots file into pkid HCL",
		help: `
Usage: pkid config import [-ca C -ca-key K] [-keystore-dir DIR] [-passphrase-file F] FILE

  FILE is a CFSSL JSON signing configuration (with -ca and -ca-key naming
  the CA it was used with) or a multirootca roots file. Prints a pkid
  configuration on stdout and, as comments at its top, the keystore import
  plan: the pkid keystore commands that move each CA key into the file
  keystore (DIR, default ./keys, encrypted with the passphrase in F,
  default ./passphrase). Auth keys given as env:VAR or file:PATH stay
  references; hex keys are copied (keep the output private). Remotes and
  forwarding profiles become remote blocks and remote = remote.NAME; an
  auth_remote key becomes remote_auth_key = "env:..." (the plan says which
  variable to set) and is never copied.
`,
		run: func(args []string) error {
			fs := newFlags("config import")
			caCert := fs.String("ca", "", "CA certificate the JSON configuration signs with")
			caKey := fs.String("ca-key", "", "that CA's private key file")
			keyDir := fs.String("keystore-dir", "keys", "file keystore `DIR` for the imported keys")
			pass := fs.String("passphrase-file", "passphrase", "file keystore passphrase `FILE`")
			label := fs.String("label", "default", "CA label for a JSON configuration")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return usagef("config import takes one FILE")
			}
			data, err := os.ReadFile(fs.Arg(0))
			if err != nil {
				return err
			}
			base, err := filepath.Abs(filepath.Dir(fs.Arg(0)))
			if err != nil {
				return err
			}
			var plan *compatPlan
			if profile.IsCFSSLConfig(data) {
				if *caCert == "" || *caKey == "" {
					return usagef("a CFSSL JSON configuration needs -ca and -ca-key (the CA it signs with)")
				}
				cwd, _ := os.Getwd()
				plan = &compatPlan{CAs: []*compatCA{{Label: *label, KeyID: "ca", Key: absFrom(cwd, *caKey), Certificate: absFrom(cwd, *caCert), SigningConfig: data}}}
			} else {
				rf, err := parseRoots(data)
				if err != nil {
					return fmt.Errorf("%s: %w", fs.Arg(0), err)
				}
				if plan, err = rootsPlan(rf, base); err != nil {
					return fmt.Errorf("%s: %w", fs.Arg(0), err)
				}
			}
			plan.KeyDir, plan.PassphraseFile = *keyDir, *pass
			out, warnings, err := plan.render(base)
			if err != nil {
				return fmt.Errorf("%s: %w", fs.Arg(0), err)
			}
			printWarnings(e, warnings)
			fmt.Fprintf(e.stdout, "# Generated by pkid config import from %s.\n# Keystore import plan (run once, with this file saved as pkid.hcl):\n", fs.Arg(0))
			fmt.Fprintf(e.stdout, "#   umask 077; test -s %s || openssl rand -hex 32 > %s\n", *pass, *pass)
			for _, c := range plan.CAs {
				fmt.Fprintf(e.stdout, "#   pkid keystore cfssl import -id %s -key %s -config pkid.hcl\n", c.KeyID, c.Key)
			}
			for _, n := range plan.notes {
				fmt.Fprintf(e.stdout, "#   %s\n", n)
			}
			fmt.Fprintln(e.stdout)
			_, err = e.stdout.Write(out)
			return err
		},
	}
}

func absFrom(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// withoutKeySources returns data with auth key values given as env:VAR or
// file:PATH replaced by a placeholder key, so that a configuration is
// checked without its secrets (the translation keeps the references).
// Anything it cannot rewrite is returned as it is.
func withoutKeySources(data []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &top) != nil {
		return data
	}
	changed := false
	for k, v := range top {
		if !strings.EqualFold(k, "auth_keys") {
			continue
		}
		var keys map[string]map[string]any
		if json.Unmarshal(v, &keys) != nil {
			return data
		}
		for _, ak := range keys {
			for field, val := range ak {
				if s, ok := val.(string); ok && strings.EqualFold(field, "key") && (strings.HasPrefix(s, "env:") || strings.HasPrefix(s, "file:")) {
					ak[field] = "00000000000000000000000000000000"
					changed = true
				}
			}
		}
		if top[k], _ = json.Marshal(keys); top[k] == nil {
			return data
		}
	}
	if !changed {
		return data
	}
	out, err := json.Marshal(top)
	if err != nil {
		return data
	}
	return out
}
