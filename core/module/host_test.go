package module_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// reference is the cheapest call that crosses the process boundary: the test adapter answers
// Declined/StateUnknown for a transaction it does not know, without error.
func reference(ctx context.Context, a plugins.Adapter) error {
	_, err := a.Reference(ctx, plugins.ReferenceRequest{ProviderID: "tr_unknown"})
	return err
}

var fake struct {
	once sync.Once
	bin  []byte
	err  error
}

// fakeAdapter installs the fake adapter (internal/fakeadapter) under name in dir; its name
// decides its slug and behaviour.
func fakeAdapter(t testing.TB, dir, name string) string {
	t.Helper()
	fake.once.Do(func() {
		tmp, err := os.MkdirTemp("", "kessai-fakeadapter-")
		if err != nil {
			fake.err = err
			return
		}
		defer os.RemoveAll(tmp)
		out := filepath.Join(tmp, "fakeadapter")
		if msg, err := exec.Command("go", "build", "-o", out, "github.com/kessai/kessai/core/module/internal/fakeadapter").CombinedOutput(); err != nil {
			fake.err = errors.New(string(msg))
			return
		}
		fake.bin, fake.err = os.ReadFile(out)
	})
	if fake.err != nil {
		t.Fatalf("build fake adapter: %v", fake.err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, fake.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLaunchAndCall(t *testing.T) {
	h := moduletest.Start(t)
	ctx := ctxT(t)
	a := h.Adapter(t)
	d, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Slug != moduletest.Slug || !slices.Contains(d.SettlementCodes, moduletest.Code) {
		t.Fatalf("described as %+v", d)
	}
	res, err := a.Reference(ctx, plugins.ReferenceRequest{ProviderID: "tr_unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != plugins.Declined {
		t.Fatalf("unknown transaction: outcome %v", res.Outcome)
	}
	codes, err := h.SettlementCodes(ctx)
	if err != nil || !slices.Equal(codes, []string{moduletest.Code}) {
		t.Fatalf("settlement codes %v, %v", codes, err)
	}
	if err := h.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
}

func TestAdapterCrash(t *testing.T) {
	h := moduletest.Start(t)
	ctx := ctxT(t)
	a := h.Adapter(t)
	if err := reference(ctx, a); err != nil {
		t.Fatal(err)
	}

	t.Run("a call in flight when the adapter is killed is undefined, never failed", func(t *testing.T) {
		h.Switch(t, "Reference", plugintest.Sleep(10*time.Second), 1)
		pid := h.Pid(moduletest.Slug)
		errc := make(chan error, 1)
		go func() { errc <- reference(ctx, a) }()
		time.Sleep(300 * time.Millisecond) // the call is now sleeping inside the adapter
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		err := <-errc
		if err == nil {
			t.Fatal("the call survived its adapter")
		}
		if got := plugins.OutcomeOf(err); got != plugins.Undefined {
			t.Fatalf("OutcomeOf(%v) = %v, want Undefined", err, got)
		}
		h.WaitRestart(t, moduletest.Slug, pid, 2*time.Second-time.Since(killed))
		t.Logf("adapter back %s after kill -9", time.Since(killed).Round(time.Millisecond))
	})

	t.Run("the adapter is back within 2s and the next call succeeds", func(t *testing.T) {
		if err := reference(ctx, a); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a crash switch mid-call is undefined too, and the call after it succeeds", func(t *testing.T) {
		h.Switch(t, "Reference", plugintest.Crash, 1)
		err := reference(ctx, a)
		if plugins.OutcomeOf(err) != plugins.Undefined || !errors.Is(err, plugins.ErrTransport) {
			t.Fatalf("crash mid-call: %v (outcome %v)", err, plugins.OutcomeOf(err))
		}
		start := time.Now()
		if err := reference(ctx, a); err != nil { // waits for the restart
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("next call took %s", d)
		}
	})
}

func TestRepeatedCrashesFailTheModule(t *testing.T) {
	h := moduletest.Start(t, moduletest.WithOptions(module.Options{MaxCrashes: 3, CrashWindow: time.Minute, ExitPoll: 20 * time.Millisecond}))
	ctx := ctxT(t)
	a := h.Adapter(t)
	h.Switch(t, "Reference", plugintest.Crash, 0) // every call crashes the adapter

	t.Run("after 3 crashes in a minute the module is failed", func(t *testing.T) {
		for i := 0; ; i++ {
			err := reference(ctx, a)
			if err == nil {
				t.Fatal("a crashing call succeeded")
			}
			if errors.Is(err, module.ErrModuleFailed) {
				if got := plugins.OutcomeOf(err); got != plugins.NotAttempted {
					t.Fatalf("call to a failed module: outcome %v, want NotAttempted", got)
				}
				break
			}
			if i > 10 {
				t.Fatalf("not failed after %d crashes: %v", i, err)
			}
		}
		st, lastErr := h.State(moduletest.Slug)
		if st != module.Failed || !strings.Contains(lastErr, "crashed 3 times") {
			t.Fatalf("state %s: %s", st, lastErr)
		}
		if _, err := h.Get(ctx, moduletest.Slug); !errors.Is(err, module.ErrModuleFailed) {
			t.Fatalf("Get: %v", err)
		}
	})

	t.Run("readiness names the failed module", func(t *testing.T) {
		err := h.Ready(ctx)
		if err == nil || !strings.Contains(err.Error(), "module testmodule failed") {
			t.Fatalf("ready: %v", err)
		}
		var state string
		h.Store.DB.Table("modules").Where("slug = ?", moduletest.Slug).Select("state").Scan(&state)
		if state != string(module.Failed) {
			t.Fatalf("state column %q", state)
		}
	})

	t.Run("no restart happens until an admin re-enables it", func(t *testing.T) {
		time.Sleep(300 * time.Millisecond)
		if st, _ := h.State(moduletest.Slug); st != module.Failed {
			t.Fatalf("state %s", st)
		}
		h.Switch(t, "Reference", plugintest.Off, 0)
		if err := h.Reenable(ctx, moduletest.Slug, "admin"); err != nil {
			t.Fatal(err)
		}
		if err := reference(ctx, h.Adapter(t)); err != nil {
			t.Fatal(err)
		}
		if err := h.Ready(ctx); err != nil {
			t.Fatalf("ready after reenable: %v", err)
		}
	})
}

func TestTamperedBinaryIsRefused(t *testing.T) {
	h := moduletest.Start(t)
	ctx := ctxT(t)
	// A running executable cannot be opened for writing (ETXTBSY): the tampered copy is
	// renamed over it, as an attacker or a careless deploy would.
	b, err := os.ReadFile(h.Binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Binary+".new", append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(h.Binary+".new", h.Binary); err != nil {
		t.Fatal(err)
	}
	// The running process is the registered one; its next launch is not.
	if err := syscall.Kill(h.Pid(moduletest.Slug), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.WaitState(t, moduletest.Slug, module.Failed, 5*time.Second)
	_, lastErr := h.State(moduletest.Slug)
	if !strings.Contains(lastErr, "does not match its registered SHA-256") || !strings.Contains(lastErr, "kessaid module register") {
		t.Fatalf("last error %q", lastErr)
	}
	t.Log(lastErr)
	_, err = h.Get(ctx, moduletest.Slug)
	if !errors.Is(err, module.ErrModuleFailed) {
		t.Fatalf("Get: %v", err)
	}
	if err := h.Reenable(ctx, moduletest.Slug, "admin"); !errors.Is(err, module.ErrChecksum) {
		t.Fatalf("reenable of a tampered binary: %v", err)
	}
	mods, err := h.List(ctx)
	if err != nil || mods[0].State != module.Failed || mods[0].LastError == "" {
		t.Fatalf("list: %+v %v", mods, err)
	}
}

func TestProtocolVersionMismatchIsRefused(t *testing.T) {
	h := moduletest.Start(t)
	path := fakeAdapter(t, h.PluginDir, "future")
	_, err := h.Register(ctxT(t), path, "admin")
	if !errors.Is(err, module.ErrProtocolVersion) {
		t.Fatalf("register: %v", err)
	}
	if !strings.Contains(err.Error(), "contract version [1]") || !strings.Contains(err.Error(), "Plugin version: 2") {
		t.Fatalf("message: %v", err)
	}
	t.Log(err)
}

func TestAdapterSeesNoneOfTheDaemonsEnvironment(t *testing.T) {
	t.Setenv("KESSAI_MASTER_KEY", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	t.Setenv("KESSAI_DB_DSN", "mysql://root:hunter2@tcp(db:3306)/kessai")
	h := moduletest.Start(t)
	res, err := h.Adapter(t).Reference(ctxT(t), plugins.ReferenceRequest{ProviderID: "env:"})
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	if err := json.Unmarshal(res.Raw, &env); err != nil {
		t.Fatal(err)
	}
	level := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, plugins.LogLevelEnv+"="); ok {
			level = v
			continue
		}
		if strings.HasPrefix(kv, "KESSAI_") && !strings.HasPrefix(kv, "KESSAI_PLUGIN=") || strings.Contains(kv, "hunter2") || strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") {
			t.Errorf("adapter sees %s", kv)
		}
	}
	// The one thing the host tells it: the lowest level the daemon's log keeps (info here),
	// so that it writes no line the host would only drop.
	if level != "info" {
		t.Errorf("%s = %q, want info", plugins.LogLevelEnv, level)
	}
	t.Logf("adapter environment: %d variables (go-plugin's own and %s)", len(env), plugins.LogLevelEnv)
}
