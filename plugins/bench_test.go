package plugins_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// BenchmarkReference measures one Reference call through gRPC (AutoMTLS) to the test adapter
// process, the cost the janitor and the widget confirmation pay per call.
func BenchmarkReference(b *testing.B) {
	a, _ := plugintest.Launch(b, plugintest.BuildTestModule(b))
	ctx := context.Background()
	plugintest.Configure(b, a, plugins.Settings{})
	tr, err := a.Confirm(ctx, plugins.ConfirmRequest{
		Payload: []byte(`{"authorization_result":1}`),
		Order:   plugins.Order{Attempt: "bench", Amount: 1000},
	})
	if err != nil {
		b.Fatal(err)
	}
	req := plugins.ReferenceRequest{ProviderID: tr.ProviderID}

	var lat []time.Duration
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if _, err := a.Reference(ctx, req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "calls/s")
	reportLoad(b)
}

// reportLoad adds the machine's load average (load-1m, load-5m, load-15m) beside the figures,
// as every kessai benchmark does: the machine is shared, and a figure taken under load says
// so. It reads Linux's /proc/loadavg here rather than the daemon's perftest, which the
// plugins module cannot import; elsewhere it reports nothing.
func reportLoad(b *testing.B) {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	f := strings.Fields(string(raw))
	for i, unit := range []string{"load-1m", "load-5m", "load-15m"} {
		if i < len(f) {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				b.ReportMetric(v, unit)
			}
		}
	}
}
