// Command pkid-plugin-scancheck-example is a sample third-party TLS scanner
// check for pkid, built against github.com/pkid/pkid/sdk alone. Its family
// "Example" has one check, "CertLifetime": the certificate the target
// serves must stay valid for at least min_days more days (default 30).
// pkid scan runs it beside the builtin checks once a configuration
// registers it:
//
//	plugin "scancheck-example" { path = "..." sha256 = "..." }   # pkid plugin register prints this
//	scancheck "scancheck-example" "lifetime" { min_days = 60 }
//
//	pkid scan -config pkid.hcl -family Example example.com
//
// docs/plugin-guide.md describes what the host expects of a scan check.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Names of the family and its check.
const (
	familyName = "Example"
	checkName  = "CertLifetime"
)

func main() { os.Exit(sdk.Main(New())) }

type plugin struct{}

// New returns the plugin.
func New() sdk.Plugin { return plugin{} }

func (plugin) Info() sdk.Info {
	return sdk.Info{Name: "scancheck-example", Version: "1.0.0", Kinds: []string{sdk.KindScanCheck},
		Description: "sample TLS scanner check: the served certificate stays valid for min_days"}
}

func (plugin) Schema(string) *sdk.Schema {
	return sdk.NewSchema().Number("min_days", sdk.Optional, "days the served certificate must stay valid").Default("30")
}

// parse decodes the block: min_days is 30 when unset (JSON null).
func parse(cfg sdk.Config) (int, sdk.Diagnostics) {
	c := struct {
		MinDays *int `json:"min_days"`
	}{}
	if err := cfg.Decode(&c); err != nil {
		return 0, sdk.Errorf([]string{"min_days"}, "min_days must be a whole number of days", "")
	}
	if c.MinDays == nil {
		return 30, nil
	}
	if *c.MinDays < 0 || *c.MinDays > 3650 {
		return 0, sdk.Errorf([]string{"min_days"}, "min_days must be between 0 and 3650", "")
	}
	return *c.MinDays, nil
}

func (plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := parse(cfg)
	return diags
}

func (plugin) Configure(_ context.Context, cfg sdk.Config) (sdk.Instance, error) {
	days, diags := parse(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	return &lifetime{min: time.Duration(days) * 24 * time.Hour, now: time.Now}, nil
}

// lifetime is the sdk.ScanCheck.
type lifetime struct {
	min time.Duration
	now func() time.Time
}

func (*lifetime) Close() error { return nil }

func (l *lifetime) Families(context.Context) ([]sdk.ScanFamily, error) {
	return []sdk.ScanFamily{{
		Name: familyName, Description: "Checks of the sample third-party plugin",
		Checks: []sdk.ScanCheckInfo{{Name: checkName, Description: fmt.Sprintf("The served certificate stays valid for at least %d more days", int(l.min.Hours()/24))}},
	}}, nil
}

// output is the finding's data (CFSSL-style: plain JSON).
type output struct {
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}

func (l *lifetime) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	if req.Family != familyName || req.Check != checkName {
		return fmt.Errorf("scancheck-example: %s/%s: %w", req.Family, req.Check, sdk.ErrNotFound)
	}
	addr, name, err := target(req)
	if err != nil {
		return err
	}
	finding := func(g sdk.Grade, reason string, out any) error {
		f := &sdk.Finding{Family: familyName, Check: checkName, Grade: g, Reason: reason}
		if out != nil {
			f.Output, _ = json.Marshal(out)
		}
		return fn(f)
	}
	// The pinned address (req.IP) is dialled, never a re-resolved name:
	// under the daemon's allowlist that is the address it checked.
	d := tls.Dialer{Config: &tls.Config{ServerName: name, InsecureSkipVerify: true}} // lifetime only: the builtin PKI checks verify
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return finding(sdk.GradeBad, "TLS handshake failed: "+err.Error(), nil)
	}
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	conn.Close()
	if len(certs) == 0 {
		return finding(sdk.GradeBad, "the host served no certificate", nil)
	}
	left := certs[0].NotAfter.Sub(l.now())
	out := output{NotAfter: certs[0].NotAfter.UTC(), DaysLeft: int(left.Hours() / 24)}
	switch {
	case left <= 0:
		return finding(sdk.GradeBad, "the certificate expired on "+out.NotAfter.Format(time.DateOnly), out)
	case left < l.min:
		return finding(sdk.GradeWarning, fmt.Sprintf("the certificate expires in %d days, fewer than %d", out.DaysLeft, int(l.min.Hours()/24)), out)
	}
	return finding(sdk.GradeGood, "", out)
}

// target returns the address to dial and the name to send as SNI.
// Errors wrap sdk.ErrInvalidArgument.
func target(req sdk.ScanRequest) (addr, name string, err error) {
	host, port, err := net.SplitHostPort(req.Host)
	if err != nil {
		host, port = req.Host, "443"
	}
	if p, perr := strconv.Atoi(port); perr != nil || p < 1 || p > 65535 {
		return "", "", fmt.Errorf("scancheck-example: port %q: %w", port, sdk.ErrInvalidArgument)
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n/") {
		return "", "", fmt.Errorf("scancheck-example: host %q: %w", req.Host, sdk.ErrInvalidArgument)
	}
	dial := host
	if req.IP != "" {
		ip, perr := netip.ParseAddr(req.IP)
		if perr != nil {
			return "", "", fmt.Errorf("scancheck-example: ip %q: %w", req.IP, sdk.ErrInvalidArgument)
		}
		dial = ip.String()
	}
	if _, perr := netip.ParseAddr(host); perr == nil {
		host = "" // no SNI for an address
	}
	return net.JoinHostPort(dial, port), host, nil
}
