package inbound

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
)

// Defaults of Deps.Rate and Deps.Burst: far above what one provider sends for one shop, far
// below what makes forged notifications a cost (each distinct body is a row and a provider
// call).
const (
	DefaultRate  = 10  // notifications a second, per source
	DefaultBurst = 100 // notifications at once, per source
)

// maxSources bounds the limiter's memory: past it, new sources share one bucket until idle
// ones are swept, so a flood from many addresses slows itself rather than growing the map.
const maxSources = 100_000

// limiter is a token bucket per source address. An IPv6 source is its /64, the block one
// host is usually given, so a single host cannot take a fresh bucket per address.
type limiter struct {
	rate  float64 // tokens a second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was counted
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[netip.Addr]*bucket{}}
}

// overflow is the bucket shared by new sources while the map is full.
var overflow = netip.IPv6Unspecified()

// take spends one token of src's bucket. When there is none it reports how long until there
// is one.
func (l *limiter) take(src netip.Addr) (bool, time.Duration) {
	src = src.Unmap()
	if src.Is6() {
		p, _ := src.Prefix(64)
		src = p.Addr()
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[src]
	if b == nil {
		if len(l.buckets) >= maxSources {
			src = overflow
			b = l.buckets[src]
		}
		if b == nil {
			b = &bucket{tokens: l.burst, at: now}
			l.buckets[src] = b
		}
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets buckets that have filled up again, at most once a minute: a full bucket is
// the same as none.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// handler answers 429 to a source over its limit. The source is the TCP peer: the engine
// believes X-Forwarded-For from any peer, so a forger could name a new source with every
// request. Behind a reverse proxy every notification shares the proxy's bucket, which the
// defaults leave room for.
func (l *limiter) handler(c *gin.Context) {
	src, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		src = overflow
	}
	ok, wait := l.take(src)
	if ok {
		c.Next()
		return
	}
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	httpapi.Fail(c, http.StatusTooManyRequests, "rate_limited", "too many notifications from this address; retry later", "")
}
