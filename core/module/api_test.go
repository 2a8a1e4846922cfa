package module_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/internal/perftest"
	"github.com/kessai/kessai/plugins/plugintest"
)

func TestAdminAPI(t *testing.T) {
	h := moduletest.Start(t, moduletest.WithOptions(module.Options{MaxCrashes: 1}))
	srv := httpapi.New(slog.New(slog.DiscardHandler))
	srv.AddReadiness("modules", h.Ready)
	module.Mount(srv.Engine.Group("/admin/api", httpapi.AdminToken("s3cret-token")), h.Host)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	t.Run("no token, no entry", func(t *testing.T) {
		if code, _ := do("GET", "/admin/api/modules", "", ""); code != 401 {
			t.Fatalf("no token: %d", code)
		}
		if code, _ := do("GET", "/admin/api/modules", "wrong", ""); code != 401 {
			t.Fatalf("wrong token: %d", code)
		}
	})

	t.Run("the catalog with modules in use", func(t *testing.T) {
		code, body := do("GET", "/admin/api/modules", "s3cret-token", "")
		var res module.ListResponse
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res.Selected) != 1 || res.Available[0].State != module.Running {
			t.Fatalf("%d %s", code, body)
		}
	})

	t.Run("a refused selection carries Welcart's message", func(t *testing.T) {
		code, body := do("PUT", "/admin/api/modules/selection", "s3cret-token", `{"selected":["atone"]}`)
		if code != 422 || !strings.Contains(body, "※決済モジュールの更新に失敗しました") {
			t.Fatalf("%d %s", code, body)
		}
		code, body = do("PUT", "/admin/api/modules/selection", "s3cret-token", `{"selected":["testmodule"]}`)
		if code != 200 || !strings.Contains(body, "更新しました。") {
			t.Fatalf("%d %s", code, body)
		}
	})

	t.Run("settings: secrets go in, never out", func(t *testing.T) {
		code, body := do("PUT", "/admin/api/modules/testmodule/settings", "s3cret-token", `{"settings":{"secret_key":"sk_live_api_9999xyz"}}`)
		if code != 200 || strings.Contains(body, "sk_live_api_9999xyz") {
			t.Fatalf("%d %s", code, body)
		}
		code, body = do("GET", "/admin/api/modules/testmodule/settings", "s3cret-token", "")
		if code != 200 || strings.Contains(body, "sk_live_api_9999xyz") || strings.Contains(body, "sk_test_moduletest_secret") {
			t.Fatalf("%d %s", code, body)
		}
		code, body = do("PUT", "/admin/api/modules/testmodule/settings", "s3cret-token", `{"settings":{"limit":"x"}}`)
		if code != 422 || !strings.Contains(body, "与信上限額は0以上の整数で入力してください。") {
			t.Fatalf("%d %s", code, body)
		}
	})

	t.Run("readyz names a failed module and reenable brings it back", func(t *testing.T) {
		h.Switch(t, "Reference", plugintest.Crash, 1)
		_ = reference(ctxT(t), h.Adapter(t))
		h.WaitState(t, moduletest.Slug, module.Failed, 3*time.Second)
		code, body := do("GET", "/readyz", "", "")
		if code != 503 || !strings.Contains(body, "module testmodule failed") {
			t.Fatalf("%d %s", code, body)
		}
		code, body = do("POST", "/admin/api/modules/testmodule/reenable", "s3cret-token", "")
		if code != 200 || !strings.Contains(body, `"running"`) {
			t.Fatalf("%d %s", code, body)
		}
		if code, body := do("GET", "/readyz", "", ""); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	})
}

func TestAdminAPIClosedWithoutToken(t *testing.T) {
	srv := httpapi.New(slog.New(slog.DiscardHandler))
	module.Mount(srv.Engine.Group("/admin/api", httpapi.AdminToken("")), nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/admin/api/modules", nil)
	req.Header.Set("Authorization", "Bearer ")
	srv.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "KESSAI_ADMIN_TOKEN") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func BenchmarkHostReference(b *testing.B) {
	h := moduletest.Start(b)
	ctx := ctxT(b)
	a := h.Adapter(b)
	if err := reference(ctx, a); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		t0 := time.Now()
		if err := reference(ctx, a); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	total := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(lat[len(lat)/2]), "p50-µs")
	b.ReportMetric(us(lat[len(lat)*99/100]), "p99-µs")
	b.ReportMetric(float64(b.N)/total.Seconds(), "calls/s")
	perftest.ReportLoad(b)
}
