package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/jobs"
	"github.com/pkid/pkid/core/metrics"
	"github.com/pkid/pkid/core/revocation"
	"github.com/pkid/pkid/core/server/responder"
	"github.com/pkid/pkid/sdk"
)

// publisher is the daemon's revocation side: CRL files and their HTTP
// paths, the OCSP responder, CA certificates for AIA, and the work done
// after each revocation.
type publisher struct {
	svc                       *revocation.Service
	ocsp                      *responder.Handler
	cas                       http.Handler
	crlPath, ocspPath, caPath string
	log                       hclog.Logger
}

// CRLDir is where CRLs are written: state_dir/crl, or a directory under
// the system's temporary directory when the configuration has no
// state_dir (CRLs can always be regenerated from the store).
// The temporary directory is named after the configuration's files, so
// two deployments on one machine never serve each other's CRLs.
func CRLDir(cfg *config.Config) string {
	if cfg.Pkid.StateDir != "" {
		return filepath.Join(cfg.Pkid.StateDir, "crl")
	}
	var names []string
	for name := range cfg.Files {
		if abs, err := filepath.Abs(name); err == nil {
			name = abs
		}
		names = append(names, name)
	}
	sort.Strings(names)
	sum := sha256.Sum256([]byte(strings.Join(names, "\n")))
	return filepath.Join(os.TempDir(), fmt.Sprintf("pkid-crl-%d-%x", os.Getuid(), sum[:6]))
}

func newPublisher(ctx context.Context, cfg *config.Config, set *authority.Set, log hclog.Logger) (*publisher, error) {
	pk := cfg.Pkid
	p := &publisher{
		crlPath:  orDefault(pk.CRLPath, config.DefaultCRLPath),
		ocspPath: orDefault(pk.OCSPPath, config.DefaultOCSPPath),
		caPath:   orDefault(pk.CAPath, config.DefaultCAPath),
		cas:      revocation.CAHandler(set),
		log:      log,
	}
	p.ocsp = responder.NewHandler(ocspObserved{OCSPSource(set, true, true, log.Named("ocsp")), metrics.Default}, responder.Options{Log: log.Named("ocsp")})
	dir := CRLDir(cfg)
	log.Info("CRLs are published from a directory", "dir", dir)
	svc, err := revocation.New(revocation.Options{CAs: set, Dir: dir, Log: log.Named("revocation"), Forget: p.ocsp.Forget})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	p.svc = svc
	svc.Start(ctx)
	return p, nil
}

func (p *publisher) stop() { p.svc.Stop() }

func (p *publisher) jobs() []jobs.Job { return p.svc.Jobs() }

func (p *publisher) revoked(ctx context.Context, rr sdk.RevokeRequest) error {
	return p.svc.Revoked(ctx, rr)
}

// routes puts the publication paths beside the API. The OCSP path is
// matched by prefix without path cleaning: GET requests carry base64,
// which may contain "//".
func (p *publisher) routes(api http.Handler) http.Handler {
	crl := http.StripPrefix(p.crlPath, p.svc.CRLHandler())
	cas := http.StripPrefix(p.caPath, p.cas)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case under(path, p.ocspPath):
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimPrefix(r.URL.Path, p.ocspPath)
			if r.URL.RawPath != "" {
				r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, p.ocspPath)
			}
			p.ocsp.ServeHTTP(w, r2)
		case under(path, p.crlPath):
			crl.ServeHTTP(w, r)
		case under(path, p.caPath):
			cas.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// under reports whether path is prefix or below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// OCSPSource answers OCSP requests for every CA with a certstore from that
// store. live allows signing (unknown serials, nonces, SHA-2 CertIDs,
// missing pre-signed responses); writeBack stores what was signed.
func OCSPSource(set *authority.Set, live, writeBack bool, log hclog.Logger) responder.Source {
	byStore := map[sdk.CertStore][]responder.Issuer{}
	var order []sdk.CertStore
	for _, label := range set.Labels() {
		iss := set.CAs[label]
		st := iss.Store()
		if st == nil {
			continue
		}
		if _, ok := byStore[st]; !ok {
			order = append(order, st)
		}
		byStore[st] = append(byStore[st], iss)
	}
	var chain chainSource
	for _, st := range order {
		chain = append(chain, &responder.StoreSource{Issuers: byStore[st], Store: st, Live: live, WriteBack: writeBack, Log: log})
	}
	return chain
}

// chainSource asks each source in turn; the first that knows the issuer
// answers.
type chainSource []responder.Source

func (c chainSource) Response(ctx context.Context, req *responder.Request) ([]byte, error) {
	for _, s := range c {
		der, err := s.Response(ctx, req)
		if !errors.Is(err, responder.ErrNotFound) {
			return der, err
		}
	}
	return nil, responder.ErrNotFound
}
