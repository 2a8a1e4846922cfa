package module_test

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins/plugintest"
)

func TestAdapterUser(t *testing.T) {
	t.Run("an unknown user stops the host from starting, and launches nothing", func(t *testing.T) {
		dir := t.TempDir()
		bin := plugintest.BuildTestModule(t)
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "testmodule"), b, 0o755); err != nil {
			t.Fatal(err)
		}
		h := module.New(storetest.SQLite(t), nil, module.Options{PluginDir: dir, Logger: moduletest.TestLogger(t), User: "kessai-no-such-user"})
		defer h.Close(context.Background())
		err = h.Start(ctxT(t))
		if !errors.Is(err, module.ErrAdapterUser) || !strings.Contains(err.Error(), `"kessai-no-such-user"`) || !strings.Contains(err.Error(), "KESSAI_ADAPTER_USER") {
			t.Fatalf("Start = %v", err)
		}
		if _, err := h.Register(ctxT(t), "testmodule", "test"); !errors.Is(err, module.ErrAdapterUser) {
			t.Fatalf("Register launched anyway: %v", err)
		}
	})
	t.Run("only root may switch users, and says so", func(t *testing.T) {
		_, err := module.RunAs("root", 1000)
		if !errors.Is(err, module.ErrAdapterUser) || !strings.Contains(err.Error(), "root") || !strings.Contains(err.Error(), "uid 1000") {
			t.Fatalf("non-root: %v", err)
		}
		if attr, err := module.RunAs("", 1000); attr != nil || err != nil {
			t.Fatalf("no user set: %v %v", attr, err)
		}
		attr, err := module.RunAs("root", 0)
		if err != nil || attr.Credential == nil || attr.Credential.Uid != 0 || attr.Credential.Groups == nil {
			t.Fatalf("root as root: %+v %v", attr, err)
		}
	})
	t.Run("a root kessaid runs the adapter as the user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("kessaid is not root here: it cannot switch users")
		}
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Skip("no user nobody to run the adapter as")
		}
		// A plugin directory the user can read, as an operator sets one up.
		dir, err := os.MkdirTemp("", "kessai-runas-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
				t.Skipf("%s is not searchable by others, so nobody cannot reach the adapter", d)
			}
			if d == filepath.Dir(d) {
				break
			}
		}
		b, err := os.ReadFile(plugintest.BuildTestModule(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "testmodule"), b, 0o755); err != nil {
			t.Fatal(err)
		}
		h := module.New(storetest.SQLite(t), nil, module.Options{PluginDir: dir, Logger: moduletest.TestLogger(t), User: "nobody"})
		t.Cleanup(func() { _ = h.Close(context.Background()) })
		if err := h.Start(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Register(ctxT(t), "testmodule", "test"); err != nil {
			t.Fatalf("register as nobody: %v", err)
		}
		if err := h.UpdateSelection(ctxT(t), []string{moduletest.Slug}, "test"); err != nil {
			t.Fatal(err)
		}
		if st, lastErr := h.State(moduletest.Slug); st != module.Running {
			t.Fatalf("adapter is %s: %s", st, lastErr)
		}
		status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(h.Pid(moduletest.Slug)), "status"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) == 5 && f[0] == "Uid:" {
				if f[1] != nobody.Uid || f[2] != nobody.Uid {
					t.Fatalf("adapter runs as %s, want %s (nobody)", line, nobody.Uid)
				}
				t.Logf("adapter pid %d: %s", h.Pid(moduletest.Slug), line)
				return
			}
		}
		t.Fatalf("no Uid line in %s", status)
	})
}
