package pluginhost_test

import (
	"os"
	"testing"

	"github.com/pkid/pkid/core/cli"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// TestMain lets the test binary stand in for pkid: when the host re-executes
// it as a plugin (go-plugin's cookie is set), it serves the builtin.
func TestMain(m *testing.M) {
	if os.Getenv(rpc.Handshake.MagicCookieKey) == rpc.Handshake.MagicCookieValue {
		if len(os.Args) == 5 && os.Args[1] == "plugin" && os.Args[2] == "serve" && os.Args[4] == testPluginType {
			sdk.Serve(testPlugin{})
			os.Exit(0)
		}
		os.Exit(cli.Run(os.Args[1:]))
	}
	if dir := os.Getenv("PKID_TEST_ACT_AS_HOST"); dir != "" {
		actAsHost(dir)
	}
	os.Exit(m.Run())
}
