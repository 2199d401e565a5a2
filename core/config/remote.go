package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Remote is a `remote "NAME"` block: a CA that forwarding profiles
// (remote = remote.NAME) send their sign, authsign, info and newcert
// requests to, tried in the order of URLs.
type Remote struct {
	Name string
	URLs []string
	// Insecure allows http:// URLs to hosts other than loopback ones.
	Insecure bool
	// TLS: CA verifies the remote's certificate (empty: the system
	// roots); Cert and Key are this daemon's client certificate for a
	// remote that requires mutual TLS.
	TLS      RemoteTLS
	DefRange hcl.Range
}

// RemoteTLS is a remote block's tls block (file paths).
type RemoteTLS struct{ CA, Cert, Key string }

var remoteSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "urls", Required: true}, {Name: "insecure"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "tls"}},
}

var remoteTLSSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "ca"}, {Name: "cert"}, {Name: "key"}},
}

// decodeRemote reads a remote block. Secure defaults: every URL must be
// https://, or http:// to a loopback host; plain HTTP elsewhere needs
// insecure = true (a token or CSR must not cross a network in clear by
// accident); a client certificate needs https.
func decodeRemote(b *hcl.Block, ctx *hcl.EvalContext) (*Remote, hcl.Diagnostics) {
	r := &Remote{Name: b.Labels[0], DefRange: b.DefRange}
	diags := checkName("remote", r.Name, b.LabelRanges[0])
	content, ds := b.Body.Content(remoteSchema)
	diags = append(diags, ds...)
	diags = append(diags, decodeAttr(content.Attributes["insecure"], ctx, &r.Insecure)...)
	urls := content.Attributes["urls"]
	diags = append(diags, decodeAttr(urls, ctx, &r.URLs)...)
	for _, blk := range content.Blocks {
		tc, ds := blk.Body.Content(remoteTLSSchema)
		diags = append(diags, ds...)
		diags = append(diags, decodeAttr(tc.Attributes["ca"], ctx, &r.TLS.CA)...)
		diags = append(diags, decodeAttr(tc.Attributes["cert"], ctx, &r.TLS.Cert)...)
		diags = append(diags, decodeAttr(tc.Attributes["key"], ctx, &r.TLS.Key)...)
		if (r.TLS.Cert == "") != (r.TLS.Key == "") {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete client certificate",
				Detail: "A remote's tls block needs both cert and key, or neither.", Subject: blk.DefRange.Ptr()})
		}
	}
	if urls == nil || diags.HasErrors() {
		return r, diags
	}
	if len(r.URLs) == 0 {
		return r, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No remote URLs",
			Detail: fmt.Sprintf("remote %q needs at least one URL.", r.Name), Subject: urls.Expr.Range().Ptr()})
	}
	for i, s := range r.URLs {
		if msg := remoteURLProblem(s, r.Insecure, r.TLS.Cert != ""); msg != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid remote URL",
				Detail: fmt.Sprintf("urls[%d] = %q: %s.", i, s, msg), Subject: elementRange(urls.Expr, i).Ptr()})
		}
		r.URLs[i] = strings.TrimRight(s, "/")
	}
	return r, diags
}

// remoteURLProblem says what is wrong with a remote URL, "" if nothing.
func remoteURLProblem(s string, insecure, clientCert bool) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return "want an absolute http:// or https:// URL such as https://ca.example:8888"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return "want a scheme, host and port only (the API path is added)"
	case u.Scheme == "http" && clientCert:
		return "a client certificate (tls cert and key) needs https://"
	case u.Scheme == "http" && !insecure && !loopbackHost(u.Hostname()):
		return "plain http:// is allowed to loopback hosts only; use https:// or set insecure = true"
	}
	return ""
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// elementRange is the range of a list expression's i-th element, or the
// whole expression's.
func elementRange(e hcl.Expression, i int) hcl.Range {
	if exprs, ds := hcl.ExprList(e); !ds.HasErrors() && i < len(exprs) {
		return exprs[i].Range()
	}
	return e.Range()
}

// checkProfileRemotes reports profiles whose remote names no remote block
// (file:line:col of the reference, with a did-you-mean).
func (c *Config) checkProfileRemotes() hcl.Diagnostics {
	var names []string
	for _, r := range c.Remotes {
		names = append(names, r.Name)
	}
	schema := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "remote"}}}
	var diags hcl.Diagnostics
	for _, ca := range c.CAs {
		if ca == nil {
			continue
		}
		for _, p := range ca.Profiles {
			if p == nil || p.Body == nil {
				continue
			}
			content, _, _ := p.Body.PartialContent(schema)
			a := content.Attributes["remote"]
			if a == nil {
				continue
			}
			name := ""
			if tr, ds := hcl.AbsTraversalForExpr(a.Expr); !ds.HasErrors() && tr.RootName() == "remote" && len(tr) == 2 {
				if step, ok := tr[1].(hcl.TraverseAttr); ok {
					name = step.Name
				}
			} else if v, ds := a.Expr.Value(p.EvalContext); !ds.HasErrors() && v.Type().FriendlyName() == "string" && v.IsKnown() && !v.IsNull() {
				name = v.AsString()
			}
			diags = append(diags, checkRef("remote", name, a.Expr.Range(), names)...)
		}
	}
	return diags
}

// Remote returns the remote block named name, nil if none.
func (c *Config) Remote(name string) *Remote {
	for _, r := range c.Remotes {
		if r.Name == name {
			return r
		}
	}
	return nil
}
