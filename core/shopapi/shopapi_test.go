package shopapi_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// welcartOrder is the order shape of the shop API exactly as the issue gives it: it must be
// accepted as it is.
const welcartOrder = `{
  "order_number": "1001",
  "member_id": 1000,
  "customer": {"mailaddress1": "taro@example.jp", "name1": "注文", "name2": "太郎", "name3": "ちゅうもん", "name4": "たろう",
               "zipcode": "123-4567", "pref": "東京都", "address1": "中央区", "address2": "銀座1-10-6", "address3": "", "tel": "090-0000-0001"},
  "delivery": {"name1": "注文", "name2": "太郎", "zipcode": "123-4567", "pref": "東京都", "address1": "中央区", "address2": "銀座1-10-6", "tel": "090-0000-0001"},
  "cart": [{"sku": "item-012", "item_name": "商品012", "price": 1500, "quantity": 1}],
  "order": {"total_items_price": 1500, "discount": 0, "shipping_charge": 500, "cod_fee": 0, "tax": 0, "usedpoint": 0,
            "total_full_price": 2000, "payment_name": "後払い（atone）"}
}`

func settlementOf(t *testing.T, r daemontest.Response) map[string]any {
	t.Helper()
	s, ok := r.Body["settlement"].(map[string]any)
	if !ok {
		t.Fatalf("no settlement in %d %s", r.Status, r.Raw)
	}
	return s
}

func expect(t *testing.T, r daemontest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
}

func errCode(r daemontest.Response) string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		return fmt.Sprint(e["code"])
	}
	return ""
}

// buy creates an order and completes the widget as phone; it returns the order id and the
// widget result to post.
func buy(t *testing.T, h *daemontest.Harness, body any, phone string) (int64, map[string]any) {
	t.Helper()
	r := h.Shop(t, "POST", "/api/v1/orders", body)
	expect(t, r, http.StatusCreated)
	cfg, ok := r.Body["config"].(map[string]any)
	if !ok || cfg["pub_key"] == "" {
		t.Fatalf("no widget config: %s", r.Raw)
	}
	return int64(r.Body["id"].(float64)), h.CompleteWidget(t, cfg, phone)
}

func TestAtonePurchaseOnMariaDB(t *testing.T) {
	h := daemontest.Start(t)
	var id int64
	var widget map[string]any
	t.Run("the Welcart order is accepted as it is, with the widget config", func(t *testing.T) {
		r := h.Shop(t, "POST", "/api/v1/orders", welcartOrder)
		expect(t, r, http.StatusCreated)
		id = int64(r.Body["id"].(float64))
		if id < 1000 {
			t.Fatalf("order id %d", id)
		}
		cfg := r.Body["config"].(map[string]any)
		pay := cfg["payment"].(map[string]any)
		if cfg["pub_key"] != sandbox.DefaultShop.PublicKey || pay["checksum"] == "" || pay["amount"].(float64) != 2000 {
			t.Fatalf("config %v", cfg)
		}
		if !strings.HasSuffix(fmt.Sprint(cfg["script_url"]), "/v1/atone.js") {
			t.Fatalf("script url %v", cfg["script_url"])
		}
		if settlementOf(t, r)["status"] != "pending" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("settlement %v, cache %q", r.Body["settlement"], r.Header.Get("Cache-Control"))
		}
		widget = h.CompleteWidget(t, cfg, sandbox.OKMemberPhone)
	})
	path := func(op string) string { return fmt.Sprintf("/api/v1/orders/%d%s", id, op) }
	var firstTx string
	t.Run("the widget result becomes 仮売上 after the adapter confirms it", func(t *testing.T) {
		r := h.Shop(t, "POST", path("/settlement/result"), widget)
		expect(t, r, http.StatusOK)
		s := settlementOf(t, r)
		firstTx = fmt.Sprint(s["wc_trans_id"])
		if s["status_label"] != "仮売上" || !strings.HasPrefix(firstTx, "tr_") {
			t.Fatalf("settlement %v", s)
		}
	})
	t.Run("posting the result again changes nothing", func(t *testing.T) {
		r := h.Shop(t, "POST", path("/settlement/result"), widget)
		expect(t, r, http.StatusOK)
		if settlementOf(t, r)["status_label"] != "仮売上" {
			t.Fatal(r.Raw)
		}
	})
	t.Run("another shop's key gets 404", func(t *testing.T) {
		_, key, _ := h.D.Shops.Create(context.Background(), "別のショップ")
		for _, p := range []string{"", "/settlement/capture", "/settlement/cancel", "/settlement/reference"} {
			method := "POST"
			if p == "" {
				method = "GET"
			}
			r := h.Do(t, key, method, path(p), nil)
			expect(t, r, http.StatusNotFound)
		}
		expect(t, h.Do(t, key, "PATCH", path(""), `{"order": {}}`), http.StatusNotFound)
	})
	t.Run("売上計上", func(t *testing.T) {
		r := h.Shop(t, "POST", path("/settlement/capture"), nil)
		expect(t, r, http.StatusOK)
		if s := settlementOf(t, r); s["status_label"] != "売上計上" || s["captured_at"] == nil {
			t.Fatalf("%v", s)
		}
	})
	t.Run("a second 売上計上 is refused with 409", func(t *testing.T) {
		r := h.Shop(t, "POST", path("/settlement/capture"), nil)
		expect(t, r, http.StatusConflict)
		if !strings.Contains(fmt.Sprint(r.Body["error"]), "仮売上") {
			t.Fatalf("message %s", r.Raw)
		}
	})
	t.Run("参照", func(t *testing.T) {
		r := h.Shop(t, "POST", path("/settlement/reference"), nil)
		expect(t, r, http.StatusOK)
		if ref := r.Body["reference"].(map[string]any); ref["state"] != "captured" || ref["amount"].(float64) != 2000 {
			t.Fatalf("reference %v", ref)
		}
	})
	t.Run("an amount edit becomes a 取引修正", func(t *testing.T) {
		edit := `{"cart": [{"sku": "item-012", "item_name": "商品012", "price": 1500, "quantity": 2}],
		          "order": {"total_items_price": 3000, "discount": 0, "shipping_charge": 500, "cod_fee": 0, "tax": 0, "usedpoint": 0, "total_full_price": 3500}}`
		r := h.Shop(t, "PATCH", path(""), edit)
		expect(t, r, http.StatusOK)
		s := settlementOf(t, r)
		if r.Body["provider_updated"] != true || s["amount"].(float64) != 3500 || s["wc_trans_id"] == firstTx || s["status_label"] != "売上計上" {
			t.Fatalf("modify: %s", r.Raw)
		}
		old, ok := h.Sandbox.Transaction(sandbox.DefaultShop.PublicKey, firstTx)
		if !ok || !old.Cancelled() {
			t.Fatalf("the old transaction is not cancelled at atone: %+v", old)
		}
	})
	t.Run("取消", func(t *testing.T) {
		r := h.Shop(t, "POST", path("/settlement/cancel"), nil)
		expect(t, r, http.StatusOK)
		s := settlementOf(t, r)
		if s["status_label"] != "取消済み" {
			t.Fatalf("%v", s)
		}
		hist := s["history"].([]any)
		var ops []string
		for _, x := range hist {
			hx := x.(map[string]any)
			if hx["status_to"] != "pending" || hx["operation"] == "checkout" {
				ops = append(ops, fmt.Sprint(hx["operation_label"]))
			}
		}
		want := "決済開始 与信 売上計上 取引修正 取消"
		if got := strings.Join(dedupe(ops), " "); got != want {
			t.Fatalf("history %q, want %q", got, want)
		}
	})
	t.Run("an edit after 取消 is saved locally and says atone was not updated", func(t *testing.T) {
		edit := `{"cart": [{"sku": "item-012", "item_name": "商品012", "price": 1500, "quantity": 3}],
		          "order": {"total_items_price": 4500, "discount": 0, "shipping_charge": 500, "cod_fee": 0, "tax": 0, "usedpoint": 0, "total_full_price": 5000}}`
		r := h.Shop(t, "PATCH", path(""), edit)
		expect(t, r, http.StatusOK)
		if r.Body["provider_updated"] != false || !strings.Contains(fmt.Sprint(r.Body["notice"]), "更新されていません") {
			t.Fatalf("%s", r.Raw)
		}
		if r.Body["order"].(map[string]any)["total_full_price"].(float64) != 5000 {
			t.Fatal("the local edit was not saved")
		}
	})
}

// dedupe drops repeated neighbours: the reference and in-flight rows are not part of the story.
func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if s == "取引参照" {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func TestImmediateCapture(t *testing.T) {
	h := daemontest.Start(t, daemontest.Immediate())
	id, w := buy(t, h, daemontest.Order("2001", 1000, 1, h.Method), sandbox.OKMemberPhone)
	r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	expect(t, r, http.StatusOK)
	if s := settlementOf(t, r); s["status_label"] != "売上計上" {
		t.Fatalf("即時売上確定 gave %v", s)
	}
}

func TestDeclinedPurchaseOnSQLite(t *testing.T) {
	h := daemontest.Start(t, daemontest.SQLite())
	id, w := buy(t, h, daemontest.Order("3001", 60000, 1, h.Method), sandbox.OKMemberPhone)
	r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	expect(t, r, http.StatusOK)
	s := settlementOf(t, r)
	if s["status_label"] != "決済エラー" || s["reason_label"] != "金額超過" || r.Body["ng_reason"] != "金額超過" {
		t.Fatalf("NG over the limit gave %s", r.Raw)
	}
	rows, _, err := errlog.List(context.Background(), h.D.Store.DB, 10, 0)
	if err != nil || len(rows) != 1 || rows[0].LogKey != s["trans_id"] || !strings.Contains(rows[0].Result, "NG") {
		t.Fatalf("error log %v %v", rows, err)
	}
	if n, _ := errlog.Notice(context.Background(), h.D.Store.DB); n.IsZero() {
		t.Fatal("no admin notice")
	}
}

func TestErrorPaths(t *testing.T) {
	h := daemontest.Start(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"malformed JSON", `{"order_number": `, 400, "malformed_json", ""},
		{"wrong type", `{"order_number": 5}`, 400, "invalid_type", "order_number"},
		{"unknown payment method", daemontest.Order("e1", 1000, 1, "代引き"), 422, "unknown_payment_method", "order.payment_name"},
		{"totals do not add up", func() any {
			o := daemontest.Order("e2", 1000, 1, h.Method)
			o["order"].(map[string]any)["total_full_price"] = 999
			return o
		}(), 422, "mismatch", "order.total_full_price"},
		{"atone's own field rule", func() any {
			o := daemontest.Order("e3", 1000, 1, h.Method)
			o["customer"].(map[string]any)["zipcode"] = "123456"
			return o
		}(), 422, "EATN0346", "zip_code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Shop(t, "POST", "/api/v1/orders", tc.body)
			expect(t, r, tc.status)
			e := r.Body["error"].(map[string]any)
			if (tc.code != "" && e["code"] != tc.code) || (tc.field != "" && !strings.Contains(fmt.Sprint(e["field"]), strings.TrimPrefix(tc.field, "customer."))) {
				t.Fatalf("error %v", e)
			}
		})
	}
	t.Run("a body over 1 MiB", func(t *testing.T) {
		r := h.Shop(t, "POST", "/api/v1/orders", `{"order_number": "`+strings.Repeat("x", 1<<20)+`"}`)
		expect(t, r, http.StatusRequestEntityTooLarge)
	})
	t.Run("no key, a bad key", func(t *testing.T) {
		expect(t, h.Do(t, "", "GET", "/api/v1/orders", nil), 401)
		expect(t, h.Do(t, "ksk_nope", "GET", "/api/v1/orders", nil), 401)
	})
	t.Run("nothing was written by the refused orders", func(t *testing.T) {
		r := h.Shop(t, "GET", "/api/v1/orders", nil)
		if r.Body["total"].(float64) != 0 {
			t.Fatalf("refused orders left rows: %s", r.Raw)
		}
	})
	t.Run("a duplicate order number", func(t *testing.T) {
		expect(t, h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("d1", 1000, 1, h.Method)), 201)
		r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("d1", 1000, 1, h.Method))
		expect(t, r, 409)
		if errCode(r) != "duplicate_order_number" {
			t.Fatal(r.Raw)
		}
	})
	t.Run("idempotency: replay, conflict", func(t *testing.T) {
		body := daemontest.Order("i1", 1000, 1, h.Method)
		r1 := h.Shop(t, "POST", "/api/v1/orders", body, "Idempotency-Key", "key-1")
		expect(t, r1, 201)
		r2 := h.Shop(t, "POST", "/api/v1/orders", body, "Idempotency-Key", "key-1")
		expect(t, r2, 201)
		if r2.Header.Get("Idempotent-Replayed") != "true" || r2.Body["id"] != r1.Body["id"] {
			t.Fatalf("replay %s", r2.Raw)
		}
		other := daemontest.Order("i2", 1000, 1, h.Method)
		r3 := h.Shop(t, "POST", "/api/v1/orders", other, "Idempotency-Key", "key-1")
		expect(t, r3, 409)
		if errCode(r3) != "idempotency_key_reused" {
			t.Fatal(r3.Raw)
		}
	})
	t.Run("a forged widget result changes nothing", func(t *testing.T) {
		idA, wA := buy(t, h, daemontest.Order("f1", 1000, 1, h.Method), sandbox.OKMemberPhone)
		idB, _ := buy(t, h, daemontest.Order("f2", 2000, 1, h.Method), sandbox.OKMemberPhone)
		// B's page posts A's transaction: another order's, with another amount.
		r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", idB), wA)
		expect(t, r, http.StatusUnprocessableEntity)
		if s := settlementOf(t, r); s["status"] != "pending" || s["wc_trans_id"] != "" {
			t.Fatalf("forged result moved the settlement: %s", r.Raw)
		}
		// A made-up id.
		r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", idB), map[string]any{"id": "tr_0000000000000000", "authorization_result": 1})
		expect(t, r, http.StatusUnprocessableEntity)
		// A's own result still works.
		r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", idA), wA)
		expect(t, r, http.StatusOK)
		if settlementOf(t, r)["status_label"] != "仮売上" {
			t.Fatal(r.Raw)
		}
	})
	t.Run("a stopped payment method", func(t *testing.T) {
		pm, _ := h.D.Methods.ByName(ctx, h.Method)
		if err := h.D.Methods.SetUse(ctx, pm.ID, paymethod.Deactivate, "test"); err != nil {
			t.Fatal(err)
		}
		r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("s1", 1000, 1, h.Method))
		expect(t, r, 422)
		if errCode(r) != "payment_method_stopped" {
			t.Fatal(r.Raw)
		}
		_ = h.D.Methods.SetUse(ctx, pm.ID, paymethod.Activate, "test")
	})
	t.Run("the adapter down: 503 and nothing written", func(t *testing.T) {
		// Replace the binary (its checksum no longer matches) and kill the adapter: the
		// supervisor refuses to relaunch it and the module is failed.
		bin := filepath.Join(h.D.Config.PluginDir, "kessai-atone")
		tmp := bin + ".new"
		if err := os.WriteFile(tmp, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(h.D.Modules.Pid("atone"), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if st, _ := h.D.Modules.State("atone"); st == "failed" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		before := h.Shop(t, "GET", "/api/v1/orders", nil).Body["total"]
		r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("down1", 1000, 1, h.Method))
		expect(t, r, http.StatusServiceUnavailable)
		if after := h.Shop(t, "GET", "/api/v1/orders", nil).Body["total"]; after != before {
			t.Fatalf("orders %v → %v", before, after)
		}
		rr := h.Do(t, "", "GET", "/readyz", nil)
		if rr.Status != 503 || !strings.Contains(string(rr.Raw), "atone") {
			t.Fatalf("readyz %d %s", rr.Status, rr.Raw)
		}
	})
}

func TestIdempotencyWhileRunning(t *testing.T) {
	h := daemontest.Start(t)
	id, w := buy(t, h, daemontest.Order("r1", 1000, 1, h.Method), sandbox.OKMemberPhone)
	expect(t, h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w), http.StatusOK)
	// atone is slow to settle: the first capture is still running when the retry arrives.
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Path: "*/settle", Times: 1, Latency: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/orders/%d/settlement/capture", id)
	first := make(chan daemontest.Response, 1)
	go func() { first <- h.Shop(t, "POST", path, nil, "Idempotency-Key", "cap-1") }()
	h.InFlight(t, id)
	r := h.Shop(t, "POST", path, nil, "Idempotency-Key", "cap-1")
	expect(t, r, http.StatusConflict)
	if errCode(r) != "request_in_progress" {
		t.Fatalf("%s", r.Raw)
	}
	expect(t, <-first, http.StatusOK)
	// Once it finished, the same key replays the answer instead of capturing again.
	r = h.Shop(t, "POST", path, nil, "Idempotency-Key", "cap-1")
	expect(t, r, http.StatusOK)
	if r.Header.Get("Idempotent-Replayed") != "true" || settlementOf(t, r)["status_label"] != "売上計上" {
		t.Fatalf("%s", r.Raw)
	}
}

func TestAdminPaymentMethodAPI(t *testing.T) {
	h := daemontest.Start(t)
	admin := func(method, path string, body any) daemontest.Response {
		return h.Do(t, "", method, path, body, "Authorization", "Bearer "+h.AdminToken)
	}
	expect(t, h.Do(t, "", "GET", "/admin/api/payment-methods", nil), http.StatusUnauthorized)
	r := admin("POST", "/admin/api/payment-methods", map[string]any{"name": "銀行振込", "settlement": "transferAdvance"})
	expect(t, r, http.StatusCreated)
	bank := int64(r.Body["id"].(float64))
	r = admin("POST", "/admin/api/payment-methods", map[string]any{"name": "銀行振込", "settlement": "transferAdvance"})
	expect(t, r, http.StatusUnprocessableEntity)
	r = admin("POST", "/admin/api/payment-methods", map[string]any{"name": "カード", "settlement": "acting_zeus_card"})
	expect(t, r, http.StatusUnprocessableEntity)
	if e := r.Body["error"].(map[string]any); e["field"] != "settlement" {
		t.Fatalf("%s", r.Raw)
	}
	pm, _ := h.D.Methods.ByName(context.Background(), h.Method)
	expect(t, admin("PUT", "/admin/api/payment-methods/sort", map[string]any{"ids": []int64{bank, pm.ID}}), http.StatusOK)
	r = h.Shop(t, "GET", "/api/v1/payment-methods", nil)
	if ms := r.Body["payment_methods"].([]any); ms[0].(map[string]any)["name"] != "銀行振込" {
		t.Fatalf("storefront order %s", r.Raw)
	}
	expect(t, h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("pm1", 1000, 1, h.Method)), http.StatusCreated)
	r = admin("DELETE", fmt.Sprintf("/admin/api/payment-methods/%d", pm.ID), nil)
	expect(t, r, http.StatusConflict)
	if !strings.Contains(fmt.Sprint(r.Body["error"]), "停止") {
		t.Fatalf("refusal lacks the advice to stop instead: %s", r.Raw)
	}
	expect(t, admin("DELETE", fmt.Sprintf("/admin/api/payment-methods/%d", bank), nil), http.StatusNoContent)
}

func TestRetryAfterNG(t *testing.T) {
	h := daemontest.Start(t)
	id, w := buy(t, h, daemontest.Order("ng-retry", 1000, 1, h.Method), sandbox.NGMemberPhone)
	r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	expect(t, r, http.StatusOK)
	first := settlementOf(t, r)
	if first["status_label"] != "決済エラー" {
		t.Fatalf("%s", r.Raw)
	}
	// The buyer tries again with another atone account: a fresh widget with a new attempt.
	r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/checkout", id), nil)
	expect(t, r, http.StatusOK)
	cfg := r.Body["config"].(map[string]any)
	oldNo := fmt.Sprint(first["trans_id"]) + "-1"
	if no := cfg["payment"].(map[string]any)["shop_transaction_no"]; no == oldNo || settlementOf(t, r)["status"] != "pending" {
		t.Fatalf("retry config %v (old attempt %s): %s", no, oldNo, r.Raw)
	}
	w = h.CompleteWidget(t, cfg, sandbox.OKMemberPhone)
	r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	expect(t, r, http.StatusOK)
	if settlementOf(t, r)["status_label"] != "仮売上" {
		t.Fatalf("after retry: %s", r.Raw)
	}
	// Paid: no new widget.
	expect(t, h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/checkout", id), nil), http.StatusConflict)
}
