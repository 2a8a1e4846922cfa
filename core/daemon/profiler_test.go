package daemon_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/config"
	"github.com/kessai/kessai/core/daemon"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
)

// newBareDaemon is a daemon on a SQLite file with no adapters, listening on loopback.
func newBareDaemon(t *testing.T, pprofAddr string) (*daemon.Daemon, error) {
	t.Helper()
	dir := t.TempDir()
	dsn := "sqlite://" + filepath.Join(dir, "kessai.db")
	db, err := store.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{HTTPAddr: "127.0.0.1:0", DBDSN: dsn, DB: db, PluginDir: dir, MasterKey: secret.NewKey(),
		VarDir: dir, PprofAddr: pprofAddr}
	d, err := daemon.New(context.Background(), cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Listen()
	if err != nil {
		_ = d.Close(context.Background())
	}
	return d, err
}

func TestProfilerOnLoopbackOnly(t *testing.T) {
	t.Run("KESSAI_PPROF_ADDR serves the profiles, apart from the API", func(t *testing.T) {
		d, err := newBareDaemon(t, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}()
		get := func(url string) (int, string) {
			t.Helper()
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		base := d.ProfilerURL()
		if !strings.HasPrefix(base, "http://127.0.0.1:") {
			t.Fatalf("profiler at %q", base)
		}
		if code, body := get(base + "/debug/pprof/"); code != 200 || !strings.Contains(body, "allocs") {
			t.Fatalf("index: %d %.200s", code, body)
		}
		if code, _ := get(base + "/debug/pprof/heap?debug=1"); code != 200 {
			t.Fatalf("heap: %d", code)
		}
		if code, _ := get(base + "/debug/pprof/cmdline"); code != 404 {
			t.Fatalf("cmdline, which may hold a database password: %d", code)
		}
	})
	t.Run("without it nothing listens", func(t *testing.T) {
		d, err := newBareDaemon(t, "")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(context.Background())
		if u := d.ProfilerURL(); u != "" {
			t.Fatalf("profiler at %s", u)
		}
	})
	t.Run("an address off loopback is refused, even past config", func(t *testing.T) {
		_, err := newBareDaemon(t, "0.0.0.0:0")
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != "KESSAI_PPROF_ADDR" || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("err = %v", err)
		}
	})
}
