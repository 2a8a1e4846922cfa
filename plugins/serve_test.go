package plugins_test

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/kessai/kessai/plugins"
)

func TestLogLevel(t *testing.T) {
	for in, want := range map[string]hclog.Level{
		"debug": hclog.Debug,
		"TRACE": hclog.Trace,
		"warn":  hclog.Warn,
		"info":  hclog.Info,
		// A host that does not say gets no per-call debug lines.
		"":        hclog.Info,
		"verbose": hclog.Info,
	} {
		if got := plugins.LogLevel(in); got != want {
			t.Errorf("LogLevel(%q) = %s, want %s", in, got, want)
		}
	}
}
