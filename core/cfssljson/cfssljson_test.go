package cfssljson

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

// The byte-for-byte comparison with the real cfssljson lives in core/cli
// (TestJSONGolden); these tests pin the library's own contract.

func TestSplitOrderAndModes(t *testing.T) {
	in := `{"ocspResponse":"QUJD","result":{"bundle":{"bundle":"B","root":"R"}},"csr":"S",
		"encrypted_key":"E","private_key":"K","certificate":"C"}`
	files, err := Split([]byte(in), Options{Bare: true, BaseName: "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Name: "x.pem", Mode: 0o664, Content: []byte("C")},
		{Name: "x-key.pem", Mode: 0o600, Content: []byte("K"), Secret: true},
		{Name: "x-key.enc", Mode: 0o600, Content: []byte("E"), Binary: true, Secret: true},
		{Name: "x.csr", Mode: 0o644, Content: []byte("S")},
		{Name: "x-bundle.pem", Mode: 0o644, Content: []byte("B\nR")},
		{Name: "x-root.pem", Mode: 0o644, Content: []byte("R")},
		{Name: "x-response.der", Mode: 0o644, Content: []byte("ABC"), Binary: true},
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("got %+v\nwant %+v", files, want)
	}
	if got, want := string(StdoutText(files)), "C\nK\nRQ==\nS\nB\nR\nR\nQUJD\n"; got != want {
		t.Errorf("StdoutText = %q, want %q", got, want)
	}
}

func TestSplitEnvelope(t *testing.T) {
	files, err := Split([]byte(`{"success":true,"result":{"cert":"C"}}`), Options{BaseName: "c"})
	if err != nil || len(files) != 1 || files[0].Name != "c.pem" {
		t.Fatalf("got %+v, %v", files, err)
	}
	_, err = Split([]byte(`{"success":false,"errors":[{"code":1,"message":"a"},{"code":2,"message":"b"}]}`), Options{})
	var re *RequestError
	if !errors.As(err, &re) || !reflect.DeepEqual(re.Messages, []string{"a", "b"}) {
		t.Fatalf("got %v", err)
	}
	if got, want := Message(err), "Request failed:\n\ta\n\tb\n"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

// pkid only: the processed object's own bundle object counts too.
func TestSplitOwnBundle(t *testing.T) {
	files, err := Split([]byte(`{"success":true,"result":{"bundle":{"bundle":"B","root":"R"}}}`), Options{BaseName: "c"})
	if err != nil || len(files) != 2 || files[0].Name != "c-bundle.pem" || files[1].Name != "c-root.pem" {
		t.Fatalf("got %+v, %v", files, err)
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{`nope`, "Failed to parse input: invalid character 'o' in literal null (expecting 'u')\n"},
		{`{"cert":null}`, "Failed to parse input: \"cert\": not a string (got null)\n"},
		{`{"csr":["x"]}`, "Failed to parse input: \"csr\": not a string (got array)\n"},
		{`{"encrypted_key":true}`, "Failed to parse input: \"encrypted_key\": not a string (got boolean)\n"},
		{`{"bundle":{"root":"R"}}`, "inner bundle parsing failed!\n"},
		{`{"bundle":{"bundle":"B","root":1}}`, "root parsing failed!\n"},
		{`{"ocspResponse":"%"}`, "Failed to parse ocspResponse: illegal base64 data at input byte 0\n"},
	} {
		files, err := Split([]byte(tc.in), Options{Bare: true, BaseName: "c"})
		if err == nil || files != nil {
			t.Errorf("%s: got %+v, %v", tc.in, files, err)
			continue
		}
		if got := Message(err); got != tc.msg {
			t.Errorf("%s: Message = %q, want %q", tc.in, got, tc.msg)
		}
	}
}

func TestWriteModes(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o027))
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	mode := func(n string) fs.FileMode {
		fi, err := os.Stat(p(n))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	// New files: the umask applies.
	must(t, Write(File{Name: p("new.pem"), Mode: ModeCert, Content: []byte("C")}))
	if m := mode("new.pem"); m != 0o640 {
		t.Errorf("new.pem mode %o, want 640", m)
	}
	// Existing files keep their mode; existing keys become 0600.
	must(t, os.WriteFile(p("old.pem"), nil, 0o600))
	must(t, os.WriteFile(p("old-key.pem"), nil, 0o644))
	must(t, os.Chmod(p("old-key.pem"), 0o644))
	must(t, Write(File{Name: p("old.pem"), Mode: ModeCert, Content: []byte("C2")}))
	must(t, Write(File{Name: p("old-key.pem"), Mode: ModeKey, Content: []byte("K2"), Secret: true}))
	if m := mode("old.pem"); m != 0o600 {
		t.Errorf("old.pem mode %o, want 600", m)
	}
	if m := mode("old-key.pem"); m != 0o600 {
		t.Errorf("old-key.pem mode %o, want 600", m)
	}
	// A symbolic link is written through.
	must(t, os.Symlink("target.pem", p("link.pem")))
	must(t, Write(File{Name: p("link.pem"), Mode: ModeCert, Content: []byte("L")}))
	if data, err := os.ReadFile(p("target.pem")); err != nil || string(data) != "L" {
		t.Errorf("target.pem = %q, %v", data, err)
	}
	if fi, err := os.Lstat(p("link.pem")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link.pem replaced: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 {
		t.Errorf("left-overs in %s: %v", dir, entries)
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	err := Write(File{Name: filepath.Join(dir, "no", "x.pem"), Mode: ModeCert})
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "no", "x.pem") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v", err)
	}
	must(t, os.Mkdir(filepath.Join(dir, "d.pem"), 0o755))
	if err := Write(File{Name: filepath.Join(dir, "d.pem"), Mode: ModeCert}); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("got %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
