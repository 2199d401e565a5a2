package cli

import (
	"os"
	"testing"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/sdk/rpc"
)

// TestMain lets the test binary stand in for pkid when the host re-executes
// it as a builtin plugin; otherwise it runs the tests and stops the shared
// PostgreSQL cluster (pgtest.Shared) afterwards.
func TestMain(m *testing.M) {
	if os.Getenv(rpc.Handshake.MagicCookieKey) == rpc.Handshake.MagicCookieValue {
		os.Exit(Run(os.Args[1:]))
	}
	pgtest.Main(m)
}
