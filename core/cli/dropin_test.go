package cli

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestDropIn runs testdata/dropin: CFSSL's documented command lines run
// unchanged through pkid started as cfssl, cfssljson, multirootca, ...
// (testscript installs the test binary under those names; TestMain
// dispatches on argv[0] through RunAs), with the real CFSSL 1.6.5 binaries
// ($ORACLE/cfssl, $ORACLE/multirootca) as clients and side-by-side servers.
func TestDropIn(t *testing.T) {
	oracleDir := filepath.Dir(oracle(t, "cfssl"))
	oracle(t, "multirootca")
	certdb := cfssldbtest.NewSQLite(t) // an empty CFSSL certdb the scenarios copy
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "dropin"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("ORACLE", oracleDir)
			e.Setenv("CFSSL_CERTDB", certdb)
			e.Setenv("PKID_CONFIG", "")
			return nil
		},
		Condition: haveCondition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":   cmdFreeport,
			"waitlisten": cmdWaitListen,
			"jsonfield":  cmdJSONField,
			"authreq":    cmdAuthReq,
			"sidebyside": cmdSideBySide,
			"expandenv":  cmdExpandEnv,
			"certenv":    cmdCertenv,
			"apiresult":  cmdAPIResult,
			"apicall":    cmdAPICall,
			"httpget":    cmdHTTPGet,
		},
	})
}

// freeport VAR...: sets each VAR to a free TCP port on 127.0.0.1.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	for _, name := range args {
		p, err := testtool.FreePort()
		ts.Check(err)
		ts.Setenv(name, fmt.Sprint(p))
	}
}

// waitlisten ADDR: waits (up to 60 s) until ADDR accepts connections.
func cmdWaitListen(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitlisten ADDR")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s never listened: %v", args[0], err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jsonfield FILE KEY OUT: writes the string value of KEY in the JSON
// object in FILE to OUT (cfssljson's job, for responses of the API).
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonfield FILE KEY OUT")
	}
	var m map[string]any
	ts.Check(json.NewDecoder(bytes.NewReader([]byte(ts.ReadFile(args[0])))).Decode(&m))
	v, ok := m[args[1]].(string)
	if !ok {
		ts.Fatalf("%s: no string %q in %s", args[0], args[1], strings.TrimSpace(ts.ReadFile(args[0])))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(v), 0o644))
}

// authreq KEYHEX INNERFILE OUT: writes CFSSL's authenticated request
// wrapping INNERFILE's bytes, with its HMAC-SHA256 token under KEYHEX, to
// OUT ("-" for KEYHEX: a token of zeros).
func cmdAuthReq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: authreq KEYHEX INNERFILE OUT")
	}
	inner := []byte(ts.ReadFile(args[1]))
	token := make([]byte, sha256.Size)
	if args[0] != "-" {
		key, err := hex.DecodeString(args[0])
		ts.Check(err)
		m := hmac.New(sha256.New, key)
		m.Write(inner)
		token = m.Sum(nil)
	}
	b, err := json.Marshal(map[string]string{"token": base64.StdEncoding.EncodeToString(token), "request": base64.StdEncoding.EncodeToString(inner)})
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), b, 0o644))
}

type reply struct {
	status  int
	success bool
	msgs    []string
	keys    []string // of result
	body    string
}

func doRequest(ts *testscript.TestScript, method, url string, body []byte) reply {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	ts.Check(err)
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ts.Check(err)
	var env struct {
		Success bool            `json:"success"`
		Result  json.RawMessage `json:"result"`
		Errors  []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		ts.Fatalf("%s %s: not an envelope: %v: %s", method, url, err, data)
	}
	r := reply{status: resp.StatusCode, success: env.Success, body: strings.TrimSpace(string(data))}
	for _, e := range env.Errors {
		r.msgs = append(r.msgs, e.Message)
	}
	var res map[string]any
	if json.Unmarshal(env.Result, &res) == nil {
		r.keys = sortedKeys(res)
	}
	return r
}

// sidebyside METHOD PATH BODYFILE|-: sends the same request to pkid
// ($PKID_ADDR) and to the real multirootca ($CFSSL_ADDR) and fails unless
// both answer with the same status, success, error messages and result
// keys (the error code differs by design: pkid's is the HTTP status,
// CFSSL's is 1). Prints "STATUS" and pkid's body.
func cmdSideBySide(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: sidebyside METHOD PATH BODYFILE|-")
	}
	var body []byte
	if args[2] != "-" {
		body = []byte(ts.ReadFile(args[2]))
	}
	p := doRequest(ts, args[0], "http://"+ts.Getenv("PKID_ADDR")+args[1], body)
	c := doRequest(ts, args[0], "http://"+ts.Getenv("CFSSL_ADDR")+args[1], body)
	if p.status != c.status || p.success != c.success || !reflect.DeepEqual(p.msgs, c.msgs) || !reflect.DeepEqual(p.keys, c.keys) {
		ts.Fatalf("replies differ:\npkid:  %d %s\ncfssl: %d %s", p.status, p.body, c.status, c.body)
	}
	fmt.Fprintf(ts.Stdout(), "%d\n%s\n", p.status, p.body)
}

// expandenv FILE...: replaces $VAR and ${VAR} in each FILE with the
// script's environment.
func cmdExpandEnv(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		ts.Check(os.WriteFile(ts.MkAbs(f), []byte(os.Expand(ts.ReadFile(f), ts.Getenv)), 0o644))
	}
}

// apiresult METHOD URL OUT: calls a CFSSL API endpoint and writes its
// string result, base64-decoded, to OUT (the DER of a CRL).
func cmdAPIResult(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: apiresult METHOD URL OUT")
	}
	r := doRequest(ts, args[0], args[1], nil)
	var env struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.body), &env); err != nil || !r.success {
		ts.Fatalf("%s %s: %d %s", args[0], args[1], r.status, r.body)
	}
	der, err := base64.StdEncoding.DecodeString(env.Result)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), der, 0o644))
}

// apicall METHOD URL BODYFILE: calls an endpoint with BODYFILE's content
// and prints the status and the reply.
func cmdAPICall(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: apicall METHOD URL BODYFILE")
	}
	r := doRequest(ts, args[0], args[1], []byte(ts.ReadFile(args[2])))
	fmt.Fprintf(ts.Stdout(), "%d\n%s\n", r.status, r.body)
	if (r.status == http.StatusOK) == neg {
		ts.Fatalf("status %d", r.status)
	}
}

// httpget URL: prints the body of a GET; fails unless the status is 200.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: httpget URL")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(args[0])
	ts.Check(err)
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%s", data)
	if (resp.StatusCode == http.StatusOK) == neg {
		ts.Fatalf("GET %s: %d", args[0], resp.StatusCode)
	}
}
