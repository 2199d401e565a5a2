package sdk

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/pkid/pkid/sdk/internal/wire"
	"google.golang.org/grpc"
)

func init() {
	// sdk/rpc serves plugins in tests (plugintest) with the adapter of this
	// package, which it cannot import without exporting it to authors.
	wire.RegisterServer = func(impl any, s *grpc.Server) { newServer(impl.(Plugin)).register(s) }
}

// servePlugin is the plugin side of the go-plugin glue; the host side
// (Dispense returning a client) is sdk/rpc.GRPCPlugin.
type servePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Plugin
}

func (p *servePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	newServer(p.impl).register(s)
	return nil
}

func (p *servePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the host side of a plugin is sdk/rpc")
}

// Logger returns the plugin-side logger: JSON lines on stderr, which the
// host parses and re-logs under plugin.<kind>.<type>.
func Logger() hclog.Logger {
	lvl := hclog.LevelFromString(os.Getenv(wire.LogLevelEnv))
	if lvl == hclog.NoLevel {
		lvl = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: lvl})
}

// Serve runs p as a plugin server until the host goes away. Plugin binaries
// call it (or Main) from their main function.
func Serve(p Plugin) {
	watchParent()
	// The host owns the plugin's lifetime: it stops plugins after its own
	// graceful shutdown, and watchParent ends an orphan. A SIGTERM sent to
	// the whole process group (systemd, timeout, kill -- -PGID) must not
	// kill plugins while the host is still finishing in-flight requests.
	// (go-plugin already swallows SIGINT.)
	signal.Ignore(syscall.SIGTERM)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &servePlugin{impl: p}}},
		GRPCServer:       grpcServer,
		Logger:           Logger(),
	})
}

// Main is Serve for a plugin binary's main function, which exits with its
// result: os.Exit(sdk.Main(p)). Run by hand rather than by pkid, it says
// what it is and returns 1 instead of waiting for a host.
func Main(p Plugin) int {
	if os.Getenv(wire.Handshake.MagicCookieKey) != wire.Handshake.MagicCookieValue {
		i := p.Info()
		os.Stderr.WriteString("This is the pkid plugin " + i.Name + " " + i.Version + " (" + strings.Join(i.Kinds, ", ") +
			").\nIt is started by pkid; register it with: pkid plugin register " + os.Args[0] + "\n")
		return 1
	}
	Serve(p)
	return 0
}

func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(64<<20), grpc.MaxSendMsgSize(64<<20))...)
}

// watchParent exits when the host process dies, so an orphaned plugin never
// keeps holding a database file or an HSM session (Pdeathsig covers Linux
// thread semantics only partly).
func watchParent() {
	ppid := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != ppid {
				os.Exit(3)
			}
		}
	}()
}
