package boundary

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocRefs: every `(docs/<file>.md, "<heading>")` in a Go comment of this
// repository names a heading that exists, so renaming a heading in docs/
// cannot silently strand the comments that cite it.
func TestDocRefs(t *testing.T) {
	root := repoRoot(t)
	refs, err := DocRefs(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) == 0 {
		t.Fatal("no docs/ references found in Go comments: DocRefs is broken")
	}
	broken, err := BrokenDocRefs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range broken {
		t.Errorf("%s: no such heading", b)
	}
}

// TestDocRefsFixture: wrapped references are found, and a missing heading
// or a missing file is reported.
func TestDocRefsFixture(t *testing.T) {
	root := filepath.Join("testdata", "docrefs")
	refs, err := DocRefs(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.Doc+" "+r.Heading)
	}
	want := []string{"docs/guide.md Present heading", "docs/guide.md Another one", "docs/guide.md Missing heading", "docs/absent.md Present heading"}
	if !slices.Equal(got, want) {
		t.Errorf("references:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	broken, err := BrokenDocRefs(root)
	if err != nil {
		t.Fatal(err)
	}
	wantBroken := []string{`pkg/pkg.go:6: docs/guide.md, "Missing heading"`, `pkg/pkg.go:9: docs/absent.md, "Present heading"`}
	slices.Sort(wantBroken)
	if !slices.Equal(broken, wantBroken) {
		t.Errorf("broken:\n\t%s\nwant:\n\t%s", strings.Join(broken, "\n\t"), strings.Join(wantBroken, "\n\t"))
	}
}
