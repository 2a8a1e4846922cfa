package admin

import (
	"sync"
	"time"
)

// addressLimit is a token bucket per source address for sign-in attempts, in memory and so per
// replica: burst attempts at once, then one every `every`. The per-account lockout stops
// guessing at one login; this stops one address from spraying guesses over many.
type addressLimit struct {
	burst float64
	every time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// limitSweepAt is the number of addresses above which full buckets are forgotten: a full bucket
// is the same as none.
const limitSweepAt = 4096

func newAddressLimit(burst int, every time.Duration) *addressLimit {
	return &addressLimit{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

// fill brings b up to now; the caller holds mu.
func (l *addressLimit) fill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
		b.at = now
	}
}

// take spends one attempt of addr; when none is left it returns false and how long until one is.
func (l *addressLimit) take(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= limitSweepAt {
			for a, x := range l.buckets {
				if l.fill(x, now); x.tokens >= l.burst {
					delete(l.buckets, a)
				}
			}
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	l.fill(b, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return true, 0
}

// give returns an attempt to addr: a successful sign-in costs nothing.
func (l *addressLimit) give(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[addr]; b != nil {
		b.tokens = min(l.burst, b.tokens+1)
	}
}
