package scan

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"example.com", "example.com:443"},
		{"example.com:8443", "example.com:8443"},
		{"127.0.0.1", "127.0.0.1:443"},
		{"::1", "[::1]:443"},
		{"[::1]:8443", "[::1]:8443"},
		{"Example.COM.", "Example.COM.:443"},
		{"under_score.test:1", "under_score.test:1"},
		{"", ""},
		{"a b", ""},
		{"host:0", ""},
		{"host:65536", ""},
		{"host:https", ""},
		{"::1:443", "[::1:443]:443"}, // an IPv6 literal: a port needs brackets
		{"a:b:c", ""},
		{"-bad-\x00", ""},
		{strings.Repeat("a", 64) + ".com", ""},
		{"ex\nample.com", ""},
	} {
		got, err := NormalizeHost(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrBadTarget) {
				t.Errorf("NormalizeHost(%q) = %q, %v; want ErrBadTarget", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func hostsOf(t *testing.T, req TargetsRequest) ([]Target, int) {
	t.Helper()
	seq, n, err := Expand(req)
	if err != nil {
		t.Fatalf("Expand(%v): %v", req.Args, err)
	}
	return slices.Collect(seq), n
}

func TestExpand(t *testing.T) {
	got, n := hostsOf(t, TargetsRequest{Args: []string{"a.test", "127.0.0.4/30:8443", "[::1]:9"}, IP: "127.0.0.9"})
	want := []Target{{"a.test:443", "127.0.0.9"}, {"127.0.0.4:8443", ""}, {"127.0.0.5:8443", ""}, {"127.0.0.6:8443", ""}, {"127.0.0.7:8443", ""}, {"[::1]:9", "127.0.0.9"}}
	if !slices.Equal(got, want) || n != len(want) {
		t.Errorf("Expand = %v (%d), want %v", got, n, want)
	}
	// Unmasked ranges start at the network address.
	if got, _ := hostsOf(t, TargetsRequest{Args: []string{"127.0.0.3/31"}}); !slices.Equal(got, []Target{{"127.0.0.2:443", ""}, {"127.0.0.3:443", ""}}) {
		t.Errorf("127.0.0.3/31 = %v", got)
	}
	if _, n := hostsOf(t, TargetsRequest{Args: []string{"10.0.0.0/16"}}); n != 65536 {
		t.Errorf("a /16 counts %d hosts", n)
	}
	if _, n := hostsOf(t, TargetsRequest{Args: []string{"fd00::/112"}}); n != 65536 {
		t.Errorf("an IPv6 /112 counts %d hosts", n)
	}
	// A forced /8 is lazy: taking three hosts costs nothing.
	seq, n, err := Expand(TargetsRequest{Args: []string{"10.0.0.0/8"}, Force: true})
	if err != nil || n != 1<<24 {
		t.Fatalf("forced /8: %d, %v", n, err)
	}
	var first []string
	for tg := range seq {
		if first = append(first, tg.Host); len(first) == 3 {
			break
		}
	}
	if strings.Join(first, " ") != "10.0.0.0:443 10.0.0.1:443 10.0.0.2:443" {
		t.Errorf("forced /8 starts %v", first)
	}
}

func TestExpandRefuses(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		force bool
		ip    string
		want  error
		msg   string
	}{
		{[]string{"10.0.0.0/15"}, false, "", ErrRangeTooLarge, "pass -force"},
		{[]string{"fd00::/111"}, false, "", ErrRangeTooLarge, "2^17"},
		{[]string{"10.0.0.0/7"}, true, "", ErrRangeTooLarge, "more than 2^24"},
		{[]string{"::/0"}, true, "", ErrRangeTooLarge, "2^128"},
		{[]string{"10.0.0.0/33"}, false, "", ErrBadTarget, "not a CIDR"},
		{[]string{"10.0.0.0/24:0"}, false, "", ErrBadTarget, "port"},
		{[]string{"ok.test", "bad host"}, false, "", ErrBadTarget, "bad host"},
		{[]string{"ok.test"}, false, "nope", ErrBadTarget, "-ip"},
	} {
		_, _, err := Expand(TargetsRequest{Args: tc.args, Force: tc.force, IP: tc.ip})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Expand(%q, force=%v): %v, want %v mentioning %q", tc.args, tc.force, err, tc.want, tc.msg)
		}
	}
}

func TestReadCSV(t *testing.T) {
	in := "1,example.com\n2,example.net:8443\n\nlonely.test\n3,\"quoted.test\"\n4,extra,fields.test\n5, \n"
	got, err := ReadCSV(strings.NewReader(in), 0)
	want := []string{"example.com", "example.net:8443", "lonely.test", "quoted.test", "fields.test"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadCSV = %q, %v; want %q", got, err, want)
	}
	for _, tc := range []struct {
		in  string
		max int
		msg string
	}{
		{"a.test\nb.test\nc.test\n", 2, "more than 2 hosts"},
		{"1,ok.test\n2,bad host\n", 0, "line 2"},
		{"1,10.0.0.0/8\n", 0, "ranges are not read"},
		{"1,\"unterminated\n", 0, "csv:"},
		{"1," + strings.Repeat("a", 2000) + "\n", 0, "2000 bytes"},
	} {
		if _, err := ReadCSV(strings.NewReader(tc.in), tc.max); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ReadCSV(%.40q): %v, want an error with %q", tc.in, err, tc.msg)
		}
	}
}

// FuzzReadCSV: any input either fails or yields only hosts NormalizeHost
// accepts, never more than the bound.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"1,example.com\n", "a.test:8443\n\n", "\"x\",\"y\"\n", "1,[::1]:443\n", "1,\"a\nb\"\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		hosts, err := ReadCSV(strings.NewReader(in), 50)
		if err != nil {
			return
		}
		if len(hosts) > 50 {
			t.Fatalf("%d hosts, bound 50", len(hosts))
		}
		for _, h := range hosts {
			if _, err := NormalizeHost(h); err != nil || h == "" {
				t.Fatalf("ReadCSV returned %q: %v", h, err)
			}
		}
	})
}

// FuzzNormalizeHost: the API's host parameter. Any input is refused or
// becomes a host:port that splits back, names a valid port, and is stable.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"example.com", "a.test:8443", "::1", "[::1]:1", "127.0.0.1:65535", "x:", "[fe80::1%eth0]:443", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeHost(in)
		if err != nil {
			if !errors.Is(err, ErrBadTarget) {
				t.Fatalf("NormalizeHost(%q): %v, not ErrBadTarget", in, err)
			}
			return
		}
		if _, port, err := net.SplitHostPort(out); err != nil || port == "" || port == "0" {
			t.Fatalf("NormalizeHost(%q) = %q: %v", in, out, err)
		}
		if again, err := NormalizeHost(out); err != nil || again != out {
			t.Fatalf("NormalizeHost(%q) = %q, but NormalizeHost(%q) = %q, %v", in, out, out, again, err)
		}
		if strings.ContainsAny(out, " \t\r\n/") {
			t.Fatalf("NormalizeHost(%q) = %q", in, out)
		}
	})
}
