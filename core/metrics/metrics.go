// Package metrics owns kessai's Prometheus metrics: HTTP requests by route, adapter calls by
// module, operation and outcome, and checkout conversion by payment method, served at
// GET /metrics.
//
// A Metrics has its own registry, so tests build one each and see only their own counts. The
// daemon uses Default, which the package-level functions (Checkout, AdapterCall) write to, so
// code deep in the checkout flow can count without having a Metrics passed down to it.
package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kessai/kessai/core/httpapi"
)

// Stage is a step of a checkout, for conversion counting.
type Stage string

// Checkout stages. Prepared counts widgets handed to buyers; the others count how those ended.
// Prepared minus the rest is what is still open or was abandoned without a word.
const (
	Prepared  Stage = "prepared"
	Succeeded Stage = "succeeded" // authorized or captured
	NG        Stage = "ng"        // declined by the provider (審査NG) or a settlement error
	Cancelled Stage = "cancelled" // かご落ち: the buyer left the widget
)

var stages = []Stage{Prepared, Succeeded, NG, Cancelled}

// unmatched is the route label of requests no route matched: labelling them by path would let
// a scanner create one series per probed URL.
const unmatched = "unmatched"

// Metrics is a registry with kessai's collectors in it.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	adapter   *prometheus.HistogramVec
	checkouts *prometheus.CounterVec
}

// Default is the daemon's Metrics.
var Default = New()

// New returns a Metrics with its own registry, which also carries the Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kessai", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests served, by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "kessai", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		// A histogram's _count is the call counter; a separate counter would only repeat it.
		adapter: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "kessai", Subsystem: "adapter", Name: "call_duration_seconds",
			Help: "Adapter calls, by module, operation and outcome; _count is the number of calls.",
			// Providers answer in tens of milliseconds to tens of seconds (atone's credit check).
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"module", "op", "outcome"}),
		checkouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kessai", Subsystem: "checkout", Name: "total",
			Help: "Checkouts by payment method and stage (prepared, succeeded, ng, cancelled).",
		}, []string{"method", "stage"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.adapter, m.checkouts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where callers register collectors of their own (outbox depth, module states).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Middleware counts and times every request by its route template (/api/v1/orders/:id), not
// its path, so ids do not multiply the series.
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now() // wall time: the latency metric
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = unmatched
		}
		method := c.Request.Method
		m.requests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
		m.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Mount adds GET /metrics to r. The numbers are not secret but say how much a shop sells: with
// a token (KESSAI_METRICS_TOKEN) the scraper must send `Authorization: Bearer <token>`;
// without one, who may reach /metrics is the network's business (a private listener).
func (m *Metrics) Mount(r gin.IRouter, token string) {
	h := gin.WrapH(m.Handler())
	if token == "" {
		r.GET("/metrics", h)
		return
	}
	r.GET("/metrics", bearer(token), h)
}

// bearer lets through requests that carry the token. Comparing fixed-size digests keeps the
// comparison constant-time whatever the lengths.
func bearer(token string) gin.HandlerFunc {
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		g := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(g[:], want[:]) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="kessai metrics"`)
			httpapi.Fail(c, http.StatusUnauthorized, "unauthorized", "a valid metrics bearer token is required", "")
			return
		}
		c.Next()
	}
}

// AdapterCall records one call to an adapter: module slug ("atone"), operation ("capture"),
// outcome ("processed", "declined", "undefined", …, or "error" when the call itself failed)
// and how long it took.
func (m *Metrics) AdapterCall(module, op, outcome string, d time.Duration) {
	m.adapter.WithLabelValues(module, op, outcome).Observe(d.Seconds())
}

// Checkout counts a checkout reaching stage for a payment method (Welcart's payment method
// name). Every stage of a method is created at its first count, so rates never divide by a
// missing series.
func (m *Metrics) Checkout(method string, stage Stage) {
	for _, s := range stages {
		m.checkouts.WithLabelValues(method, string(s))
	}
	m.checkouts.WithLabelValues(method, string(stage)).Inc()
}

// AdapterCall records an adapter call on Default.
func AdapterCall(module, op, outcome string, d time.Duration) {
	Default.AdapterCall(module, op, outcome, d)
}

// Checkout counts a checkout stage on Default.
func Checkout(method string, stage Stage) { Default.Checkout(method, stage) }
