package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
)

// printDefaults maps the print-defaults names to the templates, each
// exactly the bytes CFSSL 1.6.5 prints.
var printDefaults = map[string]func() []byte{
	"config": profile.DefaultConfigJSON,
	"csr":    csr.DefaultsJSON,
}

// defaultsList is `print-defaults list`: CFSSL's text with the names
// sorted (CFSSL prints them in random map order).
func defaultsList() string {
	names := make([]string, 0, len(printDefaults))
	for n := range printDefaults {
		names = append(names, n)
	}
	sort.Strings(names)
	return "Default configurations are available for:\n\t" + strings.Join(names, "\n\t") + "\n"
}

func printDefaultsCmd(e *env) *command {
	return &command{
		synopsis: "Print a default signing configuration or csr.json",
		help: `
Usage: pkid print-defaults list|config|csr

  config prints CFSSL's default signing configuration, csr a csr.json
  template, list the available names. The output is byte for byte CFSSL's.
`,
		run: func(args []string) error {
			fs := newFlags("print-defaults")
			var cf compatFlags
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return usagef("expected one of: list, config, csr")
			}
			name := fs.Arg(0)
			if name == "list" {
				_, err := fmt.Fprint(e.stdout, defaultsList())
				return err
			}
			f, ok := printDefaults[name]
			if !ok {
				return usagef("unknown default %q; expected one of: list, config, csr", name)
			}
			_, err := e.stdout.Write(f())
			return err
		},
	}
}
