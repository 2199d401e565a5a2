// Package devtest loads dev mode's configuration for tests of the daemon
// and of what runs on it (the dashboard, the transport library): one place
// that knows how a test turns `pkid serve -dev`'s files into a loaded
// configuration.
package devtest

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/core/pluginhost"
)

// TB is the part of testing.TB a load needs (transport/pkidtest runs
// outside tests too).
type TB interface {
	Helper()
	Fatal(args ...any)
	TempDir() string
	Cleanup(func())
}

// Options say what a test changes in dev mode's configuration.
type Options struct {
	// Dir is the state directory; empty: a new t.TempDir().
	Dir string
	// OutOfProcess keeps the builtins as plugin processes (the test
	// binary must then be able to run them, see pluginhost). By default
	// they run in process: a test binary cannot be re-executed as one.
	OutOfProcess bool
	// Pkid is added at the top of the pkid block.
	Pkid string
	// Replace holds old, new pairs applied to the file after that.
	Replace []string
	// Append is added at the end of the file (blocks of its own).
	Append string
}

// Load writes dev mode's configuration as o says and loads it with a new
// plugin host, closed when the test ends. It returns the loaded
// configuration, the host and the state directory.
func Load(t TB, o Options) (*catalog.Loaded, *pluginhost.Host, string) {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	path, err := devmode.Prepare(dir, "127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	if !o.OutOfProcess {
		for _, b := range []string{`keystore "file" "dev" {`, `certstore "sqlite" "main" {`, `trust "files" "dev" {`} {
			pairs = append(pairs, b, b+"\n  isolation = \"inprocess\"")
		}
	}
	if o.Pkid != "" {
		pairs = append(pairs, "\npkid {\n", "\npkid {\n"+o.Pkid)
	}
	s := string(body)
	if len(pairs) > 0 {
		s = strings.NewReplacer(pairs...).Replace(s)
	}
	if len(o.Replace) > 0 {
		s = strings.NewReplacer(o.Replace...).Replace(s)
	}
	s += o.Append
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	host := pluginhost.New(pluginhost.Options{Logger: hclog.NewNullLogger()})
	t.Cleanup(host.Close)
	loaded, diags := catalog.Load(context.Background(), catalog.LoadRequest{Config: cfg, Host: host})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return loaded, host, dir
}
