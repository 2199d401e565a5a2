package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// Plugin commands: `pkid keystore TYPE COMMAND [args]` runs a command that
// the keystore plugin TYPE declares through the plugin protocol (builtin and
// third-party plugins alike). The word after `keystore` is looked up first
// among the configured keystore instance names (the generic verbs of
// keystoreCmd), then among the keystore plugin types. The configuration
// rejects an instance named like a plugin type, so the word is never
// ambiguous.
//
// The dispatch runs before the command framework, which would otherwise
// answer `-help` with the static keystore help and could not pass a plugin
// command's exit code through.

// keystoreDispatch handles `pkid keystore WORD ...` when WORD is a keystore
// plugin type or names nothing. It reports handled=false when WORD is a
// configured keystore instance, leaving it to keystoreCmd.
func keystoreDispatch(args []string, e *env) (code int, handled bool) {
	if len(args) < 2 || args[0] != "keystore" || strings.HasPrefix(args[1], "-") {
		return 0, false
	}
	word := args[1]
	paths, rest := splitConfigArgs(args[2:])
	if len(paths) == 0 {
		if v := os.Getenv("PKID_CONFIG"); v != "" {
			paths = filepath.SplitList(v)
		}
	}
	cfg := &config.Config{}
	if len(paths) > 0 {
		c, ds := config.Load(paths...)
		if ds.HasErrors() {
			return exitCode(e, printDiags(e, c, ds)), true
		}
		cfg = c
		if slices.ContainsFunc(cfg.KeyStores, func(b *config.PluginBlock) bool { return b.Name == word }) {
			return 0, false
		}
	}
	cat, ds := catalog.New(cfg)
	if ds.HasErrors() {
		return exitCode(e, printDiags(e, cfg, ds)), true
	}
	types := cat.Known()[sdk.KindKeyStore]
	if !slices.Contains(types, word) {
		if len(paths) == 0 {
			fmt.Fprintf(e.stderr, "pkid: no keystore plugin type named %q (keystore plugin types: %s); to use a keystore instance, pass -config FILE or set PKID_CONFIG\n",
				word, listOrNone(types))
			return 1, true
		}
		var names []string
		for _, b := range cfg.KeyStores {
			names = append(names, b.Name)
		}
		sort.Strings(names)
		fmt.Fprintf(e.stderr, "pkid: no keystore named %q: configured keystore instances: %s; keystore plugin types: %s\n",
			word, listOrNone(names), listOrNone(types))
		return 1, true
	}
	pc := &pluginCmd{e: e, cfg: cfg, cat: cat, paths: paths, typ: word}
	return pc.run(rest), true
}

// pluginCmd is one `pkid keystore TYPE ...` invocation.
type pluginCmd struct {
	e     *env
	cfg   *config.Config // empty without a configuration
	cat   *catalog.Catalog
	paths []string // configuration files, if any
	typ   string
}

// commander is what a plugin command needs of a plugin, in or out of
// process.
type commander interface {
	commands(ctx context.Context) ([]sdk.Command, error)
	runCommand(ctx context.Context, req sdk.CommandRequest) (int, error)
}

func (pc *pluginCmd) run(args []string) int {
	e, ctx := pc.e, context.Background()
	help := len(args) == 0
	var name string
	var cmdArgs []string
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			help = true
			args = slices.Delete(slices.Clone(args), i, i+1)
			break
		}
	}
	if len(args) > 0 {
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(e.stderr, "pkid: keystore %s: expected a command before %q (pkid keystore %[1]s -h for usage)\n", pc.typ, args[0])
			return 1
		}
		name, cmdArgs = args[0], args[1:]
	}

	// Instances are configured only to run a command: listing the
	// commands needs nothing but the plugin.
	var cmdr commander
	var closeFn func()
	var err error
	if name != "" && !help && pc.hasInstances() {
		cmdr, closeFn, err = pc.configured(ctx)
	} else {
		cmdr, closeFn, err = pc.bare(ctx)
	}
	if err != nil {
		return exitCode(e, err)
	}
	defer closeFn()
	all, err := cmdr.commands(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "pkid: keystore %s: listing commands: %v\n", pc.typ, err)
		return 1
	}
	var cmds []sdk.Command
	for _, c := range all {
		if c.Kind == "" || c.Kind == sdk.KindKeyStore {
			cmds = append(cmds, c)
		}
	}
	if name == "" {
		pc.usage(e.stdout, cmds)
		return 0
	}
	i := slices.IndexFunc(cmds, func(c sdk.Command) bool { return c.Name == name })
	if i < 0 {
		names := make([]string, len(cmds))
		for j, c := range cmds {
			names[j] = c.Name
		}
		fmt.Fprintf(e.stderr, "pkid: keystore plugin %q has no command %q (commands: %s)\n", pc.typ, name, listOrNone(names))
		return 1
	}
	if help {
		fmt.Fprintf(e.stdout, "Usage: pkid keystore %s %s\n\n  %s\n", pc.typ, cmds[i].Name, cmds[i].Synopsis)
		if h := strings.TrimSpace(cmds[i].Help); h != "" {
			fmt.Fprintf(e.stdout, "\n%s\n", indent(h))
		}
		return 0
	}
	code, err := cmdr.runCommand(ctx, sdk.CommandRequest{Kind: sdk.KindKeyStore, Name: name, Args: cmdArgs,
		Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr})
	if err != nil {
		fmt.Fprintf(e.stderr, "pkid: keystore %s %s: %v\n", pc.typ, name, err)
		// Out of process a failed command's own code is lost: an invalid
		// argument is a usage error (2), anything else a failure (1).
		switch {
		case errors.Is(err, sdk.ErrInvalidArgument):
			code = 2
		case code == 0:
			code = 1
		}
	}
	return code
}

// usage lists the plugin's commands with their synopses.
func (pc *pluginCmd) usage(w io.Writer, cmds []sdk.Command) {
	fmt.Fprintf(w, "Usage: pkid keystore %s COMMAND [args] [-config FILE]\n\n", pc.typ)
	if len(cmds) == 0 {
		fmt.Fprintf(w, "  The keystore plugin %q declares no commands.\n", pc.typ)
		return
	}
	fmt.Fprintf(w, "  Commands of the keystore plugin %q:\n\n", pc.typ)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "    %s\t%s\n", c.Name, c.Synopsis)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n  With -config, the command sees the configured %s keystores.\n  pkid keystore %s COMMAND -help shows a command's help.\n", pc.typ, pc.typ)
}

// hasInstances reports whether the configuration has keystores of the type.
func (pc *pluginCmd) hasInstances() bool {
	return slices.ContainsFunc(pc.cfg.KeyStores, func(b *config.PluginBlock) bool { return b.Type == pc.typ })
}

// inProcess reports whether every configured instance of the type runs in
// process (then so does the command, to see them).
func (pc *pluginCmd) inProcess() bool {
	n := 0
	for _, b := range pc.cfg.KeyStores {
		if b.Type != pc.typ {
			continue
		}
		if b.Isolation != config.IsolationInProcess {
			return false
		}
		n++
	}
	return n > 0
}

// configured loads the configuration (configuring every instance, those of
// the type included) and returns the plugin the instances live in.
func (pc *pluginCmd) configured(ctx context.Context) (commander, func(), error) {
	cf := configFlag{paths: pc.paths}
	s, err := cf.load(pc.e, false)
	if err != nil {
		return nil, nil, err
	}
	spec, _ := s.Catalog.Spec(sdk.KindKeyStore, pc.typ)
	if pc.inProcess() && spec.Builtin() {
		c, ok := s.host.InProcess(spec).(sdk.Commander)
		if !ok {
			return noCommands{}, s.Close, nil
		}
		return inProcessCommander{c}, s.Close, nil
	}
	proc, err := s.host.Process(ctx, spec)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	conn, err := proc.Conn(ctx)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return remoteCommander{conn}, s.Close, nil
}

// bare starts the plugin process with no instance configured.
func (pc *pluginCmd) bare(ctx context.Context) (commander, func(), error) {
	spec, _ := pc.cat.Spec(sdk.KindKeyStore, pc.typ)
	host := newHost()
	proc, err := host.Process(ctx, spec)
	if err != nil {
		host.Close()
		return nil, nil, err
	}
	conn, err := proc.Conn(ctx)
	if err != nil {
		host.Close()
		return nil, nil, err
	}
	return remoteCommander{conn}, host.Close, nil
}

// remoteCommander runs commands in a plugin process.
type remoteCommander struct{ c *rpc.Client }

func (r remoteCommander) commands(ctx context.Context) ([]sdk.Command, error) {
	return r.c.Commands(ctx)
}

func (r remoteCommander) runCommand(ctx context.Context, req sdk.CommandRequest) (int, error) {
	return r.c.RunCommand(ctx, req)
}

// inProcessCommander runs commands of a builtin running inside pkid.
type inProcessCommander struct{ c sdk.Commander }

func (i inProcessCommander) commands(context.Context) ([]sdk.Command, error) {
	cmds := i.c.Commands()
	sort.Slice(cmds, func(a, b int) bool { return cmds[a].Name < cmds[b].Name })
	return cmds, nil
}

func (i inProcessCommander) runCommand(ctx context.Context, req sdk.CommandRequest) (int, error) {
	return i.c.RunCommand(ctx, req)
}

// noCommands is a plugin that declares no commands.
type noCommands struct{}

func (noCommands) commands(context.Context) ([]sdk.Command, error) { return nil, nil }
func (noCommands) runCommand(context.Context, sdk.CommandRequest) (int, error) {
	return 1, errors.New("the plugin declares no commands")
}

// splitConfigArgs takes every -config FILE (or -config=FILE, with one or two
// dashes) out of args, up to a "--".
func splitConfigArgs(args []string) (paths, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		flag := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case len(flag) < len(a) && flag == "config" && i+1 < len(args):
			paths = append(paths, args[i+1])
			i++
		case len(flag) < len(a) && strings.HasPrefix(flag, "config="):
			paths = append(paths, strings.TrimPrefix(flag, "config="))
		default:
			rest = append(rest, a)
		}
	}
	return paths, rest
}

// exitCode prints err as command.Run does and returns the exit code.
func exitCode(e *env, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errSilent):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "pkid: %v\n", err)
		return 1
	}
	fmt.Fprintf(e.stderr, "pkid: %v\n", err)
	return 1
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
