package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Load reads the configuration from paths, each a file or a directory, and
// returns the merged Config.
//
// A file ending in .hcl.json or .json is parsed as HCL JSON syntax, any other
// file as HCL native syntax. A directory contributes all of its *.hcl and
// *.hcl.json files in name order (not recursively). Paths naming the same
// file twice are read once.
//
// Errors are returned as diagnostics, never as a nil Config: the Config holds
// whatever could be decoded plus the parsed Files, so the caller can render
// the diagnostics with WriteDiagnostics. Load reports missing or unreadable
// paths, directories without configuration files, syntax errors, unknown
// blocks or arguments, wrong value types, failing function calls (such as
// env of an unset variable), invalid names, duplicate pkid blocks, instances,
// plugins, CAs or profiles, and references to undeclared keystores and
// certstores. Plugin types and plugin bodies are checked later by CheckTypes
// and DecodePluginBody.
func Load(paths ...string) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	files, ds := expandPaths(paths)
	diags = append(diags, ds...)

	c, ds := load(files, func(p *hclparse.Parser, name string) (*hcl.File, hcl.Diagnostics) {
		if isJSONName(name) {
			return p.ParseJSONFile(name)
		}
		return p.ParseHCLFile(name)
	})
	return c, append(diags, ds...)
}

// load decodes files in order, each parsed by parse, and resolves the
// references. Load reads the files; the fuzz target parses from memory,
// which keeps the file system out of every execution.
func load(files []string, parse func(p *hclparse.Parser, name string) (*hcl.File, hcl.Diagnostics)) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p := hclparse.NewParser()
	c := &Config{}
	for _, name := range files {
		f, ds := parse(p, name)
		diags = append(diags, ds...)
		if f == nil || f.Body == nil {
			continue
		}
		// Decode what parsed, even with syntax errors: HCL recovers, and
		// more findings per run save the operator round trips.
		diags = append(diags, c.decodeFile(f, filepath.Dir(name))...)
	}
	c.Files = p.Files()
	diags = append(diags, c.resolve()...)
	return c, diags
}

// isJSONName reports whether a file is in HCL's JSON syntax.
func isJSONName(name string) bool {
	return strings.HasSuffix(name, ".json")
}

// expandPaths turns the arguments of Load into a list of files, expanding
// directories and dropping repeats.
func expandPaths(paths []string) ([]string, hcl.Diagnostics) {
	var (
		diags hcl.Diagnostics
		out   []string
		seen  = map[string]bool{}
	)
	add := func(name string) {
		name = filepath.Clean(name)
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, path := range paths {
		st, err := os.Stat(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Failed to read configuration",
				Detail:   fmt.Sprintf("Cannot read %q: %s.", path, unwrapPathError(err)),
			})
			continue
		}
		if !st.IsDir() {
			add(path)
			continue
		}
		names, err := dirConfigFiles(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Failed to read configuration directory",
				Detail:   fmt.Sprintf("Cannot list %q: %s.", path, unwrapPathError(err)),
			})
			continue
		}
		if len(names) == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No configuration files",
				Detail:   fmt.Sprintf("The directory %q contains no *.hcl or *.hcl.json files.", path),
			})
		}
		for _, n := range names {
			add(n)
		}
	}
	return out, diags
}

// dirConfigFiles lists the configuration files of a directory, sorted.
// Editor backups and hidden files (".#x.hcl") are skipped like Terraform does.
func dirConfigFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "#") || strings.HasSuffix(n, "~") {
			continue
		}
		if strings.HasSuffix(n, ".hcl") || strings.HasSuffix(n, ".hcl.json") {
			names = append(names, filepath.Join(dir, n))
		}
	}
	sort.Strings(names)
	return names, nil
}

// unwrapPathError drops the path from an *os.PathError, which the
// diagnostic already names.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
