package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
)

func TestServer(t *testing.T) {
	s := httpapi.New(slog.New(slog.DiscardHandler))
	var ready error
	s.AddReadiness("database", func(context.Context) error { return ready })
	s.Engine.GET("/panic", func(c *gin.Context) { panic("boom") })
	s.Engine.POST("/echo", func(c *gin.Context) {
		b, err := io.ReadAll(c.Request.Body)
		if httpapi.IsBodyTooLarge(err) {
			httpapi.Fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "too large", "")
			return
		}
		c.String(200, "%d", len(b))
	})
	srv := httptest.NewServer(s)
	defer srv.Close()

	get := func(t *testing.T, path string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	t.Run("healthz answers 200 with a request id", func(t *testing.T) {
		resp, _ := get(t, "/healthz")
		if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("readyz follows its checks", func(t *testing.T) {
		if resp, _ := get(t, "/readyz"); resp.StatusCode != 200 {
			t.Fatalf("ready: %d", resp.StatusCode)
		}
		ready = errors.New("2 migrations pending")
		resp, m := get(t, "/readyz")
		if resp.StatusCode != 503 || m["checks"].(map[string]any)["database"] != "2 migrations pending" {
			t.Fatalf("not ready: %d %v", resp.StatusCode, m)
		}
		ready = nil
	})
	t.Run("a panic is a 500 with the error shape", func(t *testing.T) {
		resp, m := get(t, "/panic")
		if resp.StatusCode != 500 || m["error"].(map[string]any)["code"] != "internal" {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
	})
	t.Run("unknown path is a 404 with the error shape", func(t *testing.T) {
		resp, m := get(t, "/nope")
		if resp.StatusCode != 404 || m["error"] == nil {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
	})
	t.Run("bodies over 1 MiB are refused", func(t *testing.T) {
		big := strings.Repeat("x", httpapi.MaxBody+1)
		resp, err := http.Post(srv.URL+"/echo", "text/plain", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		// Without a Content-Length the limit still holds when the body is read.
		req, _ := http.NewRequest("POST", srv.URL+"/echo", io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("chunked status %d", resp.StatusCode)
		}
	})
}

// tokens accepts "good" as the actor "token:good" and fails the check itself for "broken".
type tokens struct{}

func (tokens) AuthenticateAdmin(_ context.Context, token string) (string, error) {
	switch token {
	case "good":
		return "token:good", nil
	case "broken":
		return "", errors.New("database is down")
	}
	return "", fmt.Errorf("%w: unknown token", httpapi.ErrAdminToken)
}

func TestAdminBearer(t *testing.T) {
	s := httpapi.New(slog.New(slog.DiscardHandler))
	s.Engine.GET("/admin", httpapi.AdminBearer(tokens{}), func(c *gin.Context) { c.String(200, httpapi.Actor(c)) })
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, tc := range []struct {
		header string
		code   int
		body   string
	}{
		{"", 401, "a valid admin bearer token is required"},
		{"Basic good", 401, "a valid admin bearer token is required"},
		{"Bearer ", 401, "a valid admin bearer token is required"},
		{"Bearer nope", 401, "invalid admin token: unknown token"},
		{"Bearer broken", 500, `"code":"internal","message":"内部エラーが発生しました。request id `},
		{"Bearer good", 200, "token:good"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%q: %d %s, want %d %q", tc.header, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}
