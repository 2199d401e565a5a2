package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/client"
	"github.com/pkid/pkid/core/config"
	coredaemon "github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/forward"
	"github.com/pkid/pkid/sdk"
)

// cfsslServeFlags are the flags only `cfssl serve` has: any of them on a
// `pkid serve` command line selects the CFSSL translation (cfsslServe).
var cfsslServeFlags = []string{"ca", "ca-key", "address", "port", "responder", "responder-key", "disable",
	"mutual-tls-cn", "ca-bundle", "int-bundle", "loglevel", "db-config"}

// isCFSSLServe reports whether serve's args are a `cfssl serve` command
// line: -config naming a CFSSL JSON file, or a CFSSL-only flag without a
// pkid HCL -config (with one, pkid serve's own errors say what to do).
func isCFSSLServe(args []string) bool {
	cfsslFlag, hclConfig := false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			break // flags end at the first argument
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasVal && name != "dev" && i+1 < len(args) {
			i++ // every other serve flag takes a value
			val = args[i]
		}
		switch {
		case name == "config" && isCFSSLConfigFile(val):
			return true
		case name == "config":
			hclConfig = true
		case slices.Contains(cfsslServeFlags, name):
			cfsslFlag = true
		}
	}
	return cfsslFlag && !hclConfig
}

// hclogLevel maps CFSSL's -loglevel (0 debug … 5 fatal) to hclog.
func hclogLevel(l int) hclog.Level {
	switch {
	case l <= 0:
		return hclog.Debug
	case l == 1:
		return hclog.Info
	case l == 2:
		return hclog.Warn
	default:
		return hclog.Error
	}
}

// ephemeralDir creates the private directory an imported CFSSL deployment
// runs from: in memory (/dev/shm) when the system has it, so the imported
// keys never reach a disk; mode 0700. The caller removes it on exit.
func ephemeralDir(prefix string) (string, error) {
	parent := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil && parent != "" {
		dir, err = os.MkdirTemp("", prefix)
	}
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o700)
}

// compatRun is a plan running from an ephemeral directory: its generated
// configuration loaded, its keys imported into the file keystore.
type compatRun struct {
	dir string
	s   *session
}

func (r *compatRun) Close() {
	if r.s != nil {
		r.s.Close()
	}
	os.RemoveAll(r.dir)
}

// startPlan writes the plan's configuration into a new ephemeral
// directory (keys encrypted under a random passphrase), loads it and
// imports every key. The passphrase file is removed once the keystore has
// started: a directory left behind by a killed process holds only keys
// encrypted under a passphrase that no longer exists.
func startPlan(e *env, plan *compatPlan, readKey func(string) ([]byte, error)) (_ *compatRun, err error) {
	// Every key is read and checked before anything starts: a bad key
	// file is a one-line error without a keystore process.
	type keyToImport struct {
		id  string
		pem []byte
	}
	var keys []keyToImport
	for _, c := range plan.CAs {
		for _, k := range []struct{ id, path, what string }{{c.KeyID, c.Key, "CA key"}, {c.ResponderKeyID, c.ResponderKey, "responder key"}} {
			if k.id == "" {
				continue
			}
			pemKey, err := readKey(k.path)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", k.what, k.path, err)
			}
			keys = append(keys, keyToImport{k.id, pemKey})
		}
	}
	dir, err := ephemeralDir("pkid-cfssl-")
	if err != nil {
		return nil, fmt.Errorf("ephemeral keystore: %w", err)
	}
	r := &compatRun{dir: dir}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	pass := make([]byte, 32)
	if _, err := rand.Read(pass); err != nil {
		return nil, err
	}
	plan.KeyDir, plan.PassphraseFile = filepath.Join(dir, "keys"), filepath.Join(dir, "passphrase")
	// scrypt hardens guessable passphrases; this one is 256 random bits,
	// so the cheapest work factor loses nothing and starts in milliseconds.
	plan.KDFWorkFactor = 10
	// Published CRLs live (and go) with the keys, not in a shared $TMPDIR.
	plan.StateDir = dir
	if err := os.Mkdir(plan.KeyDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(plan.PassphraseFile, []byte(hex.EncodeToString(pass)), 0o600); err != nil {
		return nil, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	text, warnings, err := plan.render(cwd)
	if err != nil {
		return nil, err
	}
	printWarnings(e, warnings)
	cfgPath := filepath.Join(dir, "pkid.hcl")
	if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
		return nil, err
	}
	if r.s, err = loadGenerated(e, cfgPath); err != nil {
		return nil, err
	}
	ks, ok := r.s.KeyStores["cfssl"]
	if !ok {
		return nil, errors.New("ephemeral keystore did not start")
	}
	imp, ok := ks.(sdk.KeyImporter)
	if !ok {
		return nil, errors.New("the file keystore cannot import keys")
	}
	for _, k := range keys {
		if _, err := imp.ImportKey(context.Background(), sdk.ImportKeyRequest{ID: k.id, PEM: k.pem}); err != nil {
			return nil, fmt.Errorf("importing key %s: %w", k.id, err)
		}
	}
	if err := os.Remove(plan.PassphraseFile); err != nil {
		return nil, err
	}
	return r, nil
}

// readPrivateKeyPEM reads a key as CFSSL's -ca-key does (PATH, file:PATH,
// env:VAR; PKCS#1, SEC 1 or PKCS#8) and returns it as PKCS#8 PEM for the
// keystore.
func readPrivateKeyPEM(e *env) func(string) ([]byte, error) {
	return func(arg string) ([]byte, error) {
		data, err := readInput(e, arg)
		if err != nil {
			return nil, err
		}
		key, err := csr.ParsePrivateKey(data)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
}

// copyInput stores a -ca style argument (PATH, file:PATH, env:VAR) as a
// file in dir, so the generated configuration can name it.
func copyInput(e *env, dir, name, arg string) (string, error) {
	data, err := readInput(e, arg)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, data, 0o600)
}

// runCFSSLServe runs `cfssl serve`'s command line: the CA key (and the OCSP
// responder key) are imported into an ephemeral file keystore
// (startPlan), the JSON signing configuration becomes the CA's profiles,
// and the daemon serves as `pkid serve` would.
func runCFSSLServe(e *env, args []string) error {
	fs := newFlags("serve")
	var cf compatFlags
	cf.register(fs)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	get := func(name string) string { return fs.Lookup(name).Value.String() }
	if (cf.ca == "") != (cf.caKey == "") {
		return usagef("-ca and -ca-key go together")
	}
	if (get("responder") == "") != (get("responder-key") == "") {
		return usagef("-responder and -responder-key go together")
	}
	if cf.ca == "" && get("responder") != "" {
		return usagef("-responder needs -ca and -ca-key (the responder signs for that CA)")
	}
	if len(cf.config) > 1 {
		return usagef("serve: one CFSSL -config only")
	}
	port := get("port")
	if port == "" {
		port = "8888"
	}
	addr := get("address")
	if addr == "" {
		addr = "127.0.0.1"
	}
	if p, err := parsePort(port); err != nil {
		return usagef("-port: %v", err)
	} else {
		port = p
	}
	tlsOpts := coredaemon.TLS{Cert: get("tls-cert"), Key: get("tls-key"), ClientCA: get("mutual-tls-ca")}
	if (tlsOpts.Cert == "") != (tlsOpts.Key == "") {
		return usagef("-tls-cert and -tls-key go together")
	}
	if tlsOpts.ClientCA != "" && tlsOpts.Cert == "" {
		return usagef("-mutual-tls-ca needs -tls-cert and -tls-key")
	}
	if get("mutual-tls-cn") != "" && tlsOpts.ClientCA == "" {
		return usagef("-mutual-tls-cn needs -mutual-tls-ca")
	}
	if v := get("min-tls-version"); v != "" {
		tv, err := coredaemon.ParseTLSVersion(v)
		if err != nil {
			return usagef("-min-tls-version must be 1.0, 1.1, 1.2 or 1.3, not %q", v)
		}
		tlsOpts.MinVersion = tv
	}
	var disable []string
	for _, d := range strings.Split(get("disable"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			if !slices.Contains(coredaemon.Endpoints(), d) {
				return usagef("-disable: unknown endpoint %q (known: %s)", d, strings.Join(coredaemon.Endpoints(), " "))
			}
			disable = append(disable, d)
		}
	}
	c := &compatCA{Label: "default", KeyID: "ca", Key: cf.caKey}
	var fwd *forward.Options
	if len(cf.config) == 1 {
		data, err := os.ReadFile(cf.config[0])
		if err != nil {
			return fmt.Errorf("-config: %w", err)
		}
		if !profile.IsCFSSLConfig(data) {
			return usagef("-config %s: not a CFSSL JSON signing configuration (pkid HCL goes without the CFSSL flags)", cf.config[0])
		}
		local, f, err := splitForwarding(data)
		if err != nil {
			return fmt.Errorf("-config %s: %w", cf.config[0], err)
		}
		c.SigningConfig, fwd = local, f
	}
	plan := &compatPlan{
		Listen: net.JoinHostPort(addr, port), Disable: disable,
		ClientCN: get("mutual-tls-cn"), DBConfig: cf.dbConfig,
	}
	// Without -ca CFSSL serves what needs no CA (newkey, init_ca, bundle,
	// certinfo, scaninfo, health) and its forwarding profiles; the
	// issuing endpoints are 404.
	if cf.ca != "" {
		plan.CAs = []*compatCA{c}
	}
	if b := get("ca-bundle"); b != "" {
		plan.Roots = []string{b}
	}
	if b := get("int-bundle"); b != "" {
		plan.Intermediates = []string{b}
	}
	// The certificates go through files the configuration names; they
	// live in the ephemeral directory with the keys.
	staging, err := ephemeralDir("pkid-cfssl-certs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	if cf.ca != "" {
		if c.Certificate, err = copyInput(e, staging, "ca.pem", cf.ca); err != nil {
			return fmt.Errorf("-ca: %w", err)
		}
	}
	if get("responder") != "" {
		c.ResponderKeyID, c.ResponderKey = "responder", get("responder-key")
		if c.ResponderCertificate, err = copyInput(e, staging, "responder.pem", get("responder")); err != nil {
			return fmt.Errorf("-responder: %w", err)
		}
	}
	run, err := startPlan(e, plan, readPrivateKeyPEM(e))
	if err != nil {
		return err
	}
	defer run.Close()
	log := hclog.New(&hclog.LoggerOptions{Name: "pkid", Output: e.stderr, Level: hclogLevel(cf.loglevel)})
	opts := coredaemon.Options{Listen: plan.Listen, TLS: tlsOpts, Host: run.s.host, Log: log, AllowNoCA: cf.ca == ""}
	if fwd != nil {
		fwd.Local, fwd.Log = cf.ca != "", log.Named("forward")
		if cn := get("mutual-tls-cn"); cn != "" {
			if fwd.Authorize, err = clientCNCheck(cn); err != nil {
				return usagef("-mutual-tls-cn: %v", err)
			}
		}
		opts.Forward = fwd
	}
	d, err := coredaemon.New(context.Background(), run.s.Loaded, opts)
	if err != nil {
		return daemonError(e, run.s.Config, err)
	}
	defer d.Close()
	ctx, stop := signalContext()
	defer stop()
	log.Info("Now listening on " + d.Addr().String())
	return daemonError(e, run.s.Config, d.Run(ctx))
}

func parsePort(s string) (string, error) {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' || n > 65535 {
			return "", fmt.Errorf("%q is not a port number", s)
		}
		n = n*10 + int(r-'0')
	}
	if s == "" || n > 65535 {
		return "", fmt.Errorf("%q is not a port number", s)
	}
	return s, nil
}

// loadGenerated is configFlag.load for a generated configuration: the
// file keystore's warning about the low work factor startPlan chose on
// purpose is not the operator's to act on, so it is dropped.
func loadGenerated(e *env, path string) (*session, error) {
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		return nil, printDiags(e, cfg, diags)
	}
	host := newHost()
	loaded, ldiags := catalog.Load(context.Background(), catalog.LoadRequest{Config: cfg, Host: host})
	for _, d := range ldiags {
		if d.Severity == hcl.DiagWarning && strings.Contains(d.Detail, "kdf_work_factor") {
			continue
		}
		diags = append(diags, d)
	}
	if diags.HasErrors() {
		host.Close()
		return nil, printDiags(e, cfg, diags)
	}
	if len(diags) > 0 {
		_ = printDiags(e, cfg, diags)
	}
	return &session{Loaded: loaded, host: host}, nil
}

// splitForwarding separates a CFSSL signing configuration into what the
// local CA serves and what forwards: the returned JSON lacks the
// forwarding profiles (a forwarding default becomes the built-in one
// locally, never reached: the forwarder takes ""), the remotes and the
// auth keys only forwarding profiles use (a left-over key would turn on
// authentication for the local endpoints). fwd is nil when nothing
// forwards.
func splitForwarding(data []byte) (local []byte, fwd *forward.Options, err error) {
	cfg, err := profile.ParseCFSSL(data)
	if err != nil {
		return nil, nil, err
	}
	clients := map[string]*client.Client{}
	remoteFor := func(p *profile.Profile) (*forward.Remote, error) {
		name, keyName := p.Remote, ""
		if ar := p.AuthRemote; ar != nil {
			name, keyName = ar.Remote, ar.AuthKey
		}
		if name == "" {
			return nil, nil
		}
		c, ok := clients[name]
		if !ok {
			if c, err = client.New(strings.Join(cfg.Remotes[name], ","), nil); err != nil {
				return nil, fmt.Errorf("remote %q: %w", name, err)
			}
			clients[name] = c
		}
		r := &forward.Remote{Name: name, Client: c, ReplayProtection: p.AuthReplayProtection}
		if keyName != "" {
			r.AuthKey = cfg.AuthKeys[keyName].Key
		}
		// The profile's own auth_key guards it here before anything is
		// forwarded (docs/differences-from-cfssl.md, "Forwarding profiles
		// are guarded by pkid's own policy").
		for _, kn := range []string{p.AuthKey, p.PrevAuthKey} {
			if k := cfg.AuthKeys[kn].Key; kn != "" && len(k) > 0 {
				r.LocalKeys = append(r.LocalKeys, k)
			}
		}
		return r, nil
	}
	fo := &forward.Options{Profiles: map[string]*forward.Remote{}}
	localKeys := map[string]bool{}
	all := map[string]*profile.Profile{"default": cfg.Default}
	for n, p := range cfg.Profiles {
		all[n] = p
	}
	for n, p := range all {
		if p == nil {
			continue
		}
		r, err := remoteFor(p)
		if err != nil {
			return nil, nil, err
		}
		if r != nil {
			fo.Profiles[n] = r
			continue
		}
		localKeys[p.AuthKey], localKeys[p.PrevAuthKey] = true, true
	}
	if len(fo.Profiles) == 0 {
		return data, nil, nil
	}
	// Drop the forwarding parts from the JSON (keys matched as CFSSL
	// matches them: case-insensitively).
	var top map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &top); err != nil {
		return nil, nil, err
	}
	for k, v := range top {
		switch {
		case strings.EqualFold(k, "remotes"):
			delete(top, k)
		case strings.EqualFold(k, "auth_keys"):
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(v, &keys); err != nil {
				return nil, nil, err
			}
			for name := range keys {
				if !localKeys[name] {
					delete(keys, name)
				}
			}
			top[k], _ = json.Marshal(keys)
		case strings.EqualFold(k, "signing"):
			var signing map[string]json.RawMessage
			if err := json.Unmarshal(v, &signing); err != nil {
				return nil, nil, err
			}
			for sk, sv := range signing {
				switch {
				case strings.EqualFold(sk, "default") && fo.Profiles["default"] != nil:
					delete(signing, sk)
				case strings.EqualFold(sk, "profiles"):
					var ps map[string]json.RawMessage
					if err := json.Unmarshal(sv, &ps); err != nil {
						return nil, nil, err
					}
					for name := range ps {
						if fo.Profiles[name] != nil {
							delete(ps, name)
						}
					}
					signing[sk], _ = json.Marshal(ps)
				}
			}
			top[k], _ = json.Marshal(signing)
		}
	}
	local, err = json.Marshal(top)
	return local, fo, err
}

// clientCNCheck is -mutual-tls-cn for forwarded requests: the verified
// client certificate's CN must match the pattern, anchored as the API
// server anchors it (docs/differences-from-cfssl.md, "A client
// certificate policy covers every guarded endpoint").
func clientCNCheck(pattern string) (func(*http.Request) error, error) {
	if !strings.HasPrefix(pattern, "^") || !strings.HasSuffix(pattern, "$") {
		pattern = "^(?:" + pattern + ")$"
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return func(r *http.Request) error {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			return errors.New("client certificate required")
		}
		if cn := r.TLS.VerifiedChains[0][0].Subject.CommonName; !re.MatchString(cn) {
			return fmt.Errorf("Invalid CN %q", cn)
		}
		return nil
	}, nil
}
