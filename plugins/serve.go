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
// Lines below the level the host asks for in LogLevelEnv are not written at all: a line the
// host would drop still costs an encoding, a pipe write and the host's parsing, on every call.
func Serve(a Adapter) {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       PluginName,
		Level:      LogLevel(os.Getenv(LogLevelEnv)),
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

// LogLevelEnv names the environment variable through which the host tells an adapter the
// lowest level it keeps ("trace", "debug", "info", "warn", "error").
const LogLevelEnv = "KESSAI_ADAPTER_LOG_LEVEL"

// LogLevel reads LogLevelEnv's value: Info when it is empty or not a level, so that an adapter
// started by a host that does not say writes no per-call debug lines.
func LogLevel(s string) hclog.Level {
	if lv := hclog.LevelFromString(s); lv != hclog.NoLevel {
		return lv
	}
	return hclog.Info
}
