package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// dropInCommands maps the names of CFSSL's binaries to the pkid command
// that behaves as each: a symlink by that name to pkid is a drop-in
// (docs/cfssl-dropin.md). "cfssl" takes its subcommand from the arguments.
var dropInCommands = map[string]string{
	"cfssl":          "",
	"cfssljson":      "json",
	"multirootca":    "multirootca",
	"mkbundle":       "mkbundle",
	"cfssl-bundle":   "bundle",
	"cfssl-certinfo": "certinfo",
	"cfssl-newkey":   "genkey",
	"cfssl-scan":     "scan",
}

// DropInNames lists the binary names pkid answers to (make install links
// them).
func DropInNames() []string { return sortedKeys(dropInCommands) }

// RunAs executes pkid started under the program name argv0 (os.Args[0]):
// under a CFSSL binary's name it behaves as that binary; otherwise as Run.
func RunAs(argv0 string, args []string) int {
	return runAs(argv0, args, &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin})
}

func runAs(argv0 string, args []string, e *env) int {
	name := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	cmd, ok := dropInCommands[name]
	if !ok {
		return run(args, e)
	}
	if cmd != "" {
		// Of CFSSL's single-purpose binaries only cfssljson has -version
		// (the others refuse it as an unknown flag, as pkid's commands do).
		if name == "cfssljson" && len(args) == 1 && (args[0] == "-version" || args[0] == "--version") {
			return cfsslVersion(e)
		}
		return run(append([]string{cmd}, args...), e)
	}
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "No command is given.")
		return 1
	}
	switch args[0] {
	case "version":
		return cfsslVersion(e)
	case "serve":
		// cfssl serve's command line is always CFSSL's, even without
		// any of the flags pkid serve does not have.
		c := &command{e: e, help: "Usage: cfssl serve [-address A] [-port P] [-ca C -ca-key K] [-config F] ...", run: func(a []string) error { return runCFSSLServe(e, a) }}
		return c.Run(args[1:])
	}
	return run(args, e)
}

// cfsslVersion prints the version as CFSSL's binaries do.
func cfsslVersion(e *env) int {
	fmt.Fprintf(e.stdout, "Version: %s\nRuntime: %s\n", Version, runtime.Version())
	return 0
}
