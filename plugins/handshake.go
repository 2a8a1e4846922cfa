package plugins

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// ProtocolVersion is the version of the adapter contract this package speaks. It is bumped
// only for a breaking change of the wire contract, together with a new entry in
// VersionedPlugins; adding fields or RPCs is not breaking.
const ProtocolVersion = 1

// PluginName is the name under which the adapter is dispensed from a go-plugin client.
const PluginName = "adapter"

// Handshake is the go-plugin handshake shared by the daemon and every adapter. The magic
// cookie is not a security measure: it only makes an adapter binary started by hand say that
// it must be started by kessai. Its key and value are a wire contract and must NEVER be
// changed; version negotiation goes through VersionedPlugins instead.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "KESSAI_PLUGIN",
	MagicCookieValue: "7f3c9e1a-kessai-adapter-b4d2",
}

// VersionedPlugins is the plugin map by protocol version, for plugin.ClientConfig on the host
// side. go-plugin picks the highest version both sides have; a host and an adapter with no
// version in common refuse to talk, with an "Incompatible API version" error.
var VersionedPlugins = map[int]plugin.PluginSet{
	ProtocolVersion: {PluginName: &GRPCPlugin{}},
}

// GRPCPlugin connects the Adapter interface to go-plugin's gRPC transport. On the adapter side
// Impl is the adapter being served; on the host side Impl is unused and the dispensed value
// is a *GRPCClient.
type GRPCPlugin struct {
	// The contract is gRPC only: deadlines must cross the boundary, which net/rpc cannot do.
	plugin.NetRPCUnsupportedPlugin

	Impl Adapter
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers Impl on the adapter's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterAdapterServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns the host's view of the adapter, a *GRPCClient.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewGRPCClient(c), nil
}
