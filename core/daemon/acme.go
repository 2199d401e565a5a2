package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
)

// newACME builds the ACME server when a profile has an enabled acme
// block (nil otherwise). Its state lives in the DocStore given, else in
// the certstore of the first CA serving ACME, which must keep documents.
func newACME(ctx context.Context, set *authority.Set, docs sdk.DocStore, publicURL string, pub authority.Publisher, obs server.Observer, log hclog.Logger) (*acme.Server, error) {
	var first string
	for _, label := range set.Labels() {
		for name, p := range set.CAs[label].Profiles().Profiles {
			if p != nil && p.ACME != nil && p.ACME.Enabled && (first == "" || label+"/"+name < first) {
				first = label + "/" + name
			}
		}
	}
	if first == "" {
		return nil, nil
	}
	if docs == nil {
		label, _, _ := strings.Cut(first, "/")
		ds, err := acme.DocStoreOf(set.CAs[label].Store())
		if err != nil {
			log.Warn("ACME is not served: the CA's certstore does not keep documents (sdk.DocStore), which ACME's shared state needs", "ca", label, "profile", first)
			return nil, nil
		}
		docs = ds
	}
	s, err := acme.New(acme.Options{CAs: set, Docs: docs, BaseURL: publicURL, Revoked: pub, Observer: obs, Logger: log.Named("acme")})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return s, nil
}

// withACME mounts the ACME server under acme.Prefix.
func withACME(h http.Handler, s *acme.Server) http.Handler {
	if s == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, acme.Prefix) {
			s.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
