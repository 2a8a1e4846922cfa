package plugins

import "google.golang.org/grpc"

// windowSize is the flow-control window of the adapter connection, fixed on both sides. A
// fixed window turns gRPC's bandwidth estimation off: with it on, each call's data is followed
// by a PING frame that the other side must answer, so every call on a quiet connection (and a
// host has one call in flight far more often than a window's worth) costs a frame each way and
// a wake-up of both processes more. The calls are small; a megabyte is never filled.
const windowSize = 1 << 20

// DialOptions are the gRPC options a host dials an adapter with: go-plugin's
// ClientConfig.GRPCDialOptions. Serve gives the adapter's server the matching ones.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithStaticStreamWindowSize(windowSize), grpc.WithStaticConnWindowSize(windowSize)}
}

// serverOptions are DialOptions' counterparts on the adapter's side.
func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.StaticStreamWindowSize(windowSize), grpc.StaticConnWindowSize(windowSize)}
}
