package shopapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// countingFunnel records what the shop API counts.
type countingFunnel struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *countingFunnel) Checkout(method, stage string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n[stage]++
}

func (f *countingFunnel) count(stage string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[stage]
}

func TestReplayedWidgetResultCountsOnce(t *testing.T) {
	funnel := &countingFunnel{n: map[string]int{}}
	h := daemontest.Start(t, daemontest.Before(func(h *daemontest.Harness) { h.D.ShopAPI.Funnel = funnel }))
	result := func(id int64, w map[string]any) {
		t.Helper()
		expect(t, h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w), http.StatusOK)
	}
	t.Run("the same result posted twice is one success", func(t *testing.T) {
		id, w := buy(t, h, daemontest.Order("twice", 1000, 1, h.Method), sandbox.OKMemberPhone)
		result(id, w)
		result(id, w)
		if n := funnel.count("succeeded"); n != 1 {
			t.Fatalf("succeeded counted %d times", n)
		}
	})
	t.Run("a result after the webhook confirmed is not counted again", func(t *testing.T) {
		id, w := buy(t, h, daemontest.Order("hooked", 1000, 1, h.Method), sandbox.OKMemberPhone)
		s, err := h.D.Settlements.ForOrder(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		deliverWebhook(t, h, s.Attempt)
		before := funnel.count("succeeded")
		result(id, w)
		result(id, w)
		if n := funnel.count("succeeded") - before; n != 0 {
			t.Fatalf("results after the webhook counted %d successes", n)
		}
	})
	t.Run("a declined result posted twice is one NG", func(t *testing.T) {
		id, w := buy(t, h, daemontest.Order("ng", 60000, 1, h.Method), sandbox.OKMemberPhone)
		result(id, w)
		result(id, w)
		if n := funnel.count("ng"); n != 1 {
			t.Fatalf("ng counted %d times", n)
		}
	})
}
