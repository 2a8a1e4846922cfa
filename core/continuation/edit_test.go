package continuation_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// subscribe buys a continuation item (毎月, 課金日 = 受注日) of price + 500 yen shipping through
// the shop API and the sandbox widget, and returns the order and the contract its first
// payment created.
func subscribe(t *testing.T, h *daemontest.Harness, number string, price int64) (int64, *continuation.Detail) {
	t.Helper()
	o := daemontest.Order(number, price, 1, h.Method)
	o["cart"].([]any)[0].(map[string]any)["continuation"] = map[string]any{"frequency": 1, "chargingday": 99, "interval": 12}
	r := h.Shop(t, "POST", "/api/v1/orders", o)
	if r.Status != http.StatusCreated {
		t.Fatalf("order %s: %d %s", number, r.Status, r.Raw)
	}
	id := int64(r.Body["id"].(float64))
	w := h.CompleteWidget(t, r.Body["config"].(map[string]any), sandbox.OKMemberPhone)
	if r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w); r.Status != http.StatusOK {
		t.Fatalf("widget result of %s: %d %s", number, r.Status, r.Raw)
	}
	d, err := h.D.Continuations.ForOrder(context.Background(), 0, id)
	if err != nil {
		t.Fatalf("contract of %s: %v", number, err)
	}
	return id, d
}

// TestContinuationOrderEditChangesFutureCharges: on MariaDB, through the daemon, the real
// kessai-atone binary and the sandbox. 受注編集 (PATCH /api/v1/orders/{id}) raises a
// continuation order from 5,000円 to 6,000円: atone's transaction is replaced (取引修正) and the
// contract's 決済金額 follows, recorded in its history with the 次回課金日 it applies from. The
// next run charges 6,000円, and the period charged before the edit, still 仮売上, is captured
// at its own 5,000円.
func TestContinuationOrderEditChangesFutureCharges(t *testing.T) {
	h := daemontest.Start(t)
	bg := context.Background()
	sv := h.D.Continuations
	id, d := subscribe(t, h, "9001", 4500)
	if d.Price != 5000 {
		t.Fatalf("決済金額 %d", d.Price)
	}
	first := d.NextCharging
	if rep, err := sv.Runner().Run(bg, first); err != nil || rep.Charged != 1 {
		t.Fatalf("run %s: %+v %v", first, rep, err)
	}
	past := continuationOf(t, sv, d.ID).Charges[0]
	if past.Status != settlement.Authorized || past.Amount != 5000 {
		t.Fatalf("the first charge %+v", past)
	}
	atoneAmount := func(providerID string) (int64, bool) {
		for _, tr := range h.Sandbox.Transactions(sandbox.DefaultShop.PublicKey) {
			if tr.ID == providerID {
				return tr.Amount, tr.SalesSettledDatetime != nil
			}
		}
		t.Fatalf("atone holds no %s", providerID)
		return 0, false
	}

	edit := `{"cart": [{"sku": "item-012", "item_name": "商品012", "price": 5500, "quantity": 1,
	    "continuation": {"frequency": 1, "chargingday": 99, "interval": 12}}],
	  "order": {"total_items_price": 5500, "discount": 0, "shipping_charge": 500, "cod_fee": 0, "tax": 0, "usedpoint": 0, "total_full_price": 6000}}`
	r := h.Shop(t, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), edit)
	if r.Status != http.StatusOK || r.Body["provider_updated"] != true {
		t.Fatalf("受注編集: %d %s", r.Status, r.Raw)
	}

	t.Run("the contract's 決済金額 follows, from the next 次回課金日, in its history", func(t *testing.T) {
		now := continuationOf(t, sv, d.ID)
		if now.Price != 6000 || now.OrderPrice != 5000 {
			t.Fatalf("決済金額 %d, 受注時金額 %d", now.Price, now.OrderPrice)
		}
		ps, err := sv.PriceChanges(bg, d.ID)
		if err != nil || len(ps) != 1 || ps[0].From != 5000 || ps[0].To != 6000 || ps[0].Via != "受注編集" ||
			ps[0].NextCharging != now.NextCharging || !strings.HasPrefix(ps[0].Actor, "shop:") {
			t.Fatalf("price changes %+v %v", ps, err)
		}
		p, _ := audit.List(bg, h.D.Store.DB, 1, 20)
		found := false
		for _, e := range p.Entries {
			found = found || (e.Action == "continuation.price" && e.Target == fmt.Sprintf("continuation:%d", d.ID))
		}
		if !found {
			t.Fatalf("audit %+v", p.Entries)
		}
		if ch := now.Charges[0]; ch.Amount != 5000 {
			t.Fatalf("the past charge became %d", ch.Amount)
		}
	})
	t.Run("the past 仮売上 charge is captured at its own amount", func(t *testing.T) {
		res, err := sv.Capture(bg, d.ID, past.ID, "admin:test")
		if err != nil || res.Settlement.Status != settlement.Captured || res.Settlement.Amount != 5000 {
			t.Fatalf("売上計上: %+v %v", res, err)
		}
		if amount, settled := atoneAmount(past.ProviderID); amount != 5000 || !settled {
			t.Fatalf("atone: %d settled %v", amount, settled)
		}
	})
	t.Run("the next run charges the new amount", func(t *testing.T) {
		next := continuationOf(t, sv, d.ID).NextCharging
		if rep, err := sv.Runner().Run(bg, next); err != nil || rep.Charged != 1 {
			t.Fatalf("run %s: %+v %v", next, rep, err)
		}
		ch := continuationOf(t, sv, d.ID).Charges[0]
		if ch.Period != next || ch.Amount != 6000 || ch.Status != settlement.Authorized {
			t.Fatalf("charge %+v", ch)
		}
		if amount, _ := atoneAmount(ch.ProviderID); amount != 6000 {
			t.Fatalf("atone charged %d", amount)
		}
	})
	t.Run("when atone is not told (取消済み), the 決済金額 follows all the same", func(t *testing.T) {
		if r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/cancel", id), nil); r.Status != http.StatusOK {
			t.Fatalf("取消: %d %s", r.Status, r.Raw)
		}
		r := h.Shop(t, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), strings.ReplaceAll(strings.ReplaceAll(edit, "5500", "6500"), "6000", "7000"))
		if r.Status != http.StatusOK || r.Body["provider_updated"] != false || r.Body["notice"] == "" {
			t.Fatalf("受注編集: %d %s", r.Status, r.Raw)
		}
		if now := continuationOf(t, sv, d.ID); now.Price != 7000 {
			t.Fatalf("決済金額 %d", now.Price)
		}
	})
}

func continuationOf(t *testing.T, sv *continuation.Service, id int64) *continuation.Detail {
	t.Helper()
	d, err := sv.Get(context.Background(), 0, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
