package inbound_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/webhooks/inbound"
)

func TestRateLimitPerSource(t *testing.T) {
	t.Parallel()
	// Nothing behind the limit is reached by these bodies: they are not JSON, so the handler
	// answers 400 before it needs a database or a module. What the limit counts is requests.
	e := httpapi.New(slog.New(slog.DiscardHandler)).Engine
	inbound.Mount(e, inbound.Deps{Rate: 0.001, Burst: 5})
	srv := httptest.NewServer(e)
	defer srv.Close()
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
	}
	post := func(c *http.Client) *http.Response {
		t.Helper()
		resp, err := c.Post(srv.URL+"/webhooks/atone", "application/json", strings.NewReader("forged"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	a, b := from("127.0.0.1"), from("127.0.0.2")
	for i := range 5 {
		if resp := post(a); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("request %d from 127.0.0.1: %d, want it served (400)", i+1, resp.StatusCode)
		}
	}
	resp := post(a)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("request 6 from 127.0.0.1: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := post(b); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("first request from 127.0.0.2: %d, want it served (400)", resp.StatusCode)
	}
	// X-Forwarded-For is anyone's to write: it does not make a new source.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/atone", strings.NewReader("forged"))
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	r, err := a.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("with X-Forwarded-For: %d, want 429", r.StatusCode)
	}
}
