// Package rpc is the host side of the pkid plugin protocol: the go-plugin
// glue (Handshake, VersionedPlugins, GRPCPlugin), the Client that turns a
// plugin connection back into sdk.KeyStore, sdk.CertStore, sdk.Trust and
// sdk.ScanCheck values, and the Batcher behind the hot paths. pkid imports
// it; plugin authors never do (they import sdk, and sdk/plugintest, which
// uses this package to run a plugin over gRPC inside a test).
//
// Layout, and why: sdk cannot import this package (it imports sdk), yet
// sdk.Main must serve a plugin. So the pieces that need no sdk type (the
// handshake, the code <-> sentinel mapping, the stream multiplexer, the
// batcher) live in sdk/internal/wire, which both import; the plugin-side
// server adapter stays unexported in sdk and reaches GRPCPlugin through a
// hook sdk sets in its init (importing this package initialises sdk
// first).
package rpc

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/internal/wire"
	"google.golang.org/grpc"
)

// ProtocolVersion is the plugin protocol major version (proto package
// pkid.plugin.v1).
const ProtocolVersion = wire.ProtocolVersion

// Handshake is shared by pkid and every plugin. It is not a security
// measure (sha256 pinning and AutoMTLS are); it stops a plugin binary run
// by hand from pretending to be a server.
var Handshake = wire.Handshake

// PluginName is the go-plugin dispense name of every pkid plugin.
const PluginName = wire.PluginName

// LogLevelEnv is the environment variable through which the host passes its
// log level to plugins.
const LogLevelEnv = wire.LogLevelEnv

// VersionedPlugins returns the go-plugin plugin sets, by protocol version.
// impl is nil on the host side.
func VersionedPlugins(impl sdk.Plugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}}}
}

// GRPCPlugin is the go-plugin glue. On the host, Dispense returns *Client;
// with Impl set it also serves Impl (as sdk.Serve does), for tests that
// run both ends in one process.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl sdk.Plugin
}

// GRPCServer registers the services of p.Impl.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("rpc: GRPCPlugin without Impl cannot serve")
	}
	wire.RegisterServer(p.Impl, s)
	return nil
}

// GRPCClient returns a *Client for the connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewClient(c), nil
}

// Unavailable returns an error matching sdk.ErrUnavailable whose text is
// msg, followed by the sentinel's text only when msg does not already say
// it (a message quoting an error that crossed the wire often does), so the
// host says "unavailable" once.
func Unavailable(msg string) error { return wire.Unavailable(msg) }

// MaxBatch bounds the items per batch: per stream message and per
// group-committed transaction.
const MaxBatch = wire.MaxBatch

// Batcher hands the items added to it, from any number of goroutines, to
// one goroutine that flushes them in batches: a batch is whatever queued
// while the previous one was flushing, up to its maximum, so a lone item
// leaves at once and batches grow under load. The sign and put streams to
// plugins batch the same way.
type Batcher[T any] = wire.Batcher[T]

// NewBatcher starts a Batcher flushing batches of at most max items; its
// Close stops it and returns the items it never flushed.
func NewBatcher[T any](max int, flush func([]T)) *Batcher[T] { return wire.NewBatcher(max, flush) }

// ErrBatcherClosed is returned by Batcher.Add after Close.
var ErrBatcherClosed = wire.ErrBatcherClosed
