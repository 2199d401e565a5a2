package daemon

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/jobs"
)

// newRunner prepares the periodic jobs (each certstore's expiry sweep and
// the revocation publisher's CRL and OCSP work). They run on one node: the
// holder of an advisory lock in a postgres certstore's database, else this
// node alone.
func newRunner(l *catalog.Loaded, pub *publisher, log hclog.Logger) (*jobs.Runner, error) {
	var periodic []jobs.Job
	for name, cs := range l.CertStores {
		j := jobs.ExpirySweep(cs, log, time.Hour)
		j.Name += ":" + name
		periodic = append(periodic, j)
	}
	periodic = append(periodic, pub.jobs()...)
	for _, b := range l.Config.CertStores {
		newPG, ok := catalog.LookupBuiltin(config.KindCertStore, "postgres")
		if b.Type != "postgres" || !ok {
			continue
		}
		raw, diags := config.DecodePluginBody(b, newPG().Schema(config.KindCertStore))
		if diags.HasErrors() {
			return nil, &DiagnosticsError{Diags: diags}
		}
		var pc struct {
			DSN string `json:"dsn"`
		}
		if err := json.Unmarshal(raw, &pc); err != nil {
			return nil, fmt.Errorf("serve: certstore %q: %w", b.Name, err)
		}
		r, err := jobs.NewPostgres(pc.DSN, jobs.DefaultLockKey, periodic, log, jobs.Options{})
		if err != nil {
			return nil, fmt.Errorf("serve: certstore %q: %w", b.Name, err)
		}
		return r, nil
	}
	r, err := jobs.NewLocal(periodic, log)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return r, nil
}
