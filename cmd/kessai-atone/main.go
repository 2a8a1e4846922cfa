// Command kessai-atone is the atone adapter binary. The daemon launches it from its plugin
// folder (KESSAI_PLUGIN_DIR) over go-plugin; started by hand it explains that and exits.
package main

import (
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	plugins.Serve(atone.New(atone.Options{Version: version}))
}
