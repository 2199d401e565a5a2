package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/config"
	coredaemon "github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
)

// printBanner says where the daemon listens, which CAs it serves and, in
// dev mode, what to try first (issue, info, bundle against the dev trust).
func printBanner(e *env, d *coredaemon.Daemon, dev bool, cfg *config.Config) {
	fmt.Fprintf(e.stdout, "pkid %s listening on %s\n", Version, d.URL())
	for _, l := range devmode.Fingerprints(d.Set()) {
		fmt.Fprintf(e.stdout, "  CA %s\n", l)
	}
	if a := d.ACME(); a != nil {
		dirs := a.Directories()
		slices.Sort(dirs)
		for _, dir := range dirs {
			path := "/acme/" + dir + "/directory"
			if dir == d.Set().Default+"/acme" {
				path = "/acme/directory"
			}
			fmt.Fprintf(e.stdout, "ACME (RFC 8555) directory: %s%s\n", d.URL(), path)
		}
	}
	fmt.Fprintf(e.stdout, "Default CA: %s. Try:\n  pkid print-defaults csr > csr.json && pkid gencert -remote %s -profile server csr.json | pkid json -bare server\n", d.Set().Default, d.URL())
	if !dev {
		return
	}
	fmt.Fprintf(e.stdout, "  curl -s -d '{\"label\":\"\"}' %s/api/v1/cfssl/info\n", d.URL())
	if cfg != nil && cfg.Pkid.StateDir != "" {
		trust := filepath.Join(cfg.Pkid.StateDir, "trust")
		fmt.Fprintf(e.stdout, "  pkid bundle -cert server.pem -ca-bundle %s -int-bundle %s\n",
			filepath.Join(trust, "roots", "dev-root.pem"), filepath.Join(trust, "intermediates", "dev-issuing.pem"))
	}
	fmt.Fprintf(e.stdout, "Dashboard (loopback clients only): %s/ui/\n", d.URL())
}

// signalContext ends at SIGTERM or SIGINT (its cause names the signal)
// or when stop is called.
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case got := <-sig:
			cancel(fmt.Errorf("signal %s", got))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(sig); cancel(nil) }
}

// daemonError prints a daemon's configuration diagnostics with their
// source snippets; other errors are returned as they are.
func daemonError(e *env, cfg *config.Config, err error) error {
	var de *coredaemon.DiagnosticsError
	if errors.As(err, &de) {
		return printDiags(e, cfg, de.Diags)
	}
	return err
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func logLevel(def string) hclog.Level {
	if l := hclog.LevelFromString(os.Getenv("PKID_LOG_LEVEL")); l != hclog.NoLevel {
		return l
	}
	return hclog.LevelFromString(def)
}
