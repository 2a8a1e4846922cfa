package inbound

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(2, 3, func() time.Time { return now })
	take := func(ip string) bool {
		ok, _ := l.take(netip.MustParseAddr(ip))
		return ok
	}
	t.Run("a burst, then the rate", func(t *testing.T) {
		for i := range 3 {
			if !take("192.0.2.1") {
				t.Fatalf("request %d refused within the burst", i+1)
			}
		}
		ok, wait := l.take(netip.MustParseAddr("192.0.2.1"))
		if ok || wait != 500*time.Millisecond {
			t.Fatalf("over the burst: %v, wait %v; want refused, 500ms", ok, wait)
		}
		now = now.Add(500 * time.Millisecond)
		if !take("192.0.2.1") || take("192.0.2.1") {
			t.Fatal("half a second at 2/s is one request")
		}
	})
	t.Run("sources are apart; an IPv4-mapped address is its IPv4 source", func(t *testing.T) {
		if !take("192.0.2.2") {
			t.Fatal("another source was refused")
		}
		if take("::ffff:192.0.2.1") {
			t.Fatal("the mapped form of a limited source got a bucket of its own")
		}
	})
	t.Run("an IPv6 /64 is one source", func(t *testing.T) {
		for i := range 3 {
			if !take("2001:db8:1:2::" + string(rune('a'+i))) {
				t.Fatalf("request %d refused within the burst", i+1)
			}
		}
		if take("2001:db8:1:2:ffff::1") {
			t.Fatal("a new address in the same /64 got a new bucket")
		}
		if !take("2001:db8:1:3::1") {
			t.Fatal("the next /64 was refused")
		}
	})
	t.Run("full buckets are forgotten", func(t *testing.T) {
		now = now.Add(2 * time.Minute)
		take("192.0.2.9")
		if len(l.buckets) != 1 {
			t.Fatalf("%d buckets kept after two idle minutes, want only the new one", len(l.buckets))
		}
	})
}
