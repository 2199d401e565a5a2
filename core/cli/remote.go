package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/client"
)

// remoteTarget is where a remote command goes (-remote, as in cfssl).
type remoteTarget struct {
	// remotes is the comma list handed to client.New.
	remotes string
	// authKey, when set, sends signing requests through authsign.
	authKey []byte
}

// useRemote reports whether a signing or info command goes to a remote:
// -remote is given, or the selected profile of a CFSSL -config has
// "remote" or "auth_remote". A configuration that does not load is left
// to the local path, which reports the error.
func useRemote(cf *compatFlags) bool {
	if cf.remote != "" {
		return true
	}
	t, err := resolveRemote(nil, cf)
	return err == nil && t != nil
}

// resolveRemote finds the remote of cf: the selected profile's remote or
// auth_remote in a CFSSL -config, with -remote replacing its servers (as
// CFSSL's OverrideRemotes does; the profile's auth key still applies).
// It returns nil when the command is local. Config warnings go to e when
// e is not nil.
func resolveRemote(e *env, cf *compatFlags) (*remoteTarget, error) {
	var t remoteTarget
	if len(cf.config) == 1 && isCFSSLConfigFile(cf.config[0]) {
		cfg, err := loadProfiles(cf)
		if err != nil {
			return nil, err
		}
		if e != nil {
			printWarnings(e, cfg.Warnings)
		}
		if p, err := cfg.Lookup(cf.profile); err == nil {
			if err := profileRemote(cf, cfg, p, &t); err != nil {
				return nil, err
			}
		} else if cf.remote == "" {
			return nil, err
		}
	}
	if cf.remote != "" {
		t.remotes = cf.remote
	}
	if t.remotes == "" {
		return nil, nil
	}
	return &t, nil
}

// profileRemote fills t from profile p of cfg.
func profileRemote(cf *compatFlags, cfg *profile.Config, p *profile.Profile, t *remoteTarget) error {
	name, keyName := p.Remote, ""
	if ar := p.AuthRemote; ar != nil {
		name, keyName = ar.Remote, ar.AuthKey
	} else if cf.remote != "" {
		keyName = p.AuthKey
	}
	if name != "" {
		hosts, ok := cfg.Remotes[name]
		if !ok && cf.remote == "" {
			return fmt.Errorf("profile %q: remote %q is not in remotes", cf.profile, name)
		}
		t.remotes = strings.Join(hosts, ",")
	}
	if keyName != "" {
		k, ok := cfg.AuthKeys[keyName]
		if !ok || len(k.Key) == 0 {
			return fmt.Errorf("profile %q: auth key %q is not in auth_keys", cf.profile, keyName)
		}
		t.authKey = k.Key
	}
	return nil
}

// remoteClient builds the client for t with the TLS flags of fs
// (-tls-remote-ca, -mutual-tls-client-cert, -mutual-tls-client-key).
func remoteClient(e *env, fs *flag.FlagSet, t *remoteTarget) (*client.Client, error) {
	get := func(name string) string {
		if f := fs.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	caFile, certFile, keyFile := get("tls-remote-ca"), get("mutual-tls-client-cert"), get("mutual-tls-client-key")
	tlsCfg, err := client.TLSConfig(caFile, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c, err := client.New(t.remotes, tlsCfg)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil && !strings.Contains(strings.Join(c.Remotes(), ","), "https://") {
		fmt.Fprintln(e.stderr, "pkid: warning: TLS flags are ignored: no https:// remote")
	}
	return c, nil
}

// remoteSignRequest sends req to the remote of cf and returns the
// certificate PEM.
func remoteSignRequest(e *env, fs *flag.FlagSet, cf *compatFlags, req client.SignRequest) (string, error) {
	t, err := resolveRemote(e, cf)
	if err != nil {
		return "", err
	}
	if t == nil {
		return "", fmt.Errorf("profile %q has no remote", cf.profile)
	}
	c, err := remoteClient(e, fs, t)
	if err != nil {
		return "", err
	}
	if t.authKey != nil {
		return c.AuthSign(context.Background(), req, t.authKey)
	}
	return c.Sign(context.Background(), req)
}

// remoteGencert is gencert with a remote CA: the key and CSR are made
// locally (the key is never sent), the CSR is signed remotely, and
// {"cert","csr","key"} is printed.
func remoteGencert(e *env, fs *flag.FlagSet, cf *compatFlags, req *csr.Request) error {
	_, csrPEM, keyPEM, err := newKeyAndCSR(req)
	if err != nil {
		return err
	}
	sreq := client.SignRequest{Request: string(csrPEM), Profile: cf.profile, Label: cf.label, CRLOverride: cf.crl}
	if cf.hostname != "" {
		sreq.Hosts = csr.SplitHostname(cf.hostname)
	}
	cert, err := remoteSignRequest(e, fs, cf, sreq)
	if err != nil {
		return err
	}
	if len(req.Hosts) == 0 {
		fmt.Fprintln(e.stderr, "pkid: warning: this certificate has no hosts, so it is unsuitable for web servers")
	}
	return writeResult(e, map[string]string{"cert": cert, "csr": string(csrPEM), "key": keyPEM})
}

// remoteSign is sign with a remote CA; it prints {"cert","csr"}.
func remoteSign(e *env, fs *flag.FlagSet, cf *compatFlags, sreq ca.SignRequest) error {
	req := client.SignRequest{Hosts: sreq.Hosts, Request: string(sreq.CSR), Profile: cf.profile, Label: cf.label}
	if s := sreq.Subject; s != nil {
		req.Subject = &client.Subject{CN: s.CN, Names: s.Names, SerialNumber: s.SerialNumber}
	}
	cert, err := remoteSignRequest(e, fs, cf, req)
	if err != nil {
		return err
	}
	return writeResult(e, map[string]string{"cert": cert, "csr": string(sreq.CSR)})
}

// remoteInfo is info against a remote CA; it prints
// {"certificate","expiry","usages"} like the local command.
func remoteInfo(e *env, fs *flag.FlagSet, cf *compatFlags) error {
	t, err := resolveRemote(e, cf)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("profile %q has no remote", cf.profile)
	}
	c, err := remoteClient(e, fs, t)
	if err != nil {
		return err
	}
	res, err := c.Info(context.Background(), cf.label, cf.profile)
	if err != nil {
		return err
	}
	if res.Usages == nil {
		res.Usages = []string{}
	}
	out := struct {
		Certificate string   `json:"certificate"`
		Expiry      string   `json:"expiry"`
		Usages      []string `json:"usages"`
	}{res.Certificate, res.Expiry, res.Usages}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}
