package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk/rpc"
)

const protocolVersion = rpc.ProtocolVersion

// configFlag is the repeatable -config flag with the PKID_CONFIG fallback.
type configFlag struct{ paths stringList }

func (c *configFlag) register(fs *flag.FlagSet) {
	fs.Var(&c.paths, "config", "configuration `FILE` or directory (repeatable; default $PKID_CONFIG)")
}

func (c *configFlag) resolve() ([]string, error) {
	if len(c.paths) > 0 {
		return c.paths, nil
	}
	if v := os.Getenv("PKID_CONFIG"); v != "" {
		return filepath.SplitList(v), nil
	}
	return nil, usagef("no configuration: pass -config FILE or set PKID_CONFIG")
}

// session is a loaded configuration with its plugin host.
type session struct {
	*catalog.Loaded
	host *pluginhost.Host
}

func (s *session) Close() { s.host.Close() }

func newHost() *pluginhost.Host {
	lvl := hclog.LevelFromString(os.Getenv("PKID_LOG_LEVEL"))
	if lvl == hclog.NoLevel {
		lvl = hclog.Warn
	}
	return pluginhost.New(pluginhost.Options{
		Logger: hclog.New(&hclog.LoggerOptions{Name: "pkid", Output: os.Stderr, Level: lvl}),
	})
}

// load parses the configuration and runs the plugin load path, printing
// diagnostics (with source snippets) on failure.
func (c *configFlag) load(e *env, validateOnly bool) (*session, error) {
	paths, err := c.resolve()
	if err != nil {
		return nil, err
	}
	cfg, diags := config.Load(paths...)
	if diags.HasErrors() {
		return nil, printDiags(e, cfg, diags)
	}
	host := newHost()
	loaded, ldiags := catalog.Load(context.Background(), catalog.LoadRequest{Config: cfg, Host: host, ValidateOnly: validateOnly})
	diags = append(diags, ldiags...)
	if diags.HasErrors() {
		host.Close()
		return nil, printDiags(e, cfg, diags)
	}
	if len(diags) > 0 {
		_ = printDiags(e, cfg, diags)
	}
	return &session{Loaded: loaded, host: host}, nil
}

func printDiags(e *env, cfg *config.Config, diags hcl.Diagnostics) error {
	if cfg != nil {
		if err := cfg.WriteDiagnostics(e.stderr, diags); err == nil {
			if diags.HasErrors() {
				return errSilent
			}
			return nil
		}
	}
	for _, d := range diags {
		fmt.Fprintln(e.stderr, d.Error())
	}
	if diags.HasErrors() {
		return errSilent
	}
	return nil
}

func validateCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "Check a configuration without serving",
		help: `
Usage: pkid validate -config FILE [-config FILE ...]

  Runs the whole load path (parse, resolve plugins, decode each plugin block
  against its plugin's schema, plugin validation) without creating anything.
  Exits 0 when the configuration is valid; otherwise prints diagnostics with
  file:line:column and exits 1.
`,
		run: func(args []string) error {
			fs := newFlags("validate")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			s, err := cf.load(e, true)
			if err != nil {
				return err
			}
			defer s.Close()
			cfg := s.Config
			// Profiles are the core's to decode: check them too.
			var pdiags hcl.Diagnostics
			for _, c := range cfg.CAs {
				_, ds := profile.DecodeHCL(c.Profiles)
				pdiags = append(pdiags, ds...)
			}
			if len(pdiags) > 0 {
				if err := printDiags(e, cfg, pdiags); err != nil {
					return err
				}
			}
			trusts := ""
			if len(cfg.Trusts) > 0 {
				trusts = ", " + plural(len(cfg.Trusts), "trust source")
			}
			fmt.Fprintf(e.stdout, "The configuration is valid: %s, %s%s, %s, %s.\n",
				plural(len(cfg.KeyStores), "keystore"), plural(len(cfg.CertStores), "certstore"), trusts,
				plural(len(cfg.Plugins), "external plugin"), plural(len(cfg.CAs), "CA"))
			return nil
		},
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// splitNameVerb takes `NAME VERB [flags...]` apart.
func splitNameVerb(args []string, verbs []string) (name, verb string, rest []string, err error) {
	if len(args) < 2 || strings.HasPrefix(args[0], "-") {
		return "", "", nil, usagef("expected NAME and one of: %s", strings.Join(verbs, ", "))
	}
	name, verb = args[0], args[1]
	for _, v := range verbs {
		if v == verb {
			return name, verb, args[2:], nil
		}
	}
	return "", "", nil, usagef("unknown command %q; expected one of: %s", verb, strings.Join(verbs, ", "))
}
