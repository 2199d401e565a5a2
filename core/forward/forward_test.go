package forward

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/client"
)

// upstream is a fake remote CA: it records what it got and answers sign,
// authsign (checking the HMAC under key) and info.
type upstream struct {
	key  []byte
	got  map[string][]byte
	srv  *httptest.Server
	fail int // non-zero: every reply has this status and an error envelope
}

func newUpstream(t *testing.T, key []byte) *upstream {
	u := &upstream{key: key, got: map[string][]byte{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ep := strings.TrimPrefix(r.URL.Path, basePath)
		u.got[ep] = body
		if u.fail != 0 {
			writeError(w, u.fail, u.fail, "upstream says no")
			return
		}
		switch ep {
		case "authsign":
			var wr struct{ Token, Request string }
			json.Unmarshal(body, &wr)
			inner, _ := base64.StdEncoding.DecodeString(wr.Request)
			m := hmac.New(sha256.New, u.key)
			m.Write(inner)
			if tok, _ := base64.StdEncoding.DecodeString(wr.Token); !hmac.Equal(tok, m.Sum(nil)) {
				writeError(w, http.StatusBadRequest, http.StatusBadRequest, "invalid token")
				return
			}
			u.got["authsign-inner"] = inner
			writeResult(w, map[string]string{"certificate": "AUTH CERT\n"})
		case "sign":
			writeResult(w, map[string]string{"certificate": "PLAIN CERT\n"})
		case "info":
			writeResult(w, map[string]any{"certificate": "CA", "usages": []string{"signing"}, "expiry": "1h"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func remoteTo(t *testing.T, name, urls string, key []byte) *Remote {
	c, err := client.New(urls, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Remote{Name: name, Client: c, AuthKey: key}
}

type reply struct {
	status int
	env    struct {
		Success bool
		Result  map[string]any
		Errors  []message
	}
}

func call(t *testing.T, h http.Handler, path, body string) reply {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	var r reply
	r.status = rec.Code
	if err := json.Unmarshal(rec.Body.Bytes(), &r.env); err != nil {
		t.Fatalf("%s: not an envelope: %q", path, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s: content type %q", path, ct)
	}
	return r
}

const csrBody = `{"certificate_request":"-----BEGIN CERTIFICATE REQUEST-----\nx\n-----END CERTIFICATE REQUEST-----\n"`

func TestForward(t *testing.T) {
	key := []byte("0123456789abcdef")
	up := newUpstream(t, key)
	// A listener that accepts and never answers: the forward must give up
	// within its timeout.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	local := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		writeResult(w, map[string]string{"local": string(body)})
	})
	profiles := map[string]*Remote{
		"default": remoteTo(t, "up", up.srv.URL, nil),
		"auth":    remoteTo(t, "up", up.srv.URL, key),
		"badkey":  remoteTo(t, "up", up.srv.URL, []byte("wrong")),
		"dead":    remoteTo(t, "down", "http://127.0.0.1:1", nil),
		"hole":    remoteTo(t, "hole", "http://"+hole.Addr().String(), nil),
		// failover: the first server is down, the second answers
		"failover": remoteTo(t, "pair", "http://127.0.0.1:1,"+up.srv.URL, nil),
	}
	withLocal := New(local, Options{Profiles: profiles, Local: true, Timeout: 300 * time.Millisecond, MaxBodyBytes: 4096})
	noLocal := New(http.NotFoundHandler(), Options{Profiles: profiles, Timeout: 300 * time.Millisecond, MaxBodyBytes: 4096})

	for _, tc := range []struct {
		name, path, body string
		h                http.Handler
		status, code     int
		result, message  string // a substring of result / of the error message
	}{
		{"plain remote", "sign", csrBody + `}`, noLocal, 200, 0, "PLAIN CERT", ""},
		{"default by name", "sign", csrBody + `,"profile":"default"}`, noLocal, 200, 0, "PLAIN CERT", ""},
		{"auth_remote", "sign", csrBody + `,"profile":"auth"}`, noLocal, 200, 0, "AUTH CERT", ""},
		{"failover", "sign", csrBody + `,"profile":"failover"}`, noLocal, 200, 0, "PLAIN CERT", ""},
		{"info", "info", `{"profile":"auth"}`, noLocal, 200, 0, "CA", ""},
		{"wrong key: upstream 4xx passed on", "sign", csrBody + `,"profile":"badkey"}`, noLocal, 400, client.CodeBadStatus, "", `remote "up"`},
		{"unreachable", "sign", csrBody + `,"profile":"dead"}`, noLocal, 502, client.CodeIO, "", `remote "down" (http://127.0.0.1:1)`},
		{"unreachable info", "info", `{"profile":"dead"}`, noLocal, 502, client.CodeIO, "", `remote "down"`},
		{"no answer", "sign", csrBody + `,"profile":"hole"}`, noLocal, 502, client.CodeIO, "", `no answer within 300ms`},
		{"unknown profile, no local CA", "sign", csrBody + `,"profile":"nosuch"}`, noLocal, 400, 5400, "", `Unknown policy profile "nosuch"`},
		{"unknown profile, local CA", "sign", csrBody + `,"profile":"nosuch"}`, withLocal, 200, 0, "nosuch", ""},
		{"bad JSON, no local CA", "sign", `{"profile":`, noLocal, 400, 400, "", "Unable to parse sign request"},
		{"bad JSON, local CA", "sign", `{"profile":`, withLocal, 200, 0, `local":"{\"profile`, ""},
		{"wrong type", "sign", `{"profile":7}`, noLocal, 400, 400, "", "Unable to parse sign request"},
		{"empty CSR", "sign", `{"profile":"auth"}`, noLocal, 400, 400, "", "missing parameter 'certificate_request'"},
		{"token wrapper goes to the local API", "sign", `{"token":"x","request":"y"}`, withLocal, 200, 0, `local":"{\"token`, ""},
		{"too large", "sign", `{"x":"` + strings.Repeat("a", 5000) + `"}`, noLocal, 413, 413, "", "larger than 4096"},
		{"other endpoints untouched", "newkey", `{}`, withLocal, 200, 0, "{}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := call(t, tc.h, basePath+tc.path, tc.body)
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %+v", r.status, tc.status, r.env)
			}
			if tc.code != 0 {
				if len(r.env.Errors) != 1 || r.env.Errors[0].Code != tc.code || !strings.Contains(r.env.Errors[0].Message, tc.message) {
					t.Fatalf("errors %+v, want code %d with %q", r.env.Errors, tc.code, tc.message)
				}
				return
			}
			if b, _ := json.Marshal(r.env.Result); !r.env.Success || !strings.Contains(string(b), tc.result) {
				t.Fatalf("result %s, want %q", b, tc.result)
			}
		})
	}

	// The inner request the remote got is the caller's: hostname became
	// hosts (trimmed), the profile and label are kept.
	call(t, noLocal, basePath+"sign", csrBody+`,"profile":"auth","label":"L","hostname":"a.example, b.example"}`)
	var inner client.SignRequest
	if err := json.Unmarshal(up.got["authsign-inner"], &inner); err != nil {
		t.Fatal(err)
	}
	if inner.Profile != "auth" || inner.Label != "L" || strings.Join(inner.Hosts, "|") != "a.example|b.example" {
		t.Errorf("forwarded %+v", inner)
	}
	if !bytes.Contains(up.got["authsign"], []byte(`"token"`)) {
		t.Errorf("authsign wrapper %s", up.got["authsign"])
	}
}

// Authorize vets only forwarded requests: a refused caller gets 403 and
// the remote sees nothing; a local profile goes to the next handler.
func TestForwardAuthorize(t *testing.T) {
	up := newUpstream(t, nil)
	local := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeResult(w, map[string]string{"local": "yes"}) })
	h := New(local, Options{Profiles: map[string]*Remote{"fwd": remoteTo(t, "up", up.srv.URL, nil)}, Local: true,
		Authorize: func(*http.Request) error { return errors.New(`Invalid CN "intruder"`) }})
	r := call(t, h, basePath+"sign", csrBody+`,"profile":"fwd"}`)
	if r.status != 403 || len(r.env.Errors) != 1 || r.env.Errors[0].Code != 403 || r.env.Errors[0].Message != `Invalid CN "intruder" for sign` {
		t.Fatalf("refused caller: %+v", r)
	}
	if len(up.got) != 0 {
		t.Errorf("the remote was called: %v", up.got)
	}
	if r := call(t, h, basePath+"sign", csrBody+`,"profile":"local"}`); r.status != 200 || r.env.Result["local"] != "yes" {
		t.Errorf("local profile: %+v", r)
	}
}

// newcert of a forwarding profile: the key and CSR come from the local
// newkey (whose refusals are passed on), only the CSR goes to the remote.
func TestForwardNewcert(t *testing.T) {
	up := newUpstream(t, nil)
	const csrPEM = "-----BEGIN CERTIFICATE REQUEST-----\nAAEC\n-----END CERTIFICATE REQUEST-----\n"
	var newkeyBody string
	local := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path != basePath+"newkey":
			writeResult(w, map[string]string{"local": r.URL.Path})
		case strings.Contains(string(b), "huge"):
			writeError(w, http.StatusTooManyRequests, 429, "too many key generations")
		default:
			newkeyBody = string(b)
			writeResult(w, map[string]any{"private_key": "KEY", "certificate_request": csrPEM})
		}
	})
	h := New(local, Options{Profiles: map[string]*Remote{"fwd": remoteTo(t, "up", up.srv.URL, nil)}})
	r := call(t, h, basePath+"newcert", `{"profile": "fwd", "request": {"CN": "x", "hosts": ["x.example"]}}`)
	if r.status != 200 || r.env.Result["certificate"] != "PLAIN CERT\n" || r.env.Result["private_key"] != "KEY" || r.env.Result["certificate_request"] != csrPEM {
		t.Fatalf("newcert: %+v", r)
	}
	sums, _ := r.env.Result["sums"].(map[string]any)
	if crs, _ := sums["certificate_request"].(map[string]any); crs["sha-256"] != "AE4B3280E56E2FAF83F414A6E3DABE9D5FBE18976544C05FED121ACCB85B53FC" {
		t.Errorf("sums %v", sums)
	}
	if newkeyBody != `{"CN": "x", "hosts": ["x.example"]}` {
		t.Errorf("newkey got %q", newkeyBody)
	}
	var sent client.SignRequest
	json.Unmarshal(up.got["sign"], &sent)
	if sent.Request != csrPEM || strings.Join(sent.Hosts, ",") != "x.example" || sent.Profile != "fwd" {
		t.Errorf("remote got %s", up.got["sign"])
	}
	if bytes.Contains(up.got["sign"], []byte("KEY")) {
		t.Error("the private key went to the remote")
	}
	// No hosts: a success with CFSSL's 5300 advisory.
	r = call(t, h, basePath+"newcert", `{"profile": "fwd", "request": {"CN": "x"}}`)
	if rec := httptest.NewRecorder(); r.status == 200 {
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, basePath+"newcert", strings.NewReader(`{"profile": "fwd", "request": {"CN": "x"}}`)))
		if !strings.Contains(rec.Body.String(), `"messages":[{"code":5300,`) {
			t.Errorf("no hosts: %s", rec.Body)
		}
	} else {
		t.Errorf("no hosts: %+v", r)
	}
	for _, tc := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"profile": "fwd", "request": {"CN": "huge"}}`, 429, "too many key generations"},
		{`{"profile": "fwd"}`, 400, "missing request section"},
		{`{"profile": "nosuch", "request": {}}`, 400, "Unknown policy profile"},
		{`{"profile": 1}`, 400, "Unable to parse newcert request"},
	} {
		if r := call(t, h, basePath+"newcert", tc.body); r.status != tc.status || len(r.env.Errors) != 1 || !strings.Contains(r.env.Errors[0].Message, tc.msg) {
			t.Errorf("%s: %+v", tc.body, r)
		}
	}
}
