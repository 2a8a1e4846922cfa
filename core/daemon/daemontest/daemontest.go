// Package daemontest starts a whole kessaid in a test: real database (a fresh MySQL database
// or SQLite file), the real atone adapter as a subprocess, and the atone sandbox over real
// HTTP, with a shop and its API key. It is to core/daemon what httptest is to net/http.
package daemontest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/config"
	"github.com/kessai/kessai/core/daemon"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// Harness is a running daemon with atone on the sandbox.
type Harness struct {
	D       *daemon.Daemon
	URL     string
	ShopID  int64
	ShopKey string
	// Method is the atone payment method's name.
	Method     string
	Sandbox    *sandbox.Server
	SandboxURL string
	AdminToken string

	cfg    config.Config // what every daemon of the harness is started with
	clock  clockwork.Clock
	before []func(*Harness)
	stop   func() error // cancels the current daemon's run and waits for it
	mu     sync.RWMutex // guards D and URL against Restart for Do
}

type options struct {
	sqlite    bool
	immediate bool
	dsn       string
	clock     clockwork.Clock
	webhooks  bool
	before    []func(*Harness)
}

// Before runs f once the daemon is set up (listening, atone in use, the shop made) and before
// it serves: the place to mount more routes.
func Before(f func(*Harness)) Option { return func(o *options) { o.before = append(o.before, f) } }

// shutdownTimeout bounds a harness daemon's graceful stop. It is generous because a test
// machine under load (browsers, the race detector, parallel packages) can take seconds to
// finish the requests in flight, and a stop cut short is reported as the test's failure.
const shutdownTimeout = 20 * time.Second

// Option adjusts Start.
type Option func(*options)

// Clock gives every daemon of the harness this clock: its store, settlement engine, console,
// idempotency keys, outbox and continuation tell time by it.
func Clock(c clockwork.Clock) Option { return func(o *options) { o.clock = c } }

// Webhooks makes the sandbox deliver atone's payment webhook to the daemon after every
// authorization, as atone does (through a relay that follows the daemon across restarts).
func Webhooks() Option { return func(o *options) { o.webhooks = true } }

// SQLite runs on a SQLite file instead of MySQL.
func SQLite() Option { return func(o *options) { o.sqlite = true } }

// Immediate configures atone with 即時売上確定.
func Immediate() Option { return func(o *options) { o.immediate = true } }

// DSN uses an existing database (a second replica on the same MySQL database).
func DSN(dsn string) Option { return func(o *options) { o.dsn = dsn } }

var build struct {
	once sync.Once
	bin  []byte
	err  error
}

// AtoneBinary builds cmd/kessai-atone once per test binary and copies it into dir.
func AtoneBinary(t testing.TB, dir string) string {
	t.Helper()
	build.once.Do(func() {
		tmp, err := os.MkdirTemp("", "kessai-atone-")
		if err != nil {
			build.err = err
			return
		}
		defer os.RemoveAll(tmp)
		out := filepath.Join(tmp, "kessai-atone")
		if msg, err := exec.Command("go", "build", "-o", out, "github.com/kessai/kessai/cmd/kessai-atone").CombinedOutput(); err != nil {
			build.err = fmt.Errorf("build kessai-atone: %v\n%s", err, msg)
			return
		}
		build.bin, build.err = os.ReadFile(out)
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	path := filepath.Join(dir, "kessai-atone")
	if err := os.WriteFile(path, build.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// Start runs a daemon on a fresh MySQL database (or SQLite with the SQLite option) with the
// atone module in use against an in-process sandbox, a payment method 後払い（atone）, and a shop.
func Start(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	var current atomic.Pointer[Harness] // the relay's harness, set once it exists
	shop := sandbox.DefaultShop
	if o.webhooks {
		// The relay redelivers until the daemon takes the notification (a restart, a 503 while
		// an adapter is down), for up to 30 seconds, as a provider that retries would.
		relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				status := http.StatusServiceUnavailable
				if h := current.Load(); h != nil {
					h.mu.RLock()
					url := h.URL
					h.mu.RUnlock()
					if resp, err := http.Post(url+"/webhooks/atone", r.Header.Get("Content-Type"), bytes.NewReader(body)); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						status = resp.StatusCode
					}
				}
				if (status < 500 && status != http.StatusTooManyRequests) || time.Now().After(deadline) {
					w.WriteHeader(status)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}))
		t.Cleanup(relay.Close)
		shop.PaymentWebhookURL = relay.URL
	}
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shop}, Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(sb)
	t.Cleanup(func() { ts.Close(); sb.Close() })

	dir := t.TempDir()
	dsn := o.dsn
	switch {
	case dsn != "":
	case o.sqlite:
		dsn = "sqlite://" + filepath.Join(dir, "kessai.db")
	default:
		dsn = storetest.NewMySQLDatabase(t)
	}
	plugDir := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugDir, 0o755); err != nil {
		t.Fatal(err)
	}
	AtoneBinary(t, plugDir)
	db, err := store.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{HTTPAddr: "127.0.0.1:0", DBDSN: dsn, DB: db, PluginDir: plugDir, MasterKey: secret.NewKey(),
		AdminToken: "test-admin-token", VarDir: dir, LogLevel: slog.LevelWarn,
		// Tests' webhook receivers are httptest servers on http://127.0.0.1.
		WebhookAllowHTTP: "true", WebhookAllowPrivate: "true"}
	h := &Harness{Method: "後払い（atone）", Sandbox: sb, SandboxURL: ts.URL, AdminToken: cfg.AdminToken, cfg: cfg, before: o.before, clock: o.clock}
	current.Store(h)
	d, url := h.newDaemon(t)
	err = d.SetupAtone(ctx, daemon.AtoneSetup{Binary: "kessai-atone", PublicKey: sandbox.DefaultShop.PublicKey,
		SecretKey: sandbox.DefaultShop.SecretKey, APIBase: ts.URL + "/v1/", Immediate: o.immediate})
	if err != nil {
		_ = d.Close(ctx)
		t.Fatalf("setup atone: %v", err)
	}
	sh, key, err := d.Shops.Create(ctx, fmt.Sprintf("テストショップ %d", time.Now().UnixNano()))
	if err != nil {
		_ = d.Close(ctx)
		t.Fatal(err)
	}
	h.ShopID, h.ShopKey = sh.ID, key
	h.run(d, url)
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("daemon run: %v", err)
		}
	})
	return h
}

// newDaemon builds a daemon on the harness's configuration and binds a fresh port.
func (h *Harness) newDaemon(t testing.TB) (*daemon.Daemon, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := daemon.New(context.Background(), h.cfg, daemon.Options{Logger: log, ShutdownTimeout: shutdownTimeout, Clock: h.clock})
	if err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	url, err := d.Listen()
	if err != nil {
		_ = d.Close(context.Background())
		t.Fatal(err)
	}
	return d, url
}

// run makes d the harness's daemon and serves it in the background.
func (h *Harness) run(d *daemon.Daemon, url string) {
	h.mu.Lock()
	h.D, h.URL = d, url
	h.mu.Unlock()
	// Routes are added before the server runs: Gin's router is not safe to change while it
	// serves. They go on every daemon the harness starts, as they would in a process.
	for _, f := range h.before {
		f(h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	h.stop = func() error {
		cancel()
		return <-done
	}
}

// Restart takes the daemon down the way a crash or a deploy leaves it — its run cancelled,
// requests still in flight after the shutdown timeout cut off, adapters killed, the database
// closed — and starts a new one on the same database, plugin folder, master key and sandbox,
// listening on a new port (h.URL and h.D change). Callers must not use h.D or h.URL from
// other goroutines meanwhile; h.Do and h.Shop may be in flight, and fail or answer from
// either daemon.
func (h *Harness) Restart(t testing.TB) {
	t.Helper()
	if err := h.stop(); err != nil {
		// An interrupted shutdown is what a restart under load looks like, not a test failure.
		t.Logf("daemontest: the stopped daemon reported: %v", err)
	}
	d, url := h.newDaemon(t)
	h.run(d, url)
}

// InFlight returns once an operation holds the claim on order id's settlement: its provider
// call is on its way, and a request sent now races it. It polls rather than sleeping a guess,
// which a slow machine would outlast; the test fails when no claim shows within 10s.
func (h *Harness) InFlight(t testing.TB, id int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := h.D.Settlements.ForOrder(context.Background(), id)
		if err == nil && s.Claimed(h.D.Settlements.Clock.Now()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no operation claimed order %d's settlement within 10s (last: %v, %v)", id, s, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// KillAdapter sends SIGKILL to the atone adapter processes of this harness and returns how
// many it killed (0 while none runs, e.g. during a restart). It finds them as children of the
// test process running the binary in this harness's plugin folder, so that an adapter of a
// test running in parallel is never hit. The module host notices and relaunches by itself.
func (h *Harness) KillAdapter(t testing.TB) int {
	t.Helper()
	bin := filepath.Join(h.cfg.PluginDir, "kessai-atone")
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	procs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	me, killed := os.Getpid(), 0
	for _, p := range procs {
		exe, err := os.Readlink(filepath.Join(p, "exe"))
		if err != nil || strings.TrimSuffix(exe, " (deleted)") != bin || parentPid(p) != me {
			continue // gone meanwhile, not ours to read, or not this harness's adapter
		}
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed++
		}
	}
	return killed
}

// parentPid reads the parent process id from /proc/PID/stat; 0 when it cannot.
func parentPid(proc string) int {
	raw, err := os.ReadFile(filepath.Join(proc, "stat"))
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces; the fields after it are
	// "state ppid …".
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// Do sends a request with the shop's key (key "" sends none) and decodes the JSON answer.
func (h *Harness) Do(t testing.TB, key, method, path string, body any, headers ...string) Response {
	t.Helper()
	var r io.Reader
	var sent []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		sent = b
	case string:
		sent = []byte(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		sent = raw
	}
	if body != nil {
		r = bytes.NewReader(sent)
	}
	h.mu.RLock()
	base := h.URL
	h.mu.RUnlock()
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if problems := CheckAnswer(req, sent, resp.StatusCode, resp.Header, raw); problems != nil {
		t.Errorf("%s %s answered %d not as the OpenAPI document says:\n  %s\nrequest: %s\nanswer: %s", method, req.URL.RequestURI(), resp.StatusCode,
			strings.Join(problems, "\n  "), sent, raw)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// Shop sends a request as the harness's shop.
func (h *Harness) Shop(t testing.TB, method, path string, body any, headers ...string) Response {
	t.Helper()
	return h.Do(t, h.ShopKey, method, path, body, headers...)
}

// CompleteWidget does what the buyer does in the atone widget for the config of an order
// answer, through the sandbox's /sandbox/v1/widget/complete, and returns the widget result.
func (h *Harness) CompleteWidget(t testing.TB, config map[string]any, phone string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"pub_key": config["pub_key"], "pre_token": config["pre_token"],
		"payment": config["payment"], "phone_number": phone, "password": sandbox.TestPassword})
	resp, err := http.Post(h.SandboxURL+"/sandbox/v1/widget/complete", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("widget complete: %d %v", resp.StatusCode, out)
	}
	return out
}

// Order returns a Welcart-shaped order for number n and the given amounts (one line of price
// × quantity and 500 yen shipping).
func Order(number string, price, qty int64, method string) map[string]any {
	return map[string]any{
		"order_number": number,
		"member_id":    1000,
		"customer": map[string]any{"mailaddress1": "taro@example.jp", "name1": "注文", "name2": "太郎", "name3": "ちゅうもん", "name4": "たろう",
			"zipcode": "123-4567", "pref": "東京都", "address1": "中央区", "address2": "銀座1-10-6", "address3": "", "tel": "090-0000-0001"},
		"delivery": map[string]any{"name1": "注文", "name2": "太郎", "zipcode": "123-4567", "pref": "東京都", "address1": "中央区", "address2": "銀座1-10-6", "tel": "090-0000-0001"},
		"cart":     []any{map[string]any{"sku": "item-012", "item_name": "商品012", "price": price, "quantity": qty}},
		"order": map[string]any{"total_items_price": price * qty, "discount": 0, "shipping_charge": 500, "cod_fee": 0, "tax": 0, "usedpoint": 0,
			"total_full_price": price*qty + 500, "payment_name": method},
	}
}
