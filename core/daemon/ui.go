package daemon

import (
	"context"
	"net/http"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ui"
)

// apiPolicy is client_cert_policy without the dashboard's entry, which
// names no API endpoint.
func apiPolicy(p map[string][]string) map[string][]string {
	if _, ok := p[config.UIPolicy]; !ok {
		return p
	}
	out := map[string][]string{}
	for k, v := range p {
		if k != config.UIPolicy {
			out[k] = v
		}
	}
	return out
}

// newUI builds the dashboard when the ui block enables it or in dev mode
// (loopback clients only there); nil when it is off. checkUI ran before.
func newUI(loaded *catalog.Loaded, opts Options, checks map[string]func(context.Context) error, d *Daemon) (http.Handler, error) {
	pk := loaded.Config.Pkid
	if !pk.UI.Enabled && !opts.Dev {
		return nil, nil
	}
	access := ui.Access{Loopback: opts.Dev}
	pats, named := pk.ClientCertPolicy[config.UIPolicy]
	if named {
		res, err := ui.CompilePatterns(pats)
		if err != nil {
			return nil, err
		}
		access.Patterns = res
	}
	return ui.New(ui.Options{
		CAs: d.set, Config: loaded.Config, CRLDir: CRLDir(loaded.Config),
		Health: checks, Access: access,
		ExpiringWithin: pk.UI.ExpiringWithin, Log: d.log.Named("ui"),
		OnDone: d.ops.uiDone,
	})
}

// checkUI refuses a dashboard enabled outside dev mode without verified
// client certificates or a ui entry in client_cert_policy: one nobody may
// see, or anyone may, is a configuration mistake. It runs before anything
// is built.
func checkUI(pk config.PkidBlock, opts Options, clientCA bool) error {
	if !pk.UI.Enabled || opts.Dev {
		return nil
	}
	rng := pk.UI.DefRange.Ptr()
	if _, named := pk.ClientCertPolicy[config.UIPolicy]; !named {
		return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Dashboard without a client policy",
			Detail:  `The ui block enables the dashboard, which outside -dev is served only to mTLS clients named by a "ui" entry of the pkid block's client_cert_policy (e.g. client_cert_policy = { ui = ["^ops-.*$"] }); there is none.`,
			Subject: rng}}}
	}
	if !clientCA {
		return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Dashboard without client certificates",
			Detail:  "The ui block enables the dashboard, which outside -dev needs verified client certificates: set client_ca in the pkid block's tls block (or pkid serve -mutual-tls-ca).",
			Subject: rng}}}
	}
	return nil
}

// withUI serves the dashboard under /ui/ beside next.
func withUI(dash, next http.Handler) http.Handler {
	if dash == nil {
		return next
	}
	root := strings.TrimSuffix(ui.Prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == root || strings.HasPrefix(r.URL.Path, ui.Prefix) {
			dash.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
