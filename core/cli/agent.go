package cli

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/agent"
)

func agentCmd(e *env) *command {
	return &command{
		synopsis: "Keep certificate and key files renewed from a pkid CA",
		help: `
Usage: pkid agent -config agent.hcl
       pkid agent import-certmgr SPEC.json... > agent.hcl

  Keeps the certificate, key, chain and bundle files of every certificate
  block renewed (atomic replacement, owner, group and mode kept), runs its
  reload action once per new certificate, and serves /status and /metrics
  on the agent block's listen address. Stops at SIGTERM or SIGINT.
  See docs/agent.md.

  import-certmgr prints an agent configuration for certmgr spec files.

Options:
  -config FILE   the agent configuration (HCL)
`,
		run: func(args []string) error {
			if len(args) > 0 && args[0] == "import-certmgr" {
				fs := newFlags("agent import-certmgr")
				if err := parseFlags(fs, args[1:]); err != nil {
					return err
				}
				if fs.NArg() == 0 {
					return usagef("import-certmgr needs one or more spec files")
				}
				out, err := agent.ImportCertmgr(fs.Args())
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, string(out))
				return nil
			}
			fs := newFlags("agent")
			path := fs.String("config", "", "agent configuration")
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if *path == "" {
				return usagef("-config is required")
			}
			cfg, err := agent.Load(*path)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			log := hclog.New(&hclog.LoggerOptions{Name: "pkid-agent", Output: e.stderr, Level: logLevel("info")})
			a, err := agent.New(ctx, cfg, agent.Options{Log: log})
			if err != nil {
				return err
			}
			if addr := a.Addr(); addr != nil {
				log.Info("status endpoint", "url", "http://"+addr.String()+"/status")
			}
			return a.Run(ctx)
		},
	}
}
