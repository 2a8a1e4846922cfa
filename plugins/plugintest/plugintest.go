// Package plugintest runs real adapter processes in tests, as httptest runs real servers:
// it builds the test adapter (plugins/testmodule), launches adapters with go-plugin the way
// the daemon does (gRPC, AutoMTLS, SkipHostEnv, checksum) and arms the test adapter's failure
// switches.
package plugintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/kessai/kessai/plugins"
)

// TestModulePackage is the import path of the test adapter that BuildTestModule builds.
const TestModulePackage = "github.com/kessai/kessai/plugins/testmodule"

// builds are the test adapter's builds by the capabilities they leave out ("" for none).
var builds struct {
	mu sync.Mutex
	by map[string]*build
}

type build struct {
	once sync.Once
	bin  []byte
	err  error
}

// BuildTestModule builds the test adapter and returns the path of a copy of the binary in
// t.TempDir(). The build runs once per test binary (the go tool must be on PATH and the
// working directory inside the kessai module, as under go test); each test gets its own copy
// so that it can be removed with the test. An adapter built without some capabilities leaves
// them out of its Description, and is a build of its own.
func BuildTestModule(t testing.TB, without ...plugins.Capability) string {
	t.Helper()
	names := make([]string, len(without))
	for i, c := range without {
		names[i] = string(c)
	}
	key := strings.Join(names, ",")
	builds.mu.Lock()
	if builds.by == nil {
		builds.by = map[string]*build{}
	}
	b := builds.by[key]
	if b == nil {
		b = &build{}
		builds.by[key] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "kessai-testmodule-")
		if err != nil {
			b.err = err
			return
		}
		// The built file is read into memory and the directory removed at once: there is
		// no hook at the end of a test binary to clean it up later.
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "testmodule")
		cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-X main.without="+key, TestModulePackage)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", TestModulePackage, err, msg)
			return
		}
		b.bin, b.err = os.ReadFile(out)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	path := filepath.Join(t.TempDir(), "testmodule")
	if err := os.WriteFile(path, b.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// ClientConfig returns the go-plugin configuration the daemon uses for an adapter binary:
// gRPC only, AutoMTLS, SkipHostEnv, the binary's SHA-256 as SecureConfig, the adapter's log
// lines in the test log. Tests that need something else (another handshake) change it before
// plugin.NewClient.
func ClientConfig(t testing.TB, path string) *plugin.ClientConfig {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	out := &tlog{t: t}
	t.Cleanup(out.close)
	return &plugin.ClientConfig{
		HandshakeConfig:  plugins.Handshake,
		VersionedPlugins: plugins.VersionedPlugins,
		Cmd:              exec.Command(path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  plugins.DialOptions(),
		SkipHostEnv:      true,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum[:], Hash: sha256.New()},
		StartTimeout:     10 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:   filepath.Base(path),
			Level:  hclog.Info,
			Output: out,
		}),
	}
}

// Launch starts the adapter binary at path and returns it as a plugins.Adapter (a
// *plugins.GRPCClient) with a function that kills the process. The process is also killed
// when the test ends. It does not call Configure.
func Launch(t testing.TB, path string) (plugins.Adapter, func()) {
	t.Helper()
	a, c := LaunchClient(t, ClientConfig(t, path))
	return a, c.Kill
}

// LaunchClient is Launch with a caller-made configuration; it also returns the go-plugin
// client, for tests that watch the process (Exited) or ping it.
func LaunchClient(t testing.TB, cfg *plugin.ClientConfig) (plugins.Adapter, *plugin.Client) {
	t.Helper()
	c := plugin.NewClient(cfg)
	t.Cleanup(c.Kill)
	rpc, err := c.Client()
	if err != nil {
		t.Fatalf("launch %s: %v", cfg.Cmd.Path, err)
	}
	raw, err := rpc.Dispense(plugins.PluginName)
	if err != nil {
		t.Fatalf("launch %s: dispense: %v", cfg.Cmd.Path, err)
	}
	a, ok := raw.(plugins.Adapter)
	if !ok {
		t.Fatalf("launch %s: dispensed %T, not a plugins.Adapter", cfg.Cmd.Path, raw)
	}
	return a, c
}

// Configure calls a.Configure with s and fails the test on error.
func Configure(t testing.TB, a plugins.Adapter, s plugins.Settings) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Configure(ctx, s); err != nil {
		t.Fatalf("configure: %v", err)
	}
}

// SwitchFile returns a path in t.TempDir() for the test adapter's "switch_file" setting.
// The file need not exist until a switch is set.
func SwitchFile(t testing.TB) string {
	return filepath.Join(t.TempDir(), "switches.json")
}

// Switch modes of the test adapter; see plugins/testmodule for what each does.
const (
	Decline     = "decline"
	Pending     = "pending"
	Undefined   = "undefined"
	Crash       = "crash"
	CrashAfter  = "crash_after"
	WrongAmount = "wrong_amount"
	Error       = "error"
	Panic       = "panic"
	Off         = "off"
)

// Sleep is the switch mode that makes the test adapter wait d (honouring the call's context)
// before handling the call.
func Sleep(d time.Duration) string { return "sleep:" + d.String() }

// SetSwitch arms the test adapter's switch for op ("Capture", or "*" for any operation) in the
// switch file: the next times calls (every call when times is 0) behave as mode says. Mode Off
// disarms it. The running adapter sees the change on its next call; no restart is needed.
func SetSwitch(t testing.TB, file, op, mode string, times int) {
	t.Helper()
	type armed struct {
		Mode  string `json:"mode"`
		Times int    `json:"times,omitempty"`
	}
	sw := map[string]armed{}
	b, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		t.Fatal(err)
	case len(b) > 0:
		if err := json.Unmarshal(b, &sw); err != nil {
			t.Fatalf("switch file %s: %v", file, err)
		}
	}
	if mode == Off || mode == "" {
		delete(sw, op)
	} else {
		sw[op] = armed{Mode: mode, Times: times}
	}
	b, err = json.Marshal(sw)
	if err != nil {
		t.Fatal(err)
	}
	// Written beside the target and renamed, so the adapter never reads half a file.
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// tlog sends go-plugin's and the adapter's log lines to the test log, and drops them once the
// test is over: go-plugin's reader goroutines may still log a process exit, and t.Log after
// the end of a test panics.
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
