package cli

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// forwardTranslation turns CFSSL's remotes and forwarding profiles into
// pkid HCL: one top-level remote block per remote used, and profiles with
// remote = remote.NAME. An auth_remote key moves to a secret reference
// (remote_auth_key = "env:..." or "file:..."); a key written in the CFSSL
// file becomes an environment variable the plan tells the operator to set.
type forwardTranslation struct {
	root  *hclwrite.Body
	done  map[string]bool // remote blocks written
	notes []string
}

func mapValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

// profile writes a forwarding profile and the remote block it needs.
func (fw *forwardTranslation) profile(caBody *hclwrite.Body, name, keyPrefix string, p *cfsslProfile, raw *cfsslSigningConfig, baseDir string) error {
	remote, keyName := p.Remote, ""
	if ar := p.AuthRemote; ar != nil && ar.Remote != "" {
		remote, keyName = ar.Remote, ar.AuthKey
	}
	hclName := hclIdent(keyPrefix + remote)
	if err := fw.remote(hclName, raw.Remotes[remote]); err != nil {
		return fmt.Errorf("remote %q: %w", remote, err)
	}
	b := caBody.AppendNewBlock("profile", []string{name}).Body()
	b.SetAttributeTraversal("remote", hclTraversal("remote", hclName))
	if keyName != "" {
		ref, note := remoteKeyRef(raw.AuthKeys[keyName].Key, keyPrefix+keyName, baseDir)
		b.SetAttributeValue("remote_auth_key", cty.StringVal(ref))
		if note != "" {
			fw.notes = append(fw.notes, note)
		}
	}
	// The profile's own keys guard it here before anything is forwarded.
	if p.AuthKey != "" {
		b.SetAttributeValue("auth_key", cty.StringVal(keyPrefix+p.AuthKey))
	}
	if p.PrevAuthKey != "" {
		b.SetAttributeValue("prev_auth_key", cty.StringVal(keyPrefix+p.PrevAuthKey))
	}
	return nil
}

// remote writes a remote block for CFSSL's "host:port, host:port" list
// once. CFSSL speaks plain HTTP to a remote without a scheme; pkid's
// secure default refuses that beyond loopback, so such a block says
// insecure = true with a comment to move it to https.
func (fw *forwardTranslation) remote(name, list string) error {
	if fw.done[name] {
		return nil
	}
	var urls []cty.Value
	insecure := false
	for r := range strings.SplitSeq(list, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !strings.Contains(r, "://") {
			if _, _, err := net.SplitHostPort(r); err != nil {
				r = net.JoinHostPort(strings.Trim(r, "[]"), "8888")
			}
			r = "http://" + r
		}
		if msg := remoteURLCheck(r); msg != "" {
			return fmt.Errorf("%q: %s", r, msg)
		}
		if strings.HasPrefix(r, "http://") {
			host, _, _ := net.SplitHostPort(strings.TrimPrefix(r, "http://"))
			if ip := net.ParseIP(strings.Trim(host, "[]")); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
				insecure = true
			}
		}
		urls = append(urls, cty.StringVal(r))
	}
	if len(urls) == 0 {
		return fmt.Errorf("no host:port")
	}
	fw.done[name] = true
	fw.root.AppendNewline()
	b := fw.root.AppendNewBlock("remote", []string{name}).Body()
	b.SetAttributeValue("urls", cty.ListVal(urls))
	if insecure {
		for _, line := range []string{
			"# CFSSL sends requests to this remote in clear (http://); pkid refuses",
			"# that beyond loopback unless told: serve the remote over https and",
			"# drop insecure (a tls block can name its CA and a client certificate).",
		} {
			b.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(line + "\n")}})
		}
		b.SetAttributeValue("insecure", cty.True)
	}
	return nil
}

// remoteURLCheck says what is wrong with a translated remote URL.
func remoteURLCheck(u string) string {
	rest := u[strings.Index(u, "://")+3:]
	if rest == "" || strings.ContainsAny(rest, "/?#@") {
		return "want host:port or scheme://host:port"
	}
	return ""
}

// remoteKeyRef is an auth_remote key as a secret reference: env: and
// file: stay as they are (a relative file made absolute); a key written
// in the CFSSL file moves to an environment variable, and the note tells
// the operator to set it (the key itself is not printed).
func remoteKeyRef(v, keyName, baseDir string) (ref, note string) {
	switch {
	case strings.HasPrefix(v, "env:"):
		return v, ""
	case strings.HasPrefix(v, "file:"):
		p := strings.TrimPrefix(v, "file:")
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		return "file:" + p, ""
	}
	env := "PKID_REMOTE_AUTH_KEY_" + strings.ToUpper(hclIdent(keyName))
	env = strings.ReplaceAll(env, "-", "_")
	return "env:" + env, fmt.Sprintf("export %s=<the hex key of auth_keys %q> (or a file: reference) before pkid serve", env, keyName)
}

// hclIdent makes s a valid HCL identifier (a remote's block label is
// referenced as remote.NAME).
func hclIdent(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 || slices.Contains([]byte("0123456789-"), b[0]) {
		b = append([]byte("r_"), b...)
	}
	return string(b)
}
