package boundary

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// DocRef is a comment's pointer to a section of docs/: the file and the
// heading, written `(docs/<file>.md, "<heading>")`.
type DocRef struct {
	Pos     string // file:line of the comment, relative to the root
	Doc     string // e.g. docs/differences-from-cfssl.md
	Heading string
}

// docRef matches a reference in a comment block whose lines have been
// joined with spaces, so a reference may wrap.
var docRef = regexp.MustCompile(`(docs/[A-Za-z0-9_-]+\.md),\s+"([^"]+)"`)

// DocRefs finds every docs/ reference in the comments of the Go files
// under root (testdata, vendor and hidden directories skipped).
func DocRefs(root string) ([]DocRef, error) {
	var refs []DocRef
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		refs = append(refs, commentRefs(filepath.ToSlash(rel), data)...)
		return nil
	})
	return refs, err
}

// commentRefs joins each run of consecutive // comment lines and finds the
// references in it.
func commentRefs(file string, src []byte) []DocRef {
	var refs []DocRef
	var block []string
	start := 0
	flush := func() {
		for _, m := range docRef.FindAllStringSubmatch(strings.Join(block, " "), -1) {
			refs = append(refs, DocRef{Pos: fmt.Sprintf("%s:%d", file, start), Doc: m[1], Heading: m[2]})
		}
		block = block[:0]
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		i := strings.Index(line, "//")
		if i < 0 {
			flush()
			continue
		}
		if len(block) == 0 {
			start = n
		}
		block = append(block, strings.TrimSpace(line[i+2:]))
	}
	flush()
	return refs
}

// Headings returns the headings of a Markdown file, without the #s.
func Headings(md []byte) map[string]bool {
	h := map[string]bool{}
	for _, line := range strings.Split(string(md), "\n") {
		if t := strings.TrimLeft(line, "#"); t != line && strings.HasPrefix(t, " ") {
			h[strings.TrimSpace(t)] = true
		}
	}
	return h
}

// BrokenDocRefs returns the references under root whose file or heading
// does not exist, as "pos: doc, heading" lines, sorted.
func BrokenDocRefs(root string) ([]string, error) {
	refs, err := DocRefs(root)
	if err != nil {
		return nil, err
	}
	docs := map[string]map[string]bool{}
	var out []string
	for _, r := range refs {
		h, ok := docs[r.Doc]
		if !ok {
			data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(r.Doc)))
			if err == nil {
				h = Headings(data)
			}
			docs[r.Doc] = h // nil: the file is missing
		}
		if !h[r.Heading] {
			out = append(out, fmt.Sprintf("%s: %s, %q", r.Pos, r.Doc, r.Heading))
		}
	}
	sort.Strings(out)
	return out, nil
}
