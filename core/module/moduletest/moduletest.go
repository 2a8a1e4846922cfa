// Package moduletest gives tests a module host with a real adapter process in one line: the
// test adapter (plugins/testmodule) built, registered in a fresh store, configured and
// selected, as httptest gives a real server. Tests of settlement and the shop API use it to
// call an adapter across the process boundary, failure switches included.
package moduletest

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// Slug is the test adapter's module slug, and Code its settlement code.
const (
	Slug = "testmodule"
	Code = "acting_testmodule"
)

// Harness is a running host with the test adapter registered and (unless Unselected) selected.
// It embeds the Host, so h.Get(ctx, moduletest.Slug) works directly.
type Harness struct {
	*module.Host
	Store      *store.Store
	Box        *secret.Box
	PluginDir  string // the plugin directory; the test adapter's binary is Binary in it
	Binary     string
	SwitchFile string // the test adapter's failure switches; see Switch
	StateFile  string // the test adapter's provider state, kept across crashes
}

type setup struct {
	store    *store.Store
	opt      module.Options
	settings plugins.Settings
	switches [][3]any
	selected bool
	without  []plugins.Capability
}

// Option adjusts Start.
type Option func(*setup)

// WithStore uses st instead of a fresh SQLite store (e.g. storetest.MySQL(t)).
func WithStore(st *store.Store) Option { return func(s *setup) { s.store = st } }

// WithOptions tunes the host (intervals, crash limits); PluginDir and Logger are filled in.
func WithOptions(o module.Options) Option { return func(s *setup) { s.opt = o } }

// WithSettings saves extra settings for the test adapter (on top of valid keys).
func WithSettings(st plugins.Settings) Option {
	return func(s *setup) {
		for k, v := range st {
			s.settings[k] = v
		}
	}
}

// CrashOnNext makes the adapter's process die in the middle of the next call of op.
func CrashOnNext(op string) Option { return WithSwitch(op, plugintest.Crash, 1) }

// WithSwitch arms a failure switch of the test adapter before the first call (see
// plugintest.SetSwitch).
func WithSwitch(op, mode string, times int) Option {
	return func(s *setup) { s.switches = append(s.switches, [3]any{op, mode, times}) }
}

// Without runs a build of the test adapter that does not announce caps (plugins.CanModify, …)
// in its Description, though it would still answer them.
func Without(caps ...plugins.Capability) Option {
	return func(s *setup) { s.without = append(s.without, caps...) }
}

// Unselected registers and configures the test adapter without selecting it.
func Unselected() Option { return func(s *setup) { s.selected = false } }

// Start builds and registers the test adapter on a fresh store, saves valid settings and
// selects it. Everything is stopped when the test ends.
func Start(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	h := &Harness{
		SwitchFile: filepath.Join(t.TempDir(), "switches.json"),
		StateFile:  filepath.Join(t.TempDir(), "provider.json"),
	}
	s := &setup{
		selected: true,
		opt: module.Options{
			PingInterval: time.Second,
			ExitPoll:     20 * time.Millisecond,
			DrainTimeout: 10 * time.Second,
		},
		settings: plugins.Settings{
			"public_key":  "pk_test_moduletest",
			"secret_key":  "sk_test_moduletest_secret",
			"switch_file": h.SwitchFile,
			"state_file":  h.StateFile,
		},
	}
	for _, o := range opts {
		o(s)
	}
	bin := plugintest.BuildTestModule(t, s.without...)
	dir := filepath.Dir(bin)
	h.PluginDir, h.Binary = dir, bin
	if s.store == nil {
		s.store = storetest.SQLite(t)
	}
	h.Store = s.store
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	h.Box = box
	s.opt.PluginDir = dir
	if s.opt.Logger == nil {
		s.opt.Logger = TestLogger(t)
	}
	h.Host = module.New(s.store, box, s.opt)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close module host: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.Register(ctx, bin, "moduletest"); err != nil {
		t.Fatalf("register test adapter: %v", err)
	}
	if problems, err := h.UpdateSettings(ctx, Slug, s.settings, "moduletest"); err != nil || len(problems) > 0 {
		t.Fatalf("configure test adapter: %v %v", problems, err)
	}
	for _, sw := range s.switches {
		plugintest.SetSwitch(t, h.SwitchFile, sw[0].(string), sw[1].(string), sw[2].(int))
	}
	if s.selected {
		if err := h.UpdateSelection(ctx, []string{Slug}, "moduletest"); err != nil {
			t.Fatalf("select test adapter: %v", err)
		}
		if st, lastErr := h.State(Slug); st != module.Running {
			t.Fatalf("test adapter is %s after selection: %s", st, lastErr)
		}
	}
	return h
}

// Adapter returns the test adapter through the host, failing the test if it is not available.
func (h *Harness) Adapter(t testing.TB) plugins.Adapter {
	t.Helper()
	a, err := h.Get(context.Background(), Slug)
	if err != nil {
		t.Fatalf("get %s: %v", Slug, err)
	}
	return a
}

// Switch arms (or with plugintest.Off disarms) a failure switch of the running test adapter.
func (h *Harness) Switch(t testing.TB, op, mode string, times int) {
	t.Helper()
	plugintest.SetSwitch(t, h.SwitchFile, op, mode, times)
}

// WaitState waits up to d for the module to reach want and returns how long it took.
func (h *Harness) WaitState(t testing.TB, slug string, want module.State, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, lastErr := h.State(slug)
		if st == want {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("module %s is %s (%s), not %s after %s", slug, st, lastErr, want, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitRestart waits up to d for the module to run again in a process other than oldPid and
// returns how long it took.
func (h *Harness) WaitRestart(t testing.TB, slug string, oldPid int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, lastErr := h.State(slug)
		if pid := h.Pid(slug); st == module.Running && pid != 0 && pid != oldPid {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("module %s not restarted after %s: %s %s", slug, d, st, lastErr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLogger is a slog logger writing into the test log, silent once the test is over (the
// host's goroutines may log a process exit after it).
func TestLogger(t testing.TB) *slog.Logger {
	w := &tlog{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tlog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tlog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *tlog) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
