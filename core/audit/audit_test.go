package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

type issued struct {
	Serial string `json:"serial"`
	CA     string `json:"ca"`
}

// writeLog writes n issuance records to a new log in dir with a
// checkpoint after every `every` records, and returns its path and the
// checkpoint public key.
func writeLog(t *testing.T, n, every int) (string, ed25519.PublicKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, Options{CheckpointKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		if err := l.Append(ctx, KindIssuance, issued{Serial: fmt.Sprint(i), CA: "issuing"}); err != nil {
			t.Fatal(err)
		}
		if every > 0 && i%every == 0 {
			if err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path, pub
}

func verifyFile(t *testing.T, path string, key ed25519.PublicKey) *Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Verify(context.Background(), f, VerifyOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func lines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.SplitAfter(string(b), "\n")
	return ls[:len(ls)-1] // each with its newline
}

func rewrite(t *testing.T, path string, ls []string) {
	s := strings.Join(ls, "")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyIntact(t *testing.T) {
	// 10 records, checkpoints after 4 and 8: seq 5 and 10; two records
	// follow the last checkpoint.
	path, pub := writeLog(t, 10, 4)
	rep := verifyFile(t, path, pub)
	if rep.Tampered() || len(rep.Problems) != 0 {
		t.Fatalf("problems in an intact log: %v", rep.Problems)
	}
	if rep.Records != 12 || rep.Checkpoints != 2 || rep.VerifiedThrough != 10 || rep.Tail != 2 {
		t.Fatalf("report = %+v, want 12 records, 2 checkpoints, verified through seq 10, tail 2", rep)
	}
	// A second checkpoint in a row adds nothing.
	l, _ := Open(path, Options{CheckpointKey: nil})
	if err := l.Checkpoint(context.Background()); err == nil {
		t.Fatal("checkpoint without a key succeeded")
	}
	l.Close()
}

func TestVerifyFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func([]string) []string
		want   []string // problem kinds, in order
		line   int64    // line of the first problem
	}{
		{"edit a field", func(ls []string) []string {
			ls[2] = strings.Replace(ls[2], `"serial":"3"`, `"serial":"9"`, 1)
			return ls
		}, []string{ProblemEdited}, 3},
		{"edit and rehash", func(ls []string) []string {
			r, _, _ := ParseLine([]byte(strings.TrimSuffix(ls[2], "\n")))
			r.Data = []byte(`{"serial":"666","ca":"issuing"}`)
			line, _ := r.encode()
			ls[2] = string(line) + "\n"
			return ls
		}, []string{ProblemBroken}, 4},
		{"delete one", func(ls []string) []string { return append(ls[:2], ls[3:]...) }, []string{ProblemDeleted}, 3},
		{"delete three", func(ls []string) []string { return append(ls[:1], ls[4:]...) }, []string{ProblemDeleted}, 2},
		{"swap two", func(ls []string) []string { ls[2], ls[3] = ls[3], ls[2]; return ls }, []string{ProblemDeleted, ProblemReordered}, 3},
		{"move to the end", func(ls []string) []string {
			moved := ls[1]
			return append(append(ls[:1], ls[2:]...), moved)
		}, []string{ProblemDeleted, ProblemReordered}, 2},
		{"garbage line", func(ls []string) []string { ls[6] = "hello\n"; return ls }, []string{ProblemMalformed, ProblemDeleted}, 7},
		{"forged checkpoint", func(ls []string) []string {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			r, _, _ := ParseLine([]byte(strings.TrimSuffix(ls[4], "\n")))
			r.Data = []byte(fmt.Sprintf(`{"key":%q,"sig":"%s"}`, KeyID(other.Public().(ed25519.PublicKey)), "AAAA"))
			line, _ := r.encode()
			ls[4] = string(line) + "\n"
			return ls
		}, []string{ProblemSignature, ProblemBroken}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, pub := writeLog(t, 10, 4)
			rewrite(t, path, tc.change(lines(t, path)))
			rep := verifyFile(t, path, pub)
			if !rep.Tampered() {
				t.Fatalf("not found: %+v", rep)
			}
			var kinds []string
			for _, p := range rep.Problems {
				kinds = append(kinds, p.Kind)
			}
			if strings.Join(kinds, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("problems %v, want kinds %v", rep.Problems, tc.want)
			}
			if rep.Problems[0].Line != tc.line {
				t.Fatalf("first problem at line %d, want %d: %v", rep.Problems[0].Line, tc.line, rep.Problems[0])
			}
			if rep.VerifiedThrough >= 10 && tc.line < 11 {
				t.Fatalf("a checkpoint after the damage still counts as verified: %+v", rep)
			}
		})
	}
}

// A rewritten chain (every hash recomputed after an edit) is consistent
// but its checkpoints no longer verify.
func TestVerifyRewrittenChain(t *testing.T) {
	path, pub := writeLog(t, 6, 3)
	ls := lines(t, path)
	prev := genesis
	for i, s := range ls {
		r, _, err := ParseLine([]byte(strings.TrimSuffix(s, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			r.Data = []byte(`{"serial":"forged","ca":"issuing"}`)
		}
		r.Prev = prev
		line, _ := r.encode()
		ls[i], prev = string(line)+"\n", r.Hash
	}
	rewrite(t, path, ls)
	rep := verifyFile(t, path, pub)
	if !rep.Tampered() || rep.Problems[0].Kind != ProblemSignature || rep.Problems[0].Line != 4 {
		t.Fatalf("rewritten chain: %+v", rep.Problems)
	}
	if rep.VerifiedThrough != 0 {
		t.Fatalf("verified through %d after a rewrite", rep.VerifiedThrough)
	}
}

func TestVerifyWithoutKeyIsAllTail(t *testing.T) {
	path, _ := writeLog(t, 5, 2)
	rep := verifyFile(t, path, nil)
	if rep.Tampered() || rep.VerifiedThrough != 0 || rep.Tail != rep.Records {
		t.Fatalf("without a key: %+v", rep)
	}
}

// A torn last line (a crash mid-write) is reported as such, not as
// tampering, and the next writer cuts it and continues the chain.
func TestTornWriteIsRepaired(t *testing.T) {
	path, pub := writeLog(t, 4, 2)
	ls := lines(t, path)
	full := strings.Join(ls, "")
	if err := os.WriteFile(path, []byte(full+ls[0][:40]), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := verifyFile(t, path, pub)
	if rep.Tampered() || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemTornRecord {
		t.Fatalf("torn line: %+v", rep.Problems)
	}
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), KindConfig, map[string]string{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	rep = verifyFile(t, path, pub)
	if len(rep.Problems) != 0 || rep.Records != 7 {
		t.Fatalf("after repair: %+v", rep)
	}
}

// Two Logs on one file (two processes in production) interleave into one
// valid chain.
func TestConcurrentWriters(t *testing.T) {
	path, pub := writeLog(t, 1, 0)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	_ = priv
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		l, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Close()
			for i := 0; i < 50; i++ {
				if err := l.Append(context.Background(), KindKey, map[string]int{"i": i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rep := verifyFile(t, path, pub)
	if len(rep.Problems) != 0 || rep.Records != 101 {
		t.Fatalf("two writers: %+v", rep)
	}
}

// A writer refuses to extend a chain whose last record was edited.
func TestAppendRefusesDamagedHead(t *testing.T) {
	path, _ := writeLog(t, 3, 0)
	ls := lines(t, path)
	ls[2] = strings.Replace(ls[2], `"serial":"3"`, `"serial":"4"`, 1)
	rewrite(t, path, ls)
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.Append(context.Background(), KindConfig, 1)
	if err == nil || !strings.Contains(err.Error(), "pkid audit verify") {
		t.Fatalf("append on a damaged head: %v", err)
	}
}

func TestHostileInputs(t *testing.T) {
	ctx := context.Background()
	// One huge line, then garbage: bounded, reported, no error.
	huge := bytes.Repeat([]byte("A"), 5*MaxLine)
	rep, err := Verify(ctx, bytes.NewReader(append(huge, "\nnot json\n"...)), VerifyOptions{})
	if err != nil || len(rep.Problems) != 2 || rep.Problems[0].Kind != ProblemMalformed || !strings.Contains(rep.Problems[0].Detail, "longer than") {
		t.Fatalf("huge line: %v %+v", err, rep)
	}
	// Endless garbage stops after MaxProblems.
	garbage := bytes.Repeat([]byte("x\n"), 10*MaxProblems)
	rep, err = Verify(ctx, bytes.NewReader(garbage), VerifyOptions{})
	if err != nil || !rep.Truncated || len(rep.Problems) != MaxProblems {
		t.Fatalf("garbage: %v truncated=%v problems=%d", err, rep.Truncated, len(rep.Problems))
	}
	// A record too large is refused by Append.
	l, err := Open(filepath.Join(t.TempDir(), "a.log"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(ctx, KindConfig, strings.Repeat("y", MaxLine)); err == nil {
		t.Fatal("oversized record accepted")
	}
	// Cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Verify(cctx, bytes.NewReader(garbage), VerifyOptions{}); err == nil {
		t.Fatal("cancelled verify succeeded")
	}
}

func TestProgress(t *testing.T) {
	path, pub := writeLog(t, 25, 0)
	f, _ := os.Open(path)
	defer f.Close()
	var calls []int64
	if _, err := Verify(context.Background(), f, VerifyOptions{Key: pub, ProgressEvery: 10, Progress: func(n int64) { calls = append(calls, n) }}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(calls) != "[10 20]" {
		t.Fatalf("progress calls %v", calls)
	}
}

func TestCheckpointKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "checkpoint.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reload: %v", err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode())
	}
	for _, p := range []string{path, path + ".pub"} {
		pub, err := ReadPublicKey(p)
		if err != nil || !pub.Equal(k1.Public()) {
			t.Fatalf("%s: %v", p, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("nope"), 0o600)
	if _, err := ReadPublicKey(bad); err == nil {
		t.Fatal("garbage key accepted")
	}
	if _, err := LoadOrCreateKey(bad); err == nil {
		t.Fatal("garbage private key accepted")
	}
}

// A Log that keeps running notices an in-place edit of the same size
// (its cached head would otherwise hide it) and refuses to extend.
func TestAppendNoticesSameSizeEdit(t *testing.T) {
	path, _ := writeLog(t, 2, 0)
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.Append(ctx, KindIssuance, issued{Serial: "3"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a distinct mtime on coarse clocks
	ls := lines(t, path)
	ls[2] = strings.Replace(ls[2], `"serial":"3"`, `"serial":"8"`, 1)
	rewrite(t, path, ls)
	if err := l.Append(ctx, KindIssuance, issued{Serial: "4"}); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("append after a same-size edit of the head: %v", err)
	}
}

// garbageReader yields n bytes of newline-free garbage without holding
// them.
type garbageReader struct{ left int64 }

func (g *garbageReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	for i := range p {
		p[i] = 'g'
	}
	g.left -= int64(len(p))
	return len(p), nil
}

// Verify's memory does not grow with the input: 256 MiB in one line
// allocates about one buffer.
func TestVerifyMemoryIsBounded(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rep, err := Verify(context.Background(), &garbageReader{left: 256 << 20}, VerifyOptions{})
	runtime.ReadMemStats(&after)
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemMalformed {
		t.Fatalf("%v %+v", err, rep)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*MaxLine {
		t.Fatalf("verifying 256 MiB allocated %d bytes", alloc)
	}
}
