package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/metrics"
)

// engine is a bare Gin engine in test mode, which neither prints the routes nor warns.
func engine() *gin.Engine {
	gin.SetMode(gin.TestMode)
	return gin.New()
}

func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	r := engine()
	r.Use(m.Middleware())
	r.GET("/api/v1/orders/:id", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{}) })
	r.POST("/api/v1/checkout", func(c *gin.Context) { c.Status(http.StatusUnprocessableEntity) })
	m.Mount(r, "")
	srv := httptest.NewServer(r)
	defer srv.Close()

	get := func(path string) string {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	for _, id := range []string{"1000", "1001", "1002"} {
		get("/api/v1/orders/" + id)
	}
	res, err := http.Post(srv.URL+"/api/v1/checkout", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	get("/wp-admin/install.php")

	m.AdapterCall("atone", "capture", "processed", 120*time.Millisecond)
	m.AdapterCall("atone", "capture", "undefined", 30*time.Second)
	m.Checkout("atone 翌月払い", metrics.Prepared)
	m.Checkout("atone 翌月払い", metrics.Prepared)
	m.Checkout("atone 翌月払い", metrics.Succeeded)
	m.Checkout("atone 翌月払い", metrics.Cancelled)

	body := get("/metrics")
	for _, want := range []string{
		// by route template, so three order ids are one series
		`kessai_http_requests_total{code="200",method="GET",route="/api/v1/orders/:id"} 3`,
		`kessai_http_requests_total{code="422",method="POST",route="/api/v1/checkout"} 1`,
		`kessai_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`kessai_http_request_duration_seconds_count{method="GET",route="/api/v1/orders/:id"} 3`,
		`kessai_adapter_call_duration_seconds_count{module="atone",op="capture",outcome="processed"} 1`,
		`kessai_adapter_call_duration_seconds_count{module="atone",op="capture",outcome="undefined"} 1`,
		`kessai_adapter_call_duration_seconds_bucket{module="atone",op="capture",outcome="undefined",le="30"} 1`,
		`kessai_checkout_total{method="atone 翌月払い",stage="prepared"} 2`,
		`kessai_checkout_total{method="atone 翌月払い",stage="succeeded"} 1`,
		`kessai_checkout_total{method="atone 翌月払い",stage="cancelled"} 1`,
		`kessai_checkout_total{method="atone 翌月払い",stage="ng"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "install.php") {
		t.Error("an unmatched path became a label")
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestDefault(t *testing.T) {
	metrics.Checkout("テスト", metrics.NG)
	metrics.AdapterCall("atone", "reference", "processed", time.Millisecond)
	w := httptest.NewRecorder()
	metrics.Default.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	// Default is shared by the whole process (and by -count=N runs), so only presence counts.
	if !regexp.MustCompile(`kessai_checkout_total\{method="テスト",stage="ng"\} [1-9]`).MatchString(w.Body.String()) {
		t.Fatalf("package-level Checkout did not reach Default")
	}
}

func TestMetricsToken(t *testing.T) {
	m := metrics.New()
	r := engine()
	m.Mount(r, "scrape-s3cret")
	get := func(auth string) (int, string) {
		t.Helper()
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		r.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	for _, auth := range []string{"", "Bearer ", "Bearer scrape-s3cre", "Bearer scrape-s3cretx", "Basic scrape-s3cret", "scrape-s3cret"} {
		if code, body := get(auth); code != http.StatusUnauthorized || strings.Contains(body, "go_goroutines") {
			t.Errorf("Authorization %q: %d", auth, code)
		}
	}
	if code, body := get("Bearer scrape-s3cret"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("with the token: %d", code)
	}
}
