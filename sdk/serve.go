package sdk

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ProtocolVersion is the plugin protocol major version (proto package
// pkid.plugin.v1).
const ProtocolVersion = 1

// Handshake is shared by pkid and every plugin. It is not a security
// measure (sha256 pinning and AutoMTLS are); it stops a plugin binary run
// by hand from pretending to be a server.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PKID_PLUGIN_COOKIE",
	MagicCookieValue: "7f1d2b0c-pkid-plugin-v1",
}

// PluginName is the go-plugin dispense name of every pkid plugin.
const PluginName = "pkid"

// LogLevelEnv is the environment variable through which the host passes its
// log level to plugins.
const LogLevelEnv = "PKID_PLUGIN_LOG_LEVEL"

// VersionedPlugins returns the go-plugin plugin sets, by protocol version.
// impl is nil on the host side.
func VersionedPlugins(impl Plugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}}}
}

// GRPCPlugin is the go-plugin glue. On the host, Dispense returns *Client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Plugin
	srv  *Server
}

// GRPCServer registers the plugin's services.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.srv = NewServer(p.Impl)
	p.srv.Register(s)
	return nil
}

// GRPCClient returns a *Client for the connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewClient(c), nil
}

// Logger returns the plugin-side logger: JSON lines on stderr, which the
// host parses and re-logs under plugin.<kind>.<type>.
func Logger() hclog.Logger {
	lvl := hclog.LevelFromString(os.Getenv(LogLevelEnv))
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
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(p),
		GRPCServer:       grpcServer,
		Logger:           Logger(),
	})
}

// Main is Serve for a plugin binary's main function: run by hand, it says
// what it is instead of waiting for a host.
func Main(p Plugin) {
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		i := p.Info()
		os.Stderr.WriteString("This is the pkid plugin " + i.Name + " " + i.Version + " (" + strings.Join(i.Kinds, ", ") +
			").\nIt is started by pkid; register it with: pkid plugin register " + os.Args[0] + "\n")
		os.Exit(1)
	}
	Serve(p)
	os.Exit(0)
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

func statusErr(s *pb.Status) error {
	return status.Error(codes.Code(s.Code), s.Message)
}
