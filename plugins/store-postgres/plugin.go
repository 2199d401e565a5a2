package storepostgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pkid/pkid/sdk"
)

// Plugin identity.
const (
	PluginName    = "postgres"
	PluginVersion = "0.1.0"
)

// DefaultConnectTimeout bounds how long an operation waits for a new
// connection while the server is unreachable before failing with
// sdk.ErrUnavailable.
const DefaultConnectTimeout = 5 * time.Second

// MinConns is the smallest accepted max_conns: a List callback that reads
// the store needs a second connection.
const MinConns = 2

// New returns the postgres certstore plugin.
func New() sdk.Plugin { return plugin{} }

type plugin struct{}

// config is the decoded certstore "postgres" block. Absent optional
// attributes arrive as JSON null, which leaves the zero value.
type config struct {
	DSN            string   `json:"dsn"`
	MaxConns       *float64 `json:"max_conns"`
	ConnectTimeout string   `json:"connect_timeout"`
}

func (plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        PluginName,
		Version:     PluginVersion,
		Kinds:       []string{sdk.KindCertStore},
		Description: "certificate store in a PostgreSQL database, shared by several pkid nodes",
	}
}

// Schema returns the certstore block schema; nil for other kinds.
func (plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindCertStore {
		return nil
	}
	return sdk.NewSchema().
		String("dsn", sdk.Required|sdk.Sensitive,
			`connection string (postgres:// URL or key=value pairs); keep the password out of files: dsn = env("PKID_PG_DSN")`).
		Number("max_conns", sdk.Optional, "maximum pool connections (at least 2; default: the larger of 4 and the CPU count)").
		String("connect_timeout", sdk.Optional,
			"how long an operation waits for a new connection before failing as unavailable (Go duration)").
		Default(`"5s"`)
}

// ValidateConfig checks the block without connecting.
func (plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := parseConfig(cfg)
	return diags
}

// Configure connects, migrates the schema and returns the *Store. Errors: a
// *sdk.DiagnosticsError for a bad block; sdk.ErrUnavailable when the server
// cannot be reached; sdk.ErrFailedPrecondition for a schema newer than this
// build; otherwise PostgreSQL errors (e.g. authentication).
func (plugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	opts, diags := parseConfig(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	return Open(ctx, opts)
}

// parseConfig decodes and checks cfg into Options.
func parseConfig(cfg sdk.Config) (Options, sdk.Diagnostics) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		// The decoder's message may quote values: do not echo the DSN.
		return Options{}, sdk.Errorf(nil, "invalid configuration", "the block does not match the postgres schema")
	}
	var diags sdk.Diagnostics
	opts := Options{DSN: c.DSN, ConnectTimeout: DefaultConnectTimeout}
	if strings.TrimSpace(c.DSN) == "" {
		diags = append(diags, sdk.Errorf([]string{"dsn"}, "missing dsn",
			`dsn must be a PostgreSQL connection string, e.g. dsn = env("PKID_PG_DSN")`)...)
	} else if _, err := pgxpool.ParseConfig(c.DSN); err != nil {
		diags = append(diags, sdk.Errorf([]string{"dsn"}, "invalid dsn", parseErrorDetail(err))...)
	}
	if c.MaxConns != nil {
		n := *c.MaxConns
		if n != math.Trunc(n) || n < MinConns || n > math.MaxInt32 {
			diags = append(diags, sdk.Errorf([]string{"max_conns"}, "invalid max_conns",
				fmt.Sprintf("max_conns must be a whole number of at least %d (a List callback that reads the store needs a second connection)", MinConns))...)
		} else {
			opts.MaxConns = int32(n)
		}
	}
	if c.ConnectTimeout != "" {
		d, err := time.ParseDuration(c.ConnectTimeout)
		switch {
		case err != nil:
			diags = append(diags, sdk.Errorf([]string{"connect_timeout"}, "invalid connect_timeout",
				fmt.Sprintf("%q is not a Go duration such as \"5s\"", c.ConnectTimeout))...)
		case d <= 0:
			diags = append(diags, sdk.Errorf([]string{"connect_timeout"}, "invalid connect_timeout",
				"connect_timeout must be positive")...)
		default:
			opts.ConnectTimeout = d
		}
	}
	return opts, diags
}

// parseErrorDetail describes a DSN parse error without the DSN: pgx's own
// message quotes the string (redacting passwords only on a best-effort
// basis), and a wrapped *url.Error quotes the raw URL.
func parseErrorDetail(err error) string {
	const detail = "dsn must be a PostgreSQL connection string: a postgres:// URL or key=value pairs"
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return detail
	}
	// The message after the quoted string ("cannot parse `...`: msg (inner)").
	msg := pe.Error()
	if inner := pe.Unwrap(); inner != nil {
		msg = strings.TrimSuffix(msg, " ("+inner.Error()+")")
	}
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	} else {
		msg = ""
	}
	inner := pe.Unwrap()
	var ue *url.Error
	if errors.As(inner, &ue) {
		inner = ue.Err
	}
	if inner != nil && !containsSecret(inner.Error(), pe.ConnString) {
		msg = strings.TrimPrefix(msg+" ("+inner.Error()+")", " ")
	}
	if msg == "" || containsSecret(msg, pe.ConnString) {
		return detail
	}
	return detail + " (" + msg + ")"
}

// containsSecret reports whether s quotes a run of the DSN long enough to
// carry a password: any 8-byte window of the DSN after its scheme.
func containsSecret(s, dsn string) bool {
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		dsn = rest
	}
	for i := 0; i+8 <= len(dsn); i++ {
		if strings.Contains(s, dsn[i:i+8]) {
			return true
		}
	}
	return false
}
