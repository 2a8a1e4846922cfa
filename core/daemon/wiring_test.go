package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/webhooks/hook"
)

// TestPurchaseReachesTheShopWebhookAndStartsTheContract follows one recurring purchase
// through the assembled daemon: the shop registers a webhook endpoint, buys a continuation item
// with atone, receives settlement.authorized signed with its secret, finds the contract, and the
// run charges the next period.
func TestPurchaseReachesTheShopWebhookAndStartsTheContract(t *testing.T) {
	var mu sync.Mutex
	var got []hook.Event
	var secret string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := hook.Verify(secret, r.Header.Get(hook.HeaderSignature), body, 5*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(400)
			return
		}
		var e hook.Event
		_ = json.Unmarshal(body, &e)
		got = append(got, e)
	}))
	defer recv.Close()

	h := daemontest.Start(t)
	r := h.Shop(t, "POST", "/api/v1/webhook-endpoints", map[string]any{"url": recv.URL, "events": []string{"*"}})
	if r.Status != 201 {
		t.Fatalf("register endpoint: %d %s", r.Status, r.Raw)
	}
	mu.Lock()
	secret = fmt.Sprint(r.Body["endpoint"].(map[string]any)["secret"])
	mu.Unlock()

	order := daemontest.Order("c1", 1000, 1, h.Method)
	order["cart"].([]any)[0].(map[string]any)["continuation"] = map[string]any{"frequency": 1, "chargingday": 99, "interval": 12}
	r = h.Shop(t, "POST", "/api/v1/orders", order)
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id := int64(r.Body["id"].(float64))
	w := h.CompleteWidget(t, r.Body["config"].(map[string]any), sandbox.OKMemberPhone)
	r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	if r.Status != 200 {
		t.Fatalf("result: %d %s", r.Status, r.Raw)
	}

	t.Run("the shop's endpoint receives settlement.authorized, signed", func(t *testing.T) {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := h.D.Outbox.DispatchOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 || got[0].Type != hook.SettlementAuthorized {
			t.Fatalf("events %+v", got)
		}
	})

	var next string
	t.Run("the first payment created the contract", func(t *testing.T) {
		r := h.Shop(t, "GET", fmt.Sprintf("/api/v1/orders/%d/continuation", id), nil)
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		c := r.Body
		if v, ok := r.Body["continuation"].(map[string]any); ok {
			c = v
		}
		next = fmt.Sprint(c["next_charging"])
		if c["status"] == nil || next == "" || next == "<nil>" {
			t.Fatalf("contract %s", r.Raw)
		}
	})

	t.Run("the run on the next charging day charges it", func(t *testing.T) {
		day, err := continuation.ParseDate(next)
		if err != nil {
			t.Fatalf("next_charging %q: %v", next, err)
		}
		rep, err := h.D.Continuations.Runner().Run(context.Background(), day)
		if err != nil || rep.Charged != 1 {
			t.Fatalf("run: %+v %v", rep, err)
		}
		r := h.Shop(t, "GET", fmt.Sprintf("/api/v1/orders/%d/continuation", id), nil)
		if r.Status != 200 || len(fmt.Sprint(r.Body)) == 0 {
			t.Fatal(r.Raw)
		}
		t.Logf("contract after the run: %s", r.Raw)
	})

	t.Run("the shop hears continuation.charged, not a second settlement.authorized", func(t *testing.T) {
		count := func(typ hook.Type) int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, e := range got {
				if e.Type == typ {
					n++
				}
			}
			return n
		}
		deadline := time.Now().Add(20 * time.Second)
		for count(hook.ContinuationCharged) == 0 && time.Now().Before(deadline) {
			if _, err := h.D.Outbox.DispatchOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := h.D.Outbox.DispatchOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, a := count(hook.ContinuationCharged), count(hook.SettlementAuthorized); n != 1 || a != 1 {
			t.Fatalf("%d continuation.charged, %d settlement.authorized", n, a)
		}
	})

	t.Run("/metrics counts the charge as an adapter call", func(t *testing.T) {
		r := h.Do(t, "", "GET", "/metrics", nil)
		want := `kessai_adapter_call_duration_seconds_count{module="atone",op="charge",outcome="processed"}`
		if r.Status != 200 || !strings.Contains(string(r.Raw), want) {
			t.Fatalf("%d: no %s in\n%s", r.Status, want, r.Raw)
		}
	})
}

// TestOneClock: the daemon's clock is the time of what it writes, so a test that advances it
// moves the whole daemon at once.
func TestOneClock(t *testing.T) {
	start := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond)
	clock := clockwork.NewFakeClockAt(start)
	h := daemontest.Start(t, daemontest.Clock(clock))
	clock.Advance(time.Hour)
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("clock1", 1000, 1, h.Method))
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	var stamps struct{ OrderDate, CreatedAt time.Time }
	if err := h.D.Store.DB.Table("orders").Select("order_date, created_at").Where("id = ?", int64(r.Body["id"].(float64))).Scan(&stamps).Error; err != nil {
		t.Fatal(err)
	}
	want := start.Add(time.Hour)
	if !stamps.OrderDate.Equal(want) || !stamps.CreatedAt.Equal(want) {
		t.Errorf("order dated %s, created %s; want the daemon's clock's %s", stamps.OrderDate, stamps.CreatedAt, want)
	}
	if got := h.D.Settlements.Clock.Now(); !got.Equal(want) {
		t.Errorf("the settlement engine says %s, want %s", got, want)
	}
}
