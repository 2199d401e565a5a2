package cli

import (
	"fmt"

	"github.com/pkid/pkid/core/cfssljson"
)

// jsonCmd is cfssljson: it splits CFSSL JSON output into files
// (with pkid's additions: docs/differences-from-cfssl.md, "pkid json writes
// bundles and safe files"). Failures print cfssljson's own stderr
// text, without the "pkid:" prefix, so scripts see the same output.
func jsonCmd(e *env) *command {
	return &command{
		synopsis: "Split CFSSL JSON output into files (like cfssljson)",
		help: `
Usage: pkid json [-bare] [-stdout] [-f FILE] [BASENAME]

  Reads CFSSL JSON output and writes BASENAME.pem, BASENAME-key.pem,
  BASENAME-key.enc, BASENAME.csr, BASENAME-bundle.pem, BASENAME-root.pem and
  BASENAME-response.der from the keys present, as cfssljson does. BASENAME
  defaults to "cert". Files are replaced atomically; key files are 0600.

Options:
  -bare      the input is bare CLI output, not an API envelope
  -f FILE    JSON input (default "-", standard input)
  -stdout    print the contents instead of writing files
  -version   print the version and exit
`,
		run: func(args []string) error {
			fs := newFlags("json")
			bare := fs.Bool("bare", false, "the input is not wrapped in the API envelope")
			in := fs.String("f", "-", "JSON input `FILE`")
			toStdout := fs.Bool("stdout", false, "print instead of writing files")
			version := fs.Bool("version", false, "print the version and exit")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if *version {
				return versionCmd(e).run(nil)
			}
			opts := cfssljson.Options{Bare: *bare, BaseName: cfssljson.DefaultBaseName}
			if fs.NArg() > 0 {
				opts.BaseName = fs.Arg(0)
			}
			return splitJSON(e, *in, opts, *toStdout)
		},
	}
}

// splitJSON reads input, splits it and writes or prints the files.
func splitJSON(e *env, in string, opts cfssljson.Options, toStdout bool) error {
	data, err := readInput(e, in)
	if err != nil {
		fmt.Fprintf(e.stderr, "Failed to read input: %v\n", err)
		return errSilent
	}
	files, err := cfssljson.Split(data, opts)
	if err != nil {
		fmt.Fprint(e.stderr, cfssljson.Message(err))
		return errSilent
	}
	if toStdout {
		_, err := e.stdout.Write(cfssljson.StdoutText(files))
		return err
	}
	for _, f := range files {
		if err := cfssljson.Write(f); err != nil {
			fmt.Fprintln(e.stderr, err)
			return errSilent
		}
	}
	return nil
}
