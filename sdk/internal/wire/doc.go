// Package wire holds the pieces of the plugin protocol that both sides
// share and that need none of package sdk's types: the go-plugin
// handshake, the mapping between sentinel errors and gRPC codes, the
// stream multiplexer and the batcher behind the hot paths.
//
// It is internal to the sdk module so that neither plugin authors nor the
// core depend on it directly: authors see it through package sdk (which
// re-exports the sentinels), the host through package sdk/rpc.
//
// The plugin-side gRPC server adapter needs sdk's types and must stay in
// sdk (sdk.Main serves with it, and sdk cannot import sdk/rpc, which
// imports sdk). sdk hands it to sdk/rpc through RegisterServer, which sdk
// sets in its init: any importer of sdk/rpc has sdk initialised first.
package wire

import (
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
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

// RegisterServer registers the gRPC services of impl (an sdk.Plugin) on s.
// Package sdk sets it in its init.
var RegisterServer func(impl any, s *grpc.Server)

// Capabilities an instance reports in ConfigureResponse: the optional
// interfaces it implements, found by the plugin-side adapter by type
// assertion, so no plugin declares them by hand. One name per interface.
const (
	CapImportKey = "keystore.import"     // sdk.KeyImporter
	CapPutBatch  = "certstore.put.batch" // sdk.BatchPutter
	CapLease     = "certstore.lease"     // sdk.Leaser
	CapDocs      = "certstore.docs"      // sdk.DocStore
)
