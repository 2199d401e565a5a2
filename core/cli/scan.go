package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pkid/pkid/core/scan"
	"github.com/pkid/pkid/sdk"
)

// maxScanTimeout bounds -timeout: one host never takes longer.
const maxScanTimeout = time.Hour

func scanCmd(e *env) *command {
	return &command{
		synopsis: "Scan TLS endpoints for configuration problems",
		help: `
Usage: pkid scan [flags] HOST...
       pkid scan -list [-format json|table]

  Runs the TLS scanner's checks against each HOST (host[:port], port 443
  when absent) and prints each host's results as it completes: in CFSSL's
  scan JSON shape ("=== HOST ===", the results indented, a blank line), as
  JSON lines, or as a table with each host's overall grade (the worst
  grade of the scanners that did not skip; docs/scanner-runner.md).

  A HOST may be a CIDR range (CIDR[:port]) of at most 65536 addresses;
  -force allows up to 2^24. The checks are the builtin "tls" scanner's
  plus those of the scancheck blocks of -config, if given. pkid dials
  whatever the operator names, loopback included.

  Exit status: 0 when every host was scanned (whatever its grades), 1 when
  some host could not be (it is named on stderr) or on any error, 2 on a
  command-line mistake.

Flags:
  -list               list the families and scanners, then exit
  -family REGEX       run only the families matching REGEX
  -scanner REGEX      run only the scanners matching REGEX
  -ip IP              dial IP instead of resolving each HOST
  -timeout D          deadline of each host (default 5m, at most 1h)
  -concurrency N      hosts scanned at once (default 10; alias -num-workers)
  -rate N             hosts started per second (default: no limit)
  -force              allow ranges larger than a /16
  -input FILE         also scan the hosts of a CSV file, one per line, the
                      host in the last field (alias -csv, CFSSL's flag)
  -max-hosts N        scan at most N hosts (0: no limit)
  -format F           json (default), jsonl or table
  -progress B         progress bar on stderr: auto (a terminal and more
                      than one host), always or never
  -config FILE        configuration adding scancheck plugin instances
`,
		run: func(args []string) error { return runScan(e, args) },
	}
}

type scanFlags struct {
	list                    bool
	family, scanner, ip     string
	timeout                 time.Duration
	concurrency, maxHosts   int
	rate                    float64
	force                   bool
	input, format, progress string
	cf                      configFlag
}

func runScan(e *env, args []string) error {
	var f scanFlags
	fs := newFlags("scan")
	fs.BoolVar(&f.list, "list", false, "")
	fs.StringVar(&f.family, "family", "", "")
	fs.StringVar(&f.scanner, "scanner", "", "")
	fs.StringVar(&f.ip, "ip", "", "")
	fs.DurationVar(&f.timeout, "timeout", scan.DefaultTimeout, "")
	fs.IntVar(&f.concurrency, "concurrency", scan.DefaultConcurrency, "")
	fs.IntVar(&f.concurrency, "num-workers", scan.DefaultConcurrency, "")
	fs.IntVar(&f.maxHosts, "max-hosts", 0, "")
	fs.Float64Var(&f.rate, "rate", 0, "")
	fs.BoolVar(&f.force, "force", false, "")
	fs.StringVar(&f.input, "input", "", "")
	fs.StringVar(&f.input, "csv", "", "")
	fs.StringVar(&f.format, "format", scan.FormatJSON, "")
	fs.StringVar(&f.progress, "progress", "auto", "")
	f.cf.register(fs)
	// CFSSL's other global flags are accepted and ignored (CFSSL has one
	// flag set; `cfssl scan -ca-bundle F HOST` must still run).
	for _, name := range []string{"hostname", "cn", "label", "profile", "crl", "remote", "ca", "ca-key", "cert", "csr",
		"key", "password", "db-config", "loglevel", "address", "port", "tls-cert", "tls-key", "mutual-tls-ca",
		"mutual-tls-cn", "min-tls-version", "disable", "tls-remote-ca", "mutual-tls-client-cert",
		"mutual-tls-client-key", "ca-bundle", "int-bundle", "int-dir", "metadata", "flavor", "domain", "responder",
		"responder-key", "status", "reason", "revoked-at", "interval", "responses", "path", "serial", "aki", "expiry",
		"intermediates", "authkey", "usage", "pgp-private", "pgp-name"} {
		fs.String(name, "", "accepted for CFSSL compatibility")
	}
	fs.Bool("initca", false, "accepted for CFSSL compatibility")
	fs.Bool("renewca", false, "accepted for CFSSL compatibility")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case !slices.Contains(scan.Formats, f.format):
		return usagef("-format %q: want one of %s", f.format, strings.Join(scan.Formats, ", "))
	case f.timeout <= 0 || f.timeout > maxScanTimeout:
		return usagef("-timeout %v: want more than 0 and at most %v", f.timeout, maxScanTimeout)
	case f.concurrency < 1 || f.concurrency > 1000:
		return usagef("-concurrency %d: want 1 to 1000", f.concurrency)
	case f.rate < 0:
		return usagef("-rate %v: want 0 (no limit) or more", f.rate)
	case f.maxHosts < 0:
		return usagef("-max-hosts %d: want 0 (no limit) or more", f.maxHosts)
	case !slices.Contains([]string{"auto", "always", "never"}, f.progress):
		return usagef("-progress %q: want auto, always or never", f.progress)
	case f.list && (fs.NArg() > 0 || f.input != ""):
		return usagef("-list takes no hosts")
	case !f.list && fs.NArg() == 0 && f.input == "":
		return usagef("no hosts to scan: name some, or pass -input FILE")
	}
	var (
		targets iter.Seq[scan.Target]
		total   int
	)
	if !f.list {
		hosts := fs.Args()
		if f.input != "" {
			in, err := readScanInput(e, f.input)
			if err != nil {
				return fmt.Errorf("scan: -input: %w", err)
			}
			hosts = append(hosts, in...)
		}
		var err error
		if targets, total, err = scan.Expand(scan.TargetsRequest{Args: hosts, IP: f.ip, Force: f.force}); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if f.maxHosts > 0 && total > f.maxHosts {
			fmt.Fprintf(e.stderr, "pkid: scan: scanning the first %d of %d hosts (-max-hosts)\n", f.maxHosts, total)
			targets, total = firstN(targets, f.maxHosts), f.maxHosts
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	checks, closeChecks, err := openScanChecks(ctx, e, &f.cf)
	if err != nil {
		return err
	}
	defer closeChecks()
	opts := scan.Options{
		Checks: checks, Family: f.family, Scanner: f.scanner,
		Timeout: f.timeout, Concurrency: f.concurrency, Rate: f.rate,
	}
	if !f.list && showProgress(f.progress, e.stderr, total) {
		opts.Progress = scan.NewProgress(e.stderr, total, isTerminal(e.stderr))
	}
	r, err := scan.New(ctx, opts)
	if err != nil {
		return err
	}
	if f.list {
		return writeScanList(e.stdout, f.format, r)
	}
	failed := 0
	err = r.Run(ctx, targets, func(h *scan.HostResult) error {
		if h.Err != nil {
			failed++
			fmt.Fprintf(e.stderr, "pkid: scan %s: %v\n", h.Host, h.Err)
		}
		return scan.WriteResult(e.stdout, f.format, h)
	})
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}

// readScanInput reads -input: a path, or "-" for stdin.
func readScanInput(e *env, path string) ([]string, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return scan.ReadCSV(r, 0)
}

func firstN[T any](seq iter.Seq[T], n int) iter.Seq[T] {
	return func(yield func(T) bool) {
		i := 0
		for v := range seq {
			if i == n || !yield(v) {
				return
			}
			i++
		}
	}
}

func showProgress(mode string, w io.Writer, total int) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	return total > 1 && isTerminal(w)
}

// openScanChecks opens the builtin "tls" checks in process plus, with a
// configuration, its scancheck instances.
func openScanChecks(ctx context.Context, e *env, cf *configFlag) ([]sdk.ScanCheck, func(), error) {
	if len(cf.paths) == 0 && os.Getenv("PKID_CONFIG") == "" {
		host := newHost()
		checks, err := scan.OpenChecks(ctx, host, nil, true)
		if err != nil {
			host.Close()
			return nil, nil, err
		}
		return checks, host.Close, nil
	}
	s, err := cf.load(e, false)
	if err != nil {
		return nil, nil, err
	}
	checks, err := scan.OpenChecks(ctx, s.host, s.ScanChecks, true)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return checks, s.Close, nil
}

// writeScanList prints the families: CFSSL's `scan -list` JSON (indented,
// a blank line after), or a table.
func writeScanList(w io.Writer, format string, r *scan.Runner) error {
	if format != scan.FormatTable {
		b, err := json.MarshalIndent(r.Info(), "", "  ")
		if err != nil {
			return err
		}
		if format == scan.FormatJSONL {
			b, _ = json.Marshal(r.Info())
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAMILY\tSCANNER\tDESCRIPTION")
	for _, fam := range r.Families() {
		fmt.Fprintf(tw, "%s\t\t%s\n", fam.Name, fam.Description)
		for _, c := range fam.Checks {
			fmt.Fprintf(tw, "\t%s\t%s\n", c.Name, c.Description)
		}
	}
	return tw.Flush()
}
