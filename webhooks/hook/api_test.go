package hook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/webhooks/hook"
)

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func doAs(t *testing.T, h http.Handler, sh *shop.Shop, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Shop", strconv.FormatInt(sh.ID, 10))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decode(t *testing.T, w *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			t.Fatalf("%v: %s", err, w.Body)
		}
	}
}

func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, field string) httpapi.ErrorDetail {
	t.Helper()
	var e httpapi.ErrorBody
	decode(t, w, status, &e)
	if e.Error.Field != field || e.Error.Message == "" {
		t.Fatalf("error = %+v, want one on field %q", e.Error, field)
	}
	return e.Error
}

func TestEndpointAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a, b := newShop(t, s, "A"), newShop(t, s, "B")
		shops := shop.New(s.DB)
		eps := hook.NewEndpoints(s.DB, newBox(t), hook.Policy{Resolver: shopDNS})
		// Stands in for the shop API's key middleware, which sets "shop".
		r := httpapi.New(quiet).Engine
		api := r.Group("", func(c *gin.Context) {
			id, _ := strconv.ParseInt(c.GetHeader("X-Test-Shop"), 10, 64)
			sh, err := shops.Get(c.Request.Context(), id)
			if err != nil {
				httpapi.Fail(c, http.StatusUnauthorized, "unauthorized", "no shop", "")
				return
			}
			c.Set("shop", sh)
		})
		hook.Mount(api, eps, func(c *gin.Context) int64 { return c.MustGet("shop").(*shop.Shop).ID })

		var created struct {
			Endpoint hook.EndpointJSON
			Message  string
		}
		t.Run("create shows the secret once", func(t *testing.T) {
			w := doAs(t, r, a, http.MethodPost, "/api/v1/webhook-endpoints",
				`{"url": "https://a.example.jp/kessai", "events": ["settlement.captured", "continuation.failed"]}`)
			decode(t, w, http.StatusCreated, &created)
			ep := created.Endpoint
			if !strings.HasPrefix(ep.Secret, hook.SecretPrefix) || len(ep.Secret) < 40 || ep.ID == 0 ||
				len(ep.Events) != 2 || ep.URL != "https://a.example.jp/kessai" {
				t.Fatalf("created %+v", ep)
			}
		})
		t.Run("the list masks it", func(t *testing.T) {
			w := doAs(t, r, a, http.MethodGet, "/api/v1/webhook-endpoints", "")
			var res struct{ Endpoints []hook.EndpointJSON }
			decode(t, w, http.StatusOK, &res)
			if len(res.Endpoints) != 1 {
				t.Fatalf("%d endpoints", len(res.Endpoints))
			}
			got := res.Endpoints[0].Secret
			if got == created.Endpoint.Secret || !strings.HasPrefix(got, "****") || !strings.HasSuffix(created.Endpoint.Secret, got[len(got)-4:]) {
				t.Fatalf("listed secret %q", got)
			}
			if strings.Contains(w.Body.String(), created.Endpoint.Secret) {
				t.Fatal("the plain secret appears in the list")
			}
		})
		t.Run("the secret is sealed at rest", func(t *testing.T) {
			var raw []byte
			if err := s.DB.Table("webhook_endpoints").Select("secret").Where("id = ?", created.Endpoint.ID).Row().Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if len(raw) == 0 || strings.Contains(string(raw), created.Endpoint.Secret) {
				t.Fatalf("stored secret %q", raw)
			}
		})
		t.Run("bad input names the field and changes nothing", func(t *testing.T) {
			for _, tc := range []struct{ body, field string }{
				{`{"url": "ftp://a.example.jp/", "events": ["settlement.captured"]}`, "url"},
				{`{"url": "a.example.jp/hook", "events": ["settlement.captured"]}`, "url"},
				{`{"url": "https://a.example.jp/", "events": []}`, "events"},
				{`{"url": "https://a.example.jp/", "events": ["settlement.captured", "order.created"]}`, "events[1]"},
			} {
				e := wantError(t, doAs(t, r, a, http.MethodPost, "/api/v1/webhook-endpoints", tc.body), http.StatusUnprocessableEntity, tc.field)
				if !strings.Contains(e.Message, tc.field) {
					t.Errorf("message %q does not name %s", e.Message, tc.field)
				}
			}
			w := doAs(t, r, a, http.MethodPost, "/api/v1/webhook-endpoints", `{"url": 5}`)
			decode(t, w, http.StatusBadRequest, nil)
			list, _ := eps.List(context.Background(), a.ID)
			if len(list) != 1 {
				t.Fatalf("%d endpoints after refused requests", len(list))
			}
		})
		path := "/api/v1/webhook-endpoints/" + strconv.FormatInt(created.Endpoint.ID, 10)
		t.Run("another shop cannot see or delete it", func(t *testing.T) {
			wantError(t, doAs(t, r, b, http.MethodDelete, path, ""), http.StatusNotFound, "id")
			wantError(t, doAs(t, r, b, http.MethodGet, path+"/deliveries", ""), http.StatusNotFound, "id")
			var res struct{ Endpoints []hook.EndpointJSON }
			decode(t, doAs(t, r, b, http.MethodGet, "/api/v1/webhook-endpoints", ""), http.StatusOK, &res)
			if len(res.Endpoints) != 0 {
				t.Fatalf("B sees %d endpoints", len(res.Endpoints))
			}
		})
		t.Run("delete, and the log stays readable", func(t *testing.T) {
			decode(t, doAs(t, r, a, http.MethodDelete, path, ""), http.StatusNoContent, nil)
			wantError(t, doAs(t, r, a, http.MethodDelete, path, ""), http.StatusNotFound, "id")
			var res struct{ Deliveries []hook.DeliveryJSON }
			decode(t, doAs(t, r, a, http.MethodGet, path+"/deliveries", ""), http.StatusOK, &res)
			if res.Deliveries == nil {
				t.Fatal("deliveries is null, want []")
			}
			wantError(t, doAs(t, r, a, http.MethodGet, path+"/deliveries?limit=0", ""), http.StatusBadRequest, "limit")
			wantError(t, doAs(t, r, a, http.MethodDelete, "/api/v1/webhook-endpoints/abc", ""), http.StatusNotFound, "id")
		})
	})
}
