package plugins

import (
	"log"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve runs a as a kessai adapter and returns when the host ends the process. Call it from
// the adapter binary's main:
//
//	func main() { plugins.Serve(&atone.Adapter{}) }
//
// The binary must be started by the daemon (go-plugin handshake); started by hand, it prints
// a short explanation and exits.
//
// Logging: Serve writes JSON log lines to stderr, which the host reads and re-logs at the same
// level under the adapter's name. hclog.Default() and the standard library's log package are
// redirected to that logger, so adapter code can use either. Never log settings or tokens.
func Serve(a Adapter) {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       PluginName,
		Level:      hclog.Trace, // the host's logger decides what is kept
		Output:     os.Stderr,
		JSONFormat: true,
	})
	hclog.SetDefault(logger)
	log.SetFlags(0)
	log.SetOutput(logger.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}))

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {PluginName: &GRPCPlugin{Impl: a}},
		},
		GRPCServer: newGRPCServer(logger),
		Logger:     logger,
	})
}
