package checkout_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/checkout"
)

func TestServeKessaiJS(t *testing.T) {
	r := gin.New()
	checkout.Mount(r)
	get := func(method string, header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, checkout.Path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	var etag string
	t.Run("a script, cached five minutes and revalidated by its ETag", func(t *testing.T) {
		w := get(http.MethodGet)
		h := w.Header()
		if w.Code != http.StatusOK || h.Get("Content-Type") != "text/javascript; charset=utf-8" ||
			h.Get("Cache-Control") != "public, max-age=300" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%d %v", w.Code, h)
		}
		if !strings.Contains(w.Body.String(), "window.Kessai = {") {
			t.Fatal("the body is not kessai.js")
		}
		etag = h.Get("ETag")
		if len(etag) < 10 || !strings.HasPrefix(etag, `"`) {
			t.Fatalf("ETag %q", etag)
		}
	})
	t.Run("a page holding this version gets 304", func(t *testing.T) {
		if w := get(http.MethodGet, "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Fatalf("%d, %d bytes", w.Code, w.Body.Len())
		}
	})
	t.Run("pages on other origins may load it with crossorigin and integrity", func(t *testing.T) {
		h := get(http.MethodGet, "Origin", "https://shop.example.jp").Header()
		if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
			t.Fatalf("%v", h)
		}
	})
	t.Run("HEAD answers the headers only", func(t *testing.T) {
		if w := get(http.MethodHead); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
			t.Fatalf("%d, %d bytes, %v", w.Code, w.Body.Len(), w.Header())
		}
	})
}
