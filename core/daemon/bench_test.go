package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/internal/perftest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// The benchmarks of the assembled daemon. Each one reports, beside its figures, the machine's
// load average when it ended (load-1m, load-5m, load-15m): the machine is shared. `make bench`
// runs them with the continuation run and prints one table of their figures.

// shopper sends checkouts (POST /api/v1/orders with an Idempotency-Key, the call a shop makes
// when a buyer chooses atone) to a daemon over loopback, each with an order number and key of
// its own: prefix and a count.
type shopper struct {
	url, key, method, prefix string
	client                   *http.Client
	n                        atomic.Int64
}

func newShopper(h *daemontest.Harness) *shopper {
	return newShopperTo(h.URL, h.ShopKey, h.Method, "bench")
}

func newShopperTo(url, key, method, prefix string) *shopper {
	// Enough idle connections for the most concurrent run: a client that closes connections
	// would measure TCP handshakes, not kessai.
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	return &shopper{url: url, key: key, method: method, prefix: prefix, client: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// checkout creates one order with its settlement and the widget's configuration.
func (s *shopper) checkout() error {
	n := s.n.Add(1)
	body, err := json.Marshal(daemontest.Order(fmt.Sprintf("%s%08d", s.prefix, n), 1500, 1, s.method))
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, s.url+"/api/v1/orders", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-checkout-%d", s.prefix, n))
	return s.send(req, http.StatusCreated)
}

// send does req and wants status, reading the whole answer as a client does.
func (s *shopper) send(req *http.Request, status int) error {
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	return nil
}

// concurrently runs n calls of f on c workers and returns each call's latency and the time
// they took together; the first error stops the run.
func concurrently(n, c int, f func() error) ([]time.Duration, time.Duration, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	lat := make([][]time.Duration, c)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if err := f(); err != nil {
					mu.Lock()
					first = cmp(first, err)
					mu.Unlock()
					next.Store(int64(n))
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return slices.Concat(lat...), time.Since(start), first
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// adapterCPU is the CPU time the harness's atone adapter process has used so far.
func adapterCPU(b *testing.B, h *daemontest.Harness) time.Duration {
	b.Helper()
	d, err := perftest.ProcessCPU(h.D.Modules.Pid(atone.Slug))
	if err != nil {
		b.Fatalf("adapter CPU: %v", err)
	}
	return d
}

// BenchmarkCheckout sends b.N checkouts at 1, 16 and 64 at once to a daemon on MySQL and one
// on SQLite, over loopback from a client process of its own (loadClient), and reports req/s,
// the 50th and 99th percentile latency, and the CPU per checkout of the daemon's process (the
// daemon and the idle in-process sandbox), of the atone adapter process, of the MySQL server
// when it runs on this machine, and of the client.
func BenchmarkCheckout(b *testing.B) {
	dbs := []struct {
		name string
		opts []daemontest.Option
	}{{"mysql", nil}, {"sqlite", []daemontest.Option{daemontest.SQLite()}}}
	for _, db := range dbs {
		b.Run(db.name, func(b *testing.B) {
			h := daemontest.Start(b, db.opts...)
			server := 0
			if db.name == "mysql" {
				server = perftest.DatabaseServer()
			}
			for _, c := range []int{1, 16, 64} {
				b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
					cl := startLoad(b, h, b.N, c)
					cpu0, ad0, db0 := perftest.CPU(), adapterCPU(b, h), perftest.CPUOf(server)
					b.ResetTimer()
					res := cl.run(b)
					b.StopTimer()
					cpu, ad, dbCPU := perftest.CPU()-cpu0, adapterCPU(b, h)-ad0, perftest.CPUOf(server)-db0
					b.ReportMetric(float64(b.N)/res.Took.Seconds(), "req/s")
					b.ReportMetric(perftest.Ms(perftest.Percentile(res.Latencies, 50)), "p50-ms")
					b.ReportMetric(perftest.Ms(perftest.Percentile(res.Latencies, 99)), "p99-ms")
					b.ReportMetric(perftest.Ms(cpu)/float64(b.N), "cpu-ms/op")
					b.ReportMetric(perftest.Ms(ad)/float64(b.N), "adapter-cpu-ms/op")
					b.ReportMetric(perftest.Ms(res.CPU)/float64(b.N), "client-cpu-ms/op")
					if server != 0 {
						b.ReportMetric(perftest.Ms(dbCPU)/float64(b.N), "db-cpu-ms/op")
					}
					perftest.ReportLoad(b)
				})
			}
		})
	}
}

// BenchmarkCheckoutCost sends b.N checkouts one after another to a daemon on MySQL whose
// connections go through a storetest.Wire, and reports what one checkout asks of the database,
// counted on the wire: round trips, statements, prepares, COMMITs and writes that commit by
// themselves. The daemon's jobs (outbox, janitor) share the pool, so a checkout's figures are
// the count every checkout had save those a job ran beside (mode-share says how many did not),
// not an average. It also reports the CPU per checkout of this process (the daemon and the
// client sending the checkouts: BenchmarkCheckout has the daemon's alone), the adapter's and
// the MySQL server's.
func BenchmarkCheckoutCost(b *testing.B) {
	w := storetest.NewWire()
	h := daemontest.Start(b, daemontest.DSN(w.MySQL(b)))
	s := newShopper(h)
	if err := s.checkout(); err != nil { // the first one opens the pool's connections
		b.Fatal(err)
	}
	seen := map[storetest.WireCount]int{}
	server := perftest.DatabaseServer()
	cpu0, ad0, db0 := perftest.CPU(), adapterCPU(b, h), perftest.CPUOf(server)
	b.ResetTimer()
	for range b.N {
		before := w.Count()
		if err := s.checkout(); err != nil {
			b.Fatal(err)
		}
		seen[w.Count().Sub(before)]++
	}
	b.StopTimer()
	cpu, ad, dbCPU := perftest.CPU()-cpu0, adapterCPU(b, h)-ad0, perftest.CPUOf(server)-db0
	counts := slices.Collect(maps.Keys(seen))
	slices.SortFunc(counts, func(x, y storetest.WireCount) int { return seen[y] - seen[x] })
	one := counts[0]
	b.ReportMetric(float64(one.RoundTrips), "round-trips/op")
	b.ReportMetric(float64(one.Commands), "commands/op")
	b.ReportMetric(float64(one.Statements), "statements/op")
	b.ReportMetric(float64(one.Prepares), "prepares/op")
	b.ReportMetric(float64(one.Begins), "begins/op")
	b.ReportMetric(float64(one.Commits), "commits/op")
	b.ReportMetric(float64(one.AutocommitWrites), "autocommit-writes/op")
	b.ReportMetric(float64(one.Connections), "connects/op")
	b.ReportMetric(float64(seen[one])/float64(b.N), "mode-share")
	b.ReportMetric(perftest.Ms(cpu)/float64(b.N), "cpu-ms/op")
	b.ReportMetric(perftest.Ms(ad)/float64(b.N), "adapter-cpu-ms/op")
	if server != 0 {
		b.ReportMetric(perftest.Ms(dbCPU)/float64(b.N), "db-cpu-ms/op")
	}
	perftest.ReportLoad(b)
}

// BenchmarkReference measures 取引参照 of one authorized atone transaction four ways, one
// after another on a daemon on MySQL:
//
//   - kessai: POST /api/v1/orders/{id}/settlement/reference, the shop's call;
//   - sandbox: GET /v1/transactions/{id} with Basic auth, straight to the sandbox;
//   - host: the module host's adapter (go-plugin gRPC to the kessai-atone process, which
//     calls the sandbox), as the settlement service calls it;
//   - adapter: the atone adapter in this process calling the sandbox: its HTTP call alone.
//
// allocs/op counts this process's allocations, the in-process sandbox's included; the adapter
// process's own are not seen.
func BenchmarkReference(b *testing.B) {
	h := daemontest.Start(b)
	// authorized makes an order paid with atone and returns its id and atone's transaction id.
	authorized := func() (int64, string) {
		r := h.Shop(b, "POST", "/api/v1/orders", daemontest.Order(fmt.Sprintf("ref%d", time.Now().UnixNano()), 1500, 1, h.Method))
		if r.Status != http.StatusCreated {
			b.Fatalf("order: %d %s", r.Status, r.Raw)
		}
		id := int64(r.Body["id"].(float64))
		w := h.CompleteWidget(b, r.Body["config"].(map[string]any), sandbox.OKMemberPhone)
		if r = h.Shop(b, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w); r.Status != http.StatusOK {
			b.Fatalf("result: %d %s", r.Status, r.Raw)
		}
		trID, _ := w["result"].(map[string]any)["id"].(string) // atone's id, not kessai's trans_id
		if trID == "" {
			b.Fatalf("no atone transaction id in %v", w)
		}
		return id, trID
	}
	id, trID := authorized()
	s := newShopper(h)
	ctx := context.Background()
	direct := atone.New(atone.Options{Version: "bench"})
	err := direct.Configure(ctx, plugins.Settings{atone.KeyPublicKey: sandbox.DefaultShop.PublicKey,
		atone.KeySecretKey: sandbox.DefaultShop.SecretKey, atone.KeyAPIBase: h.SandboxURL + "/v1/"})
	if err != nil {
		b.Fatal(err)
	}
	viaHost := func() error {
		ad, err := h.D.Modules.Get(ctx, atone.Slug)
		if err != nil {
			return err
		}
		return referenced(ad.Reference(ctx, plugins.ReferenceRequest{ProviderID: trID}))
	}
	// The answer carries the order's whole history, which a 取引参照 that finds the provider
	// disagreeing adds to: an order is referenced perOrder times at most, as a real one might
	// be, so that the figure does not grow with b.N.
	const perOrder = 5
	ways := []struct {
		name  string
		call  func() error
		fresh func() // between calls, with the timer stopped, every perOrder calls
	}{
		{"kessai", func() error {
			req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/orders/%d/settlement/reference", h.URL, id), nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+h.ShopKey)
			return s.send(req, http.StatusOK)
		}, func() { id, _ = authorized() }},
		{"sandbox", func() error {
			req, err := http.NewRequest(http.MethodGet, h.SandboxURL+"/v1/transactions/"+trID, nil)
			if err != nil {
				return err
			}
			req.SetBasicAuth(sandbox.DefaultShop.SecretKey, "")
			return s.send(req, http.StatusOK)
		}, nil},
		{"host", viaHost, nil},
		{"adapter", func() error { return referenced(direct.Reference(ctx, plugins.ReferenceRequest{ProviderID: trID})) }, nil},
	}
	for _, way := range ways {
		b.Run(way.name, func(b *testing.B) {
			b.ReportAllocs()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if way.fresh != nil && i > 0 && i%perOrder == 0 {
					b.StopTimer()
					way.fresh()
					b.StartTimer()
				}
				t0 := time.Now()
				if err := way.call(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			b.ReportMetric(perftest.Us(perftest.Percentile(lat, 50)), "p50-µs")
			b.ReportMetric(perftest.Us(perftest.Percentile(lat, 99)), "p99-µs")
			perftest.ReportLoad(b)
		})
	}
}

// referenced wants a processed reference.
func referenced(res plugins.TransactionResult, err error) error {
	if err != nil {
		return err
	}
	if res.Outcome != plugins.Processed {
		return fmt.Errorf("reference: %s %s %v", res.Outcome, res.Code, res.Messages)
	}
	return nil
}
