package storecfssl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkid/pkid/sdk"
)

// Plugin identity.
const (
	PluginName    = "cfssl"
	PluginVersion = "0.1.0"
)

// New returns the cfssl certstore plugin.
func New() sdk.Plugin { return plugin{} }

type plugin struct{}

// config is the decoded certstore "cfssl" block; absent attributes arrive
// as JSON null and leave the zero value.
type config struct {
	DBConfig   string `json:"db_config"`
	Driver     string `json:"driver"`
	DataSource string `json:"data_source"`
	ReadOnly   *bool  `json:"read_only"`
	Unlabelled string `json:"unlabelled_ca"`
	Timeout    string `json:"timeout"`
}

func (plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        PluginName,
		Version:     PluginVersion,
		Kinds:       []string{sdk.KindCertStore},
		Description: "certificate store in CFSSL's certdb (its certificates and ocsp_responses tables, SQLite, PostgreSQL or MySQL/MariaDB)",
	}
}

// Schema returns the certstore block schema; nil for other kinds.
func (plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindCertStore {
		return nil
	}
	return sdk.NewSchema().
		String("db_config", sdk.Optional, `path to CFSSL's db-config JSON file ({"driver", "data_source"}); or set driver and data_source`).
		String("driver", sdk.Optional, `CFSSL's driver name: "sqlite3", "postgres" or "mysql"`).
		String("data_source", sdk.Optional|sdk.Sensitive, "the database: an SQLite file (it must exist), a PostgreSQL connection string or a MySQL DSN (user:password@tcp(host:port)/dbname)").
		Bool("read_only", sdk.Optional, "never write (importing, reading another deployment's database)").
		Default(`false`).
		String("unlabelled_ca", sdk.Optional, `the CA label of rows whose ca_label is empty (cfssl sign without -label), so that CA's CRL and OCSP runs include them`).
		String("timeout", sdk.Optional, "PostgreSQL and MySQL connect timeout; SQLite lock wait (Go duration)").
		Default(`"5s"`)
}

// ValidateConfig checks the block without touching files or the network.
func (plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := parseConfig(cfg)
	return diags
}

// Configure reads the db-config file if named, connects and checks CFSSL's
// tables. Errors: *sdk.DiagnosticsError for a bad block or db-config file;
// Open's errors otherwise.
func (plugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	opts, diags := parseConfig(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	if opts.path != "" {
		dbc, err := ReadDBConfig(opts.path)
		if err != nil {
			return nil, sdk.Errorf([]string{"db_config"}, "invalid db_config", err.Error()).Err()
		}
		opts.DBConfig = dbc
	}
	s, err := Open(ctx, opts.Options)
	if err != nil && errors.Is(err, sdk.ErrInvalidArgument) {
		return nil, sdk.Errorf([]string{"data_source"}, "invalid data_source", err.Error()).Err()
	}
	return s, err
}

// parsed is a checked block: either path (a db-config file, read at
// Configure) or Options.DBConfig.
type parsed struct {
	Options
	path string
}

// parseConfig decodes and checks cfg.
func parseConfig(cfg sdk.Config) (parsed, sdk.Diagnostics) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		// The decoder's message may quote values: do not echo data_source.
		return parsed{}, sdk.Errorf(nil, "invalid configuration", "the block does not match the cfssl schema")
	}
	var diags sdk.Diagnostics
	p := parsed{Options: Options{DBConfig: DBConfig{Driver: c.Driver, DataSource: c.DataSource}, Timeout: DefaultTimeout}, path: c.DBConfig}
	if c.ReadOnly != nil {
		p.ReadOnly = *c.ReadOnly
	}
	p.UnlabelledCA = c.Unlabelled
	direct := c.Driver != "" || c.DataSource != ""
	switch {
	case strings.TrimSpace(c.DBConfig) != "" && direct:
		diags = append(diags, sdk.Errorf([]string{"db_config"}, "conflicting attributes",
			"set db_config or driver and data_source, not both")...)
	case strings.TrimSpace(c.DBConfig) != "":
	case !direct:
		diags = append(diags, sdk.Errorf([]string{"db_config"}, "missing database",
			"set db_config (CFSSL's db-config file) or driver and data_source")...)
	default:
		if err := p.Check(); err != nil {
			path := "driver"
			if c.Driver != "" && (c.Driver == DriverSQLite || c.Driver == DriverPostgres || c.Driver == DriverMySQL) {
				path = "data_source"
			}
			diags = append(diags, sdk.Errorf([]string{path}, "invalid "+path, err.Error())...)
		} else if c.Driver == DriverPostgres {
			if _, err := pgx.ParseConfig(c.DataSource); err != nil {
				diags = append(diags, sdk.Errorf([]string{"data_source"}, "invalid data_source",
					"data_source must be a PostgreSQL connection string: a postgres:// URL or key=value pairs")...)
			}
		} else if c.Driver == DriverMySQL {
			if _, err := mysqlConfig(c.DataSource); err != nil {
				diags = append(diags, sdk.Errorf([]string{"data_source"}, "invalid data_source", err.Error())...)
			}
		} else if _, err := SQLitePath(c.DataSource); err != nil {
			diags = append(diags, sdk.Errorf([]string{"data_source"}, "invalid data_source", err.Error())...)
		}
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		switch {
		case err != nil:
			diags = append(diags, sdk.Errorf([]string{"timeout"}, "invalid timeout",
				fmt.Sprintf("%q is not a Go duration such as \"5s\"", c.Timeout))...)
		case d <= 0:
			diags = append(diags, sdk.Errorf([]string{"timeout"}, "invalid timeout", "timeout must be positive")...)
		default:
			p.Timeout = d
		}
	}
	return p, diags
}
