package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestUnreachableDatabaseIsNotABadKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		shops := shop.New(st.DB)
		clock := clockwork.NewFakeClock()
		shops.Clock = clock
		_, key, err := shops.Create(context.Background(), "ショップ")
		if err != nil {
			t.Fatal(err)
		}
		r := gin.New()
		r.GET("/api/v1/payment-methods", httpapi.ShopAuth(shops), func(c *gin.Context) { c.Status(http.StatusNoContent) })
		get := func(key string) (int, string) {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/payment-methods", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			r.ServeHTTP(w, req)
			var body struct {
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			return w.Code, body.Error.Message
		}
		if code, _ := get(key); code != http.StatusNoContent {
			t.Fatalf("the good key with the database up: %d", code)
		}
		sqlDB, err := st.DB.DB()
		if err != nil {
			t.Fatal(err)
		}
		sqlDB.Close()
		clock.Advance(shop.CacheTTL) // the good key was checked too long ago to be trusted
		t.Run("a good key while the database is down is 503, not 401", func(t *testing.T) {
			code, msg := get(key)
			if code != http.StatusServiceUnavailable || !strings.Contains(msg, "利用できません") {
				t.Fatalf("%d %q", code, msg)
			}
		})
		t.Run("a key that could not be checked is not called wrong either", func(t *testing.T) {
			if code, msg := get(shop.KeyPrefix + "unknown"); code != http.StatusServiceUnavailable || strings.Contains(msg, "APIキー") {
				t.Fatalf("%d %q", code, msg)
			}
		})
		t.Run("a key that is not a key is still 401", func(t *testing.T) {
			if code, _ := get("nope"); code != http.StatusUnauthorized {
				t.Fatalf("%d", code)
			}
		})
	})
}
