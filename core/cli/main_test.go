package cli

import (
	"os"
	"testing"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/sdk/rpc"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary stand in for pkid: when the host
// re-executes it as a builtin plugin (the handshake cookie is set), and as
// the `pkid` command of the testscript scenarios (testscript.Main installs
// a copy named pkid on $PATH and dispatches on os.Args[0]). Otherwise it
// runs the tests and stops the shared PostgreSQL cluster (pgtest.Shared)
// afterwards.
func TestMain(m *testing.M) {
	if os.Getenv(rpc.Handshake.MagicCookieKey) == rpc.Handshake.MagicCookieValue {
		os.Exit(Run(os.Args[1:]))
	}
	cmds := map[string]func(){
		"pkid": func() { os.Exit(Run(os.Args[1:])) },
	}
	for _, name := range DropInNames() { // CFSSL's binary names (dropin_test.go)
		cmds[name] = func() { os.Exit(RunAs(os.Args[0], os.Args[1:])) }
	}
	testscript.Main(runFunc(func() int {
		defer stopCompatDaemons() // the compat suite's shared daemons
		return pgtest.Run(m)
	}), cmds)
}

type runFunc func() int

func (f runFunc) Run() int { return f() }
