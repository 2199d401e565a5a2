// Package cli is pkid's command tree. It is the only package that parses
// flags, prints for humans and picks exit codes.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	hcli "github.com/hashicorp/cli"
	"github.com/pkid/pkid/core/client"
)

// Version is set at build time with -ldflags "-X github.com/pkid/pkid/core/cli.Version=...".
var Version = "0.1.0-dev"

// env is what a command sees of the world; tests swap the writers.
type env struct {
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
}

// Run executes pkid with args (without the program name) and returns the
// exit code.
func Run(args []string) int {
	return run(args, &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin})
}

func run(args []string, e *env) int {
	// The hidden plugin server must print nothing before the go-plugin
	// handshake, so it bypasses the command framework.
	if len(args) >= 2 && args[0] == "plugin" && args[1] == "serve" {
		return pluginServe(args[2:], e)
	}
	// `pkid keystore TYPE ...` runs a plugin's own commands (plugincmd.go).
	if code, ok := keystoreDispatch(args, e); ok {
		return code
	}
	// `pkid help [COMMAND...]` is `pkid [COMMAND...] -h`.
	if len(args) > 0 && args[0] == "help" {
		args = append(slices.Clone(args[1:]), "-h")
	}
	c := &hcli.CLI{
		Name:         "pkid",
		Version:      Version,
		Args:         args,
		HelpWriter:   e.stdout,
		ErrorWriter:  e.stderr,
		Autocomplete: false,
		Commands: map[string]hcli.CommandFactory{
			"version":           factory(e, versionCmd),
			"validate":          factory(e, validateCmd),
			"plugin":            func() (hcli.Command, error) { return &groupCmd{synopsis: "Inspect and register plugins", e: e}, nil },
			"plugin list":       factory(e, pluginListCmd),
			"plugin register":   factory(e, pluginRegisterCmd),
			"plugin schema":     factory(e, pluginSchemaCmd),
			"keystore":          factory(e, keystoreCmd),
			"certstore":         factory(e, certstoreCmd),
			"acme":              factory(e, acmeCmd),
			"json":              factory(e, jsonCmd),
			"genkey":            factory(e, genkeyCmd),
			"gencsr":            factory(e, gencsrCmd),
			"gencert":           factory(e, gencertCmd),
			"sign":              factory(e, signCmd),
			"selfsign":          factory(e, selfsignCmd),
			"certinfo":          factory(e, certinfoCmd),
			"info":              factory(e, infoCmd),
			"print-defaults":    factory(e, printDefaultsCmd),
			"ca":                func() (hcli.Command, error) { return &groupCmd{synopsis: "Manage configured CAs", e: e}, nil },
			"ca init":           factory(e, caInitCmd),
			"ca ocsp-responder": factory(e, caResponderCmd),
			"ocspserve":         factory(e, ocspserveCmd),
			"serve":             factory(e, serveCmd),
			"agent":             factory(e, agentCmd),
			"crl":               factory(e, crlCmd),
			"gencrl":            factory(e, gencrlCmd),
			"revoke":            factory(e, revokeCmd),
			"ocspsign":          factory(e, ocspsignCmd),
			"ocsprefresh":       factory(e, ocsprefreshCmd),
			"ocspdump":          factory(e, ocspdumpCmd),
			"ct":                func() (hcli.Command, error) { return &groupCmd{synopsis: "Certificate Transparency"}, nil },
			"ct submit":         factory(e, ctSubmitCmd),
			"scan":              factory(e, scanCmd),
			"mkbundle":          factory(e, mkbundleCmd),
			"bundle":            factory(e, bundleCmd),
			"audit":             func() (hcli.Command, error) { return &groupCmd{synopsis: "Check the audit log"}, nil },
			"audit verify":      factory(e, auditVerifyCmd),
			"multirootca":       factory(e, multirootcaCmd),
			"config":            func() (hcli.Command, error) { return &groupCmd{synopsis: "Translate CFSSL configuration"}, nil },
			"config import":     factory(e, configImportCmd),
			"validator":         factory(e, validatorCmd),
		},
	}
	named(c.Commands)
	// A missing or unknown command is a usage error: one line, exit 1
	// (hcli would print the command list and exit 127).
	if sub := c.Subcommand(); !c.IsVersion() && !(sub == "" && c.IsHelp()) {
		if _, ok := c.Commands[sub]; !ok || sub == "" {
			if len(args) == 0 || strings.HasPrefix(args[0], "-") {
				fmt.Fprintln(e.stderr, "pkid: no command given (pkid help lists the commands)")
			} else {
				fmt.Fprintf(e.stderr, "pkid: unknown command %q (pkid help lists the commands)\n", args[0])
			}
			return 1
		}
		if strings.HasPrefix(args[0], "-") && !c.IsHelp() {
			fmt.Fprintf(e.stderr, "pkid: %s before the command: flags go after it (pkid %s -h for usage)\n", args[0], sub)
			return 1
		}
	}
	code, err := c.Run()
	if err != nil {
		fmt.Fprintf(e.stderr, "pkid: %v\n", err)
		return 1
	}
	return code
}

// named tells each command and group its name, for its error lines.
func named(cmds map[string]hcli.CommandFactory) {
	for name, f := range cmds {
		cmds[name] = func() (hcli.Command, error) {
			c, err := f()
			switch c := c.(type) {
			case *command:
				c.name = name
			case *groupCmd:
				c.name = name
				for sub := range cmds {
					if rest, ok := strings.CutPrefix(sub, name+" "); ok {
						c.subs = append(c.subs, rest)
					}
				}
				slices.Sort(c.subs)
			}
			return c, err
		}
	}
}

// command is a small adapter from a function to hcli.Command.
type command struct {
	name     string
	synopsis string
	help     string
	run      func(args []string) error
	e        *env
}

func (c *command) Synopsis() string { return c.synopsis }
func (c *command) Help() string     { return strings.TrimSpace(c.help) }
func (c *command) Run(args []string) int {
	err := c.run(args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(c.e.stderr, c.Help())
		return 0
	case errors.Is(err, errSilent):
		return 1
	}
	if ce := (*cfsslError)(nil); errors.As(err, &ce) {
		fmt.Fprintln(c.e.stderr, ce.line())
		return 1
	}
	// A remote's error, in whatever context, without its repetitions.
	if re := (*client.Error)(nil); errors.As(err, &re) {
		fmt.Fprintf(c.e.stderr, "pkid: %s\n", strings.Replace(err.Error(), re.Error(), remoteLine(re, true), 1))
		return 1
	}
	// A usage error is one line too, with where to find the usage.
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.e.stderr, "pkid: %s: %v (pkid %[1]s -h for usage)\n", c.name, err)
		return 1
	}
	fmt.Fprintf(c.e.stderr, "pkid: %v\n", err)
	return 1
}

func factory(e *env, mk func(*env) *command) hcli.CommandFactory {
	return func() (hcli.Command, error) {
		c := mk(e)
		c.e = e
		return c, nil
	}
}

// groupCmd is a command that only holds subcommands (`pkid ca`).
type groupCmd struct {
	name, synopsis string
	subs           []string
	e              *env
}

func (g *groupCmd) Synopsis() string { return g.synopsis }
func (g *groupCmd) Help() string     { return g.synopsis }

// Run is reached without a known subcommand: a usage error.
func (g *groupCmd) Run(args []string) int {
	if len(args) > 0 {
		fmt.Fprintf(g.e.stderr, "pkid: %s has no subcommand %q (subcommands: %s)\n", g.name, args[0], strings.Join(g.subs, ", "))
	} else {
		fmt.Fprintf(g.e.stderr, "pkid: %s needs a subcommand: %s\n", g.name, strings.Join(g.subs, ", "))
	}
	return 1
}

// errSilent: the command already printed what went wrong.
var errSilent = errors.New("failed")

// usageError is a command-line mistake; its line names the command's -h.
type usageError string

func (u usageError) Error() string { return string(u) }

func usagef(format string, a ...any) error { return usageError(fmt.Sprintf(format, a...)) }

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}

// parseFlagsNoArgs is parseFlags for commands that take no positional
// arguments.
func parseFlagsNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func versionCmd(e *env) *command {
	return &command{
		synopsis: "Print the pkid version",
		help:     "Usage: pkid version",
		run: func(args []string) error {
			if err := parseFlagsNoArgs(newFlags("version"), args); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "pkid %s (plugin protocol v%d)\n", Version, protocolVersion)
			return nil
		},
	}
}
