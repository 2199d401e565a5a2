package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "dropin"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("ORACLE", oracleDir)
			e.Setenv("PKID_CONFIG", "")
			return nil
		},
		Condition: haveCondition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":   cmdFreeport,
			"waitlisten": cmdWaitListen,
			"jsonfield":  cmdJSONField,
		},
	})
}

// freeport VAR...: sets each VAR to a free TCP port on 127.0.0.1.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	for _, name := range args {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		ts.Setenv(name, fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
		l.Close()
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
