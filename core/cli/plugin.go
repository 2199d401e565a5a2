package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// pluginServe is the hidden `pkid plugin serve KIND TYPE`: the re-executed
// binary serving one builtin plugin over go-plugin.
func pluginServe(args []string, e *env) int {
	if len(args) != 2 {
		fmt.Fprintln(e.stderr, "pkid: usage: pkid plugin serve KIND TYPE (started by pkid itself)")
		return 1
	}
	f, ok := catalog.LookupBuiltin(args[0], args[1])
	if !ok {
		fmt.Fprintf(e.stderr, "pkid: no builtin %s plugin %q\n", args[0], args[1])
		return 1
	}
	sdk.Serve(f())
	return 0
}

func pluginListCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "List builtin and configured plugins",
		help: `
Usage: pkid plugin list [-config FILE]

  Lists the builtin plugins and, with a configuration, the external plugins
  it registers (started briefly to read their version) and the isolation
  each configured instance uses.
`,
		run: func(args []string) error {
			fs := newFlags("plugin list")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			var cfg *config.Config
			if paths, err := cf.resolve(); err == nil {
				var diags hcl.Diagnostics
				cfg, diags = config.Load(paths...)
				if diags.HasErrors() {
					return printDiags(e, cfg, diags)
				}
			}
			isolation := map[string]string{} // kind/type -> isolation of its instances
			if cfg != nil {
				for _, b := range append(append([]*config.PluginBlock{}, cfg.KeyStores...), cfg.CertStores...) {
					iso := b.Isolation
					if iso == "" {
						iso = "process"
					}
					k := b.Kind + "/" + b.Type
					if prev, ok := isolation[k]; ok && prev != iso {
						iso = "mixed"
					}
					isolation[k] = iso
				}
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tTYPE\tSOURCE\tVERSION\tISOLATION")
			for _, b := range catalog.Builtins() {
				iso := isolation[b.Kind+"/"+b.Type]
				if iso == "" {
					iso = "process (default)"
				}
				fmt.Fprintf(tw, "%s\t%s\tbuiltin\t%s\t%s\n", b.Kind, b.Type, b.New().Info().Version, iso)
			}
			if cfg != nil {
				host := newHost()
				defer host.Close()
				for _, p := range cfg.Plugins {
					info, err := externalInfo(host, p)
					if err != nil {
						fmt.Fprintf(tw, "?\t%s\texternal\terror: %v\tprocess\n", p.Type, err)
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\texternal\t%s\tprocess\n", strings.Join(info.Kinds, ","), p.Type, info.Version)
				}
			}
			return tw.Flush()
		},
	}
}

func externalInfo(host *pluginhost.Host, p *config.ExternalPlugin) (sdk.Info, error) {
	ctx := context.Background()
	proc, err := host.Process(ctx, catalog.ExternalSpec("", p))
	if err != nil {
		return sdk.Info{}, err
	}
	conn, err := proc.Conn(ctx)
	if err != nil {
		return sdk.Info{}, err
	}
	return conn.Info(ctx)
}

func pluginRegisterCmd(e *env) *command {
	return &command{
		synopsis: "Print a ready-to-paste plugin block for a plugin binary",
		help: `
Usage: pkid plugin register [-type NAME] [-probe] PATH

  Pins a plugin binary without running it: prints a plugin block with the
  sha256 of the file's bytes and its path (a symlink is resolved: the block
  names the file it points at). The type is -type, else the file name
  without a "pkid-plugin-" prefix. pkid refuses to start the plugin if the
  binary changes.

  -probe then starts it once, pinned to that sha256 (checked again as it
  is started), to read its name, version and kinds; run it only on a
  binary you trust. pkid validate does the same with the pasted block.
`,
		run: func(args []string) error {
			fs := newFlags("plugin register")
			typ := fs.String("type", "", "plugin type name of the block (default: from the file name)")
			probe := fs.Bool("probe", false, "after pinning, start the plugin to read its name, version and kinds")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return usagef("expected one PATH")
			}
			path, sum, err := pinFile(fs.Arg(0))
			if err != nil {
				return fmt.Errorf("plugin register: %w", err)
			}
			name := *typ
			if name == "" {
				name = strings.TrimPrefix(filepath.Base(path), "pkid-plugin-")
				name = strings.TrimSuffix(name, ".exe")
			}
			comment := fmt.Sprintf("# pkid plugin %q (not started: pkid validate checks it)", name)
			if *probe {
				host := newHost()
				defer host.Close()
				// SecureConfig in the host checks the same sha256 before it
				// executes the file.
				info, err := externalInfo(host, &config.ExternalPlugin{Type: name, Path: path, SHA256: sum})
				if err != nil {
					return fmt.Errorf("plugin register: %s is not a working pkid plugin: %w", path, err)
				}
				if *typ == "" {
					name = info.Name
				}
				comment = fmt.Sprintf("# pkid plugin %q %s (%s)", info.Name, info.Version, strings.Join(info.Kinds, ", "))
			}
			if _, builtin := builtinKind(name); builtin {
				return fmt.Errorf("plugin register: %q is the name of a builtin plugin; pass -type with another name", name)
			}
			fmt.Fprintf(e.stdout, "%s\nplugin %q {\n  path   = %q\n  sha256 = %q\n}\n", comment, name, path, sum)
			return nil
		},
	}
}

// pinFile resolves path (absolute, symlinks followed) and returns it with
// the hex sha256 of its bytes, read from one open descriptor that is
// checked to be a regular file: a FIFO or device is refused before it is
// read (it could block or never end), and what is hashed is what was
// checked. Nothing is executed.
func pinFile(path string) (string, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", "", err
	}
	if fi, err := os.Stat(real); err != nil {
		return "", "", err
	} else if !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("%s is not a regular file (%s)", real, fi.Mode().Type())
	}
	// O_NOFOLLOW: real was resolved; a symlink put there since is refused.
	// O_NONBLOCK: a FIFO swapped in since does not block the open.
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", "", err
	}
	if !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("%s is not a regular file (%s)", real, fi.Mode().Type())
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", real, err)
	}
	return real, hex.EncodeToString(h.Sum(nil)), nil
}

func builtinKind(typ string) (string, bool) {
	for _, kind := range catalog.Kinds {
		if _, ok := catalog.LookupBuiltin(kind, typ); ok {
			return kind, true
		}
	}
	return "", false
}

func pluginSchemaCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "Show the configuration schema of a plugin",
		help: `
Usage: pkid plugin schema [-config FILE] [-json] KIND TYPE

  Prints a commented configuration block for the plugin (or its schema as
  JSON with -json). External plugins need the configuration that registers
  them.
`,
		run: func(args []string) error {
			fs := newFlags("plugin schema")
			cf.register(fs)
			asJSON := fs.Bool("json", false, "print the schema as JSON")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 2 {
				return usagef("expected KIND and TYPE")
			}
			kind, typ := fs.Arg(0), fs.Arg(1)
			var schema *sdk.Schema
			if f, ok := catalog.LookupBuiltin(kind, typ); ok {
				schema = f().Schema(kind)
			} else {
				paths, err := cf.resolve()
				if err != nil {
					return fmt.Errorf("no builtin %s plugin %q (for an external plugin pass -config)", kind, typ)
				}
				cfg, diags := config.Load(paths...)
				if diags.HasErrors() {
					return printDiags(e, cfg, diags)
				}
				cat, _ := catalog.New(cfg)
				spec, ok := cat.Spec(kind, typ)
				if !ok {
					return fmt.Errorf("no %s plugin %q (builtin or registered)", kind, typ)
				}
				host := newHost()
				defer host.Close()
				ctx := context.Background()
				proc, err := host.Process(ctx, spec)
				if err != nil {
					return err
				}
				conn, err := proc.Conn(ctx)
				if err != nil {
					return err
				}
				if schema, err = conn.Schema(ctx, kind); err != nil {
					return err
				}
			}
			if *asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(schema)
			}
			fmt.Fprintf(e.stdout, "%s %q \"NAME\" {\n", kind, typ)
			writeSchema(e, schema, "  ")
			fmt.Fprintln(e.stdout, "}")
			return nil
		},
	}
}

func writeSchema(e *env, s *sdk.Schema, indent string) {
	for _, a := range s.Attributes {
		var notes []string
		notes = append(notes, strings.Trim(strings.ReplaceAll(a.Type, `"`, ""), "[]"))
		if a.Required {
			notes = append(notes, "required")
		} else {
			notes = append(notes, "optional")
		}
		if a.Sensitive {
			notes = append(notes, "sensitive: use env() or file()")
		}
		if a.Default != "" {
			notes = append(notes, "default "+a.Default)
		}
		if a.Description != "" {
			fmt.Fprintf(e.stdout, "%s# %s\n", indent, a.Description)
		}
		fmt.Fprintf(e.stdout, "%s%s = ... # %s\n", indent, a.Name, strings.Join(notes, ", "))
	}
	for _, b := range s.Blocks {
		if b.Description != "" {
			fmt.Fprintf(e.stdout, "%s# %s\n", indent, b.Description)
		}
		label := ""
		if b.Nesting == sdk.NestingMap {
			label = ` "NAME"`
		}
		fmt.Fprintf(e.stdout, "%s%s%s {\n", indent, b.TypeName, label)
		writeSchema(e, b.Body, indent+"  ")
		fmt.Fprintf(e.stdout, "%s}\n", indent)
	}
}
