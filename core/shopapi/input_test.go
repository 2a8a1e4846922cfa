package shopapi_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// countCalls starts a daemon that counts every call kessai makes to a payment module.
func countCalls(t *testing.T, opts ...daemontest.Option) (*daemontest.Harness, *atomic.Int64) {
	var calls atomic.Int64
	opts = append(opts, daemontest.Before(func(h *daemontest.Harness) {
		next := h.D.Settlements.OnCall
		h.D.Settlements.OnCall = func(module, op, outcome string, took time.Duration) {
			calls.Add(1)
			if next != nil {
				next(module, op, outcome, took)
			}
		}
	}))
	return daemontest.Start(t, opts...), &calls
}

func rows(t *testing.T, h *daemontest.Harness, table string) int64 {
	t.Helper()
	var n int64
	if err := h.D.Store.DB.Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRefusedInputOnMySQL(t *testing.T) {
	h, calls := countCalls(t)
	cases := []struct {
		name, key, value, field string
	}{
		{"pref of 40 characters", "pref", strings.Repeat("都", 40), "customer.pref"},
		{"fax of 200", "fax", strings.Repeat("0", 200), "customer.fax"},
		{"tel of 40", "tel", strings.Repeat("0", 40), "customer.tel"},
	}
	for i, tc := range cases {
		t.Run(tc.name+" is a 422 naming the field", func(t *testing.T) {
			o := daemontest.Order(fmt.Sprintf("long-%d", i), 1000, 1, h.Method)
			o["customer"].(map[string]any)[tc.key] = tc.value
			r := h.Shop(t, "POST", "/api/v1/orders", o)
			expect(t, r, http.StatusUnprocessableEntity)
			e := r.Body["error"].(map[string]any)
			if e["field"] != tc.field || e["code"] != "too_long" || !strings.Contains(fmt.Sprint(e["message"]), "文字以内") {
				t.Fatalf("error %v", e)
			}
			if _, ok := r.Body["config"]; ok {
				t.Fatalf("a widget config was prepared: %s", r.Raw)
			}
		})
	}
	t.Run("a CR/LF in a name is a 422 naming the field", func(t *testing.T) {
		o := daemontest.Order("crlf", 1000, 1, h.Method)
		o["customer"].(map[string]any)["name1"] = "注文\r\nBcc: someone@example.com"
		r := h.Shop(t, "POST", "/api/v1/orders", o)
		expect(t, r, http.StatusUnprocessableEntity)
		if e := r.Body["error"].(map[string]any); e["field"] != "customer.name1" || e["code"] != "invalid_character" {
			t.Fatalf("error %v", e)
		}
	})
	t.Run("totals that add up only once int64 wraps are a 422, also for a bank transfer", func(t *testing.T) {
		if _, err := h.D.Methods.Add(context.Background(), paymethod.Method{Name: "銀行振込", Settlement: "transferAdvance"}, "test"); err != nil {
			t.Fatal(err)
		}
		for _, method := range []string{"銀行振込", h.Method} {
			o := daemontest.Order("wrap-"+method, 0, 1, method)
			totals := o["order"].(map[string]any)
			totals["shipping_charge"], totals["usedpoint"] = 0, 1
			totals["discount"], totals["total_full_price"] = int64(math.MinInt64), int64(math.MaxInt64)
			r := h.Shop(t, "POST", "/api/v1/orders", o)
			expect(t, r, http.StatusUnprocessableEntity)
			if e := r.Body["error"].(map[string]any); e["field"] != "order.discount" || e["code"] != "out_of_range" {
				t.Fatalf("error %v", e)
			}
		}
	})
	t.Run("nothing was written and atone was never called", func(t *testing.T) {
		if n := rows(t, h, "orders"); n != 0 {
			t.Fatalf("%d orders written", n)
		}
		if n := rows(t, h, "settlements"); n != 0 {
			t.Fatalf("%d settlements written", n)
		}
		if n := calls.Load(); n != 0 {
			t.Fatalf("%d calls to the atone module", n)
		}
		if txs := h.Sandbox.Transactions(sandbox.DefaultShop.PublicKey); len(txs) != 0 {
			t.Fatalf("transactions at atone: %v", txs)
		}
	})
	t.Run("what fits the column is stored as sent", func(t *testing.T) {
		o := daemontest.Order("fits", 1000, 1, h.Method)
		o["customer"].(map[string]any)["pref"] = strings.Repeat("都", 32)
		o["customer"].(map[string]any)["fax"] = strings.Repeat("0", 32)
		r := h.Shop(t, "POST", "/api/v1/orders", o)
		expect(t, r, http.StatusCreated)
		if calls.Load() == 0 {
			t.Fatal("the counter saw no call to atone for an accepted order")
		}
		got, err := h.D.Orders.Get(context.Background(), h.ShopID, int64(r.Body["id"].(float64)))
		if err != nil || got.Pref != strings.Repeat("都", 32) || got.Fax != strings.Repeat("0", 32) {
			t.Fatalf("%v %+v", err, got)
		}
	})
	t.Run("an edit is refused the same way, before atone hears of it", func(t *testing.T) {
		r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("edit-long", 1000, 1, h.Method))
		expect(t, r, http.StatusCreated)
		id := int64(r.Body["id"].(float64))
		before, _ := h.D.Orders.Get(context.Background(), h.ShopID, id)
		n := calls.Load()
		for _, tc := range cases {
			c := order.CustomerInput{Email: before.Email, Address: before.Customer()}
			switch tc.key {
			case "pref":
				c.Pref = tc.value
			case "fax":
				c.Fax = tc.value
			case "tel":
				c.Tel = tc.value
			}
			r := h.Shop(t, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), map[string]any{"customer": c})
			expect(t, r, http.StatusUnprocessableEntity)
			if e := r.Body["error"].(map[string]any); e["field"] != tc.field {
				t.Fatalf("error %v", e)
			}
		}
		after, _ := h.D.Orders.Get(context.Background(), h.ShopID, id)
		if after.Customer() != before.Customer() || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("the order changed: %+v", after)
		}
		if calls.Load() != n {
			t.Fatalf("%d calls to atone for refused edits", calls.Load()-n)
		}
	})
}

func TestOrderPaging(t *testing.T) {
	h := daemontest.Start(t, daemontest.SQLite())
	for i := range 3 {
		expect(t, h.Shop(t, "POST", "/api/v1/orders", daemontest.Order(fmt.Sprintf("p%d", i), 1000, 1, h.Method)), http.StatusCreated)
	}
	list := func(query string) daemontest.Response { return h.Shop(t, "GET", "/api/v1/orders?"+query, nil) }
	t.Run("pages up to the last", func(t *testing.T) {
		for _, tc := range []struct {
			query  string
			orders int
			page   float64
		}{
			{"", 3, 1},
			{"per_page=2", 2, 1},
			{"per_page=2&page=2", 1, 2},
			{"per_page=2&page=02", 1, 2},
		} {
			r := list(tc.query)
			expect(t, r, http.StatusOK)
			if len(r.Body["orders"].([]any)) != tc.orders || r.Body["total"].(float64) != 3 || r.Body["page"].(float64) != tc.page {
				t.Errorf("%s: %s", tc.query, r.Raw)
			}
		}
	})
	t.Run("a page past the last is empty, with the total, never page 1", func(t *testing.T) {
		for _, query := range []string{"per_page=2&page=3", "page=2", "per_page=200&page=2147483647"} {
			r := list(query)
			expect(t, r, http.StatusOK)
			if o, ok := r.Body["orders"].([]any); !ok || len(o) != 0 || r.Body["total"].(float64) != 3 {
				t.Errorf("%s: %s", query, r.Raw)
			}
		}
	})
	t.Run("a page or per_page that is not one is a 400 naming it", func(t *testing.T) {
		for _, tc := range []struct{ query, field string }{
			{"page=2147483648", "page"},
			{"page=99999999999999999999", "page"},
			{"page=0", "page"},
			{"page=-1", "page"},
			{"page=%2B2", "page"},
			{"page=1.5", "page"},
			{"page=abc", "page"},
			{"page=", "page"},
			{"per_page=0", "per_page"},
			{"per_page=201", "per_page"},
			{"per_page=99999999999999999999", "per_page"},
			{"per_page=ten", "per_page"},
		} {
			r := list(tc.query)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d %s", tc.query, r.Status, r.Raw)
				continue
			}
			if e := r.Body["error"].(map[string]any); e["field"] != tc.field || e["code"] != "invalid" {
				t.Errorf("%s: %v", tc.query, e)
			}
		}
	})
}
