// Package boundary checks pkid's import rules (docs/architecture.md, "What
// never imports what"): which packages may depend on which. It reads import
// clauses with go/build, so it needs no network, no module cache and no
// type checking, and runs on a tree in well under a second.
//
// Only the imports of non-test files count: tests may reach across parts
// (a plugin's test may start it through the plugin host).
package boundary

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Package is one Go package of the tree.
type Package struct {
	Path    string   // import path
	Dir     string   // directory relative to the tree's root, slash-separated
	Imports []string // imports of its non-test files, sorted
}

// Rule forbids the packages living under From (minus Except) to import
// anything matching Deny. Patterns are matched by Match: "a/b" is the
// package a/b, "a/b/..." also everything below it. From and Except name
// directories relative to the tree's root (so a plugin is constrained by
// where it lives, whatever its module is called); Deny names import paths.
type Rule struct {
	Name   string
	Why    string
	From   []string
	Except []string
	Deny   []string
	// Transitive: the rule also holds through the tree's own packages (a
	// forbidden import reached via another package of the tree counts);
	// otherwise only direct imports count.
	Transitive bool
}

// Violation is one forbidden import. Via is the chain of the tree's
// packages from Package to the one importing Import (empty when direct).
type Violation struct {
	Rule    string
	Package string // import path of the constrained package
	Import  string
	Via     []string
}

// Key identifies a violation for allow-lists: "rule package import".
func (v Violation) Key() string { return v.Rule + " " + v.Package + " " + v.Import }

func (v Violation) String() string {
	s := fmt.Sprintf("%s: %s imports %s", v.Rule, v.Package, v.Import)
	if len(v.Via) > 0 {
		s += " (via " + strings.Join(v.Via, " -> ") + ")"
	}
	return s
}

// Match reports whether path matches pattern ("a/b" or "a/b/...").
func Match(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if Match(p, path) {
			return true
		}
	}
	return false
}

// Load reads every package under root. Directories named testdata or
// vendor, or starting with "." or "_", are skipped, as the go command does.
// A directory's import path comes from the nearest go.mod above it, so
// nested modules (sdk, the example plugin) keep their own paths.
func Load(root string) ([]Package, error) {
	var pkgs []Package
	mods := map[string]string{} // directory -> module path, for dirs with a go.mod
	ctx := build.Default
	ctx.CgoEnabled = true // cgo files (PKCS#11) count like the others
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if data, err := os.ReadFile(filepath.Join(path, "go.mod")); err == nil {
			mp := modulePath(data)
			if mp == "" {
				return fmt.Errorf("boundary: %s: go.mod without a module line", path)
			}
			mods[path] = mp
		}
		bp, err := ctx.ImportDir(path, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("boundary: %s: %w", path, err)
		}
		ip, err := importPath(mods, root, path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		imports := append([]string(nil), bp.Imports...)
		sort.Strings(imports)
		pkgs = append(pkgs, Package{Path: ip, Dir: filepath.ToSlash(rel), Imports: imports})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Path < pkgs[j].Path })
	return pkgs, nil
}

// importPath derives dir's import path from the nearest enclosing module.
func importPath(mods map[string]string, root, dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if mp, ok := mods[d]; ok {
			rel, _ := filepath.Rel(d, dir)
			if rel == "." {
				return mp, nil
			}
			return mp + "/" + filepath.ToSlash(rel), nil
		}
		if d == root || d == filepath.Dir(d) {
			return "", fmt.Errorf("boundary: %s is in no module under %s", dir, root)
		}
	}
}

// Check returns every violation of rules in pkgs, sorted.
func Check(pkgs []Package, rules []Rule) []Violation {
	byPath := make(map[string]*Package, len(pkgs))
	for i := range pkgs {
		byPath[pkgs[i].Path] = &pkgs[i]
	}
	var out []Violation
	for _, r := range rules {
		for _, p := range pkgs {
			if !matchAny(r.From, p.Dir) || matchAny(r.Except, p.Dir) {
				continue
			}
			out = append(out, checkOne(r, p, byPath)...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// checkOne walks p's imports (breadth first through the tree's packages
// when the rule is transitive) and reports each forbidden import once,
// with the shortest chain that reaches it.
func checkOne(r Rule, p Package, byPath map[string]*Package) []Violation {
	var out []Violation
	seen := map[string]bool{p.Path: true}
	reported := map[string]bool{}
	type item struct {
		pkg *Package
		via []string
	}
	queue := []item{{&p, nil}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		for _, imp := range it.pkg.Imports {
			if matchAny(r.Deny, imp) && !reported[imp] {
				reported[imp] = true
				out = append(out, Violation{Rule: r.Name, Package: p.Path, Import: imp, Via: it.via})
			}
			next, local := byPath[imp]
			if !r.Transitive || !local || seen[imp] {
				continue
			}
			seen[imp] = true
			via := append(append([]string(nil), it.via...), imp)
			queue = append(queue, item{next, via})
		}
	}
	return out
}

// modulePath returns the module path of a go.mod file ("" if none). The
// module line is all it needs, and reading it by hand keeps golang.org/x/mod
// out of the root module's requirements.
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) < 2 || f[0] != "module" {
			continue
		}
		if p, err := strconv.Unquote(f[1]); err == nil {
			return p
		}
		return f[1]
	}
	return ""
}
