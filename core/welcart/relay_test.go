package welcart_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/welcart"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// welcartOrder is a Welcart order as the bridge creates it in kessai: with its order ID and
// link key in Welcart.
type welcartOrder struct {
	welcartID       int64
	transID         string
	kessaiID        int64
	kessaiKey       string
	number          string
	price           int64
	authorizedPhone string
}

// buyWelcart creates o with Welcart's ids and completes atone's widget as o.authorizedPhone.
func buyWelcart(t *testing.T, h *daemontest.Harness, key string, o *welcartOrder) {
	t.Helper()
	body := daemontest.Order(o.number, o.price, 1, h.Method)
	body["welcart_order_id"], body["welcart_trans_id"] = o.welcartID, o.transID
	r := h.Do(t, key, "POST", "/api/v1/orders", body)
	if r.Status != http.StatusCreated || r.Body["welcart_order_id"].(float64) != float64(o.welcartID) || r.Body["welcart_trans_id"] != o.transID {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	o.kessaiID = int64(r.Body["id"].(float64))
	w := h.CompleteWidget(t, r.Body["config"].(map[string]any), o.authorizedPhone)
	r = h.Do(t, key, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", o.kessaiID), w)
	if r.Status != http.StatusOK {
		t.Fatalf("result: %d %s", r.Status, r.Raw)
	}
	o.kessaiKey = r.Body["settlement"].(map[string]any)["trans_id"].(string)
}

// The bridge creates each order in kessai with Welcart's order ID and link key, then relays
// Welcart's admin calls as Welcart's scripts make them: with Welcart's ids only, changing
// nothing but the URL and the Authorization header. Welcart's order IDs and kessai's both
// start at 1000, so Welcart's ID of one order here is kessai's id of another.
func TestRelayWithWelcartIDs(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	a := &welcartOrder{welcartID: 1001, transID: "4120000001", number: "r1", price: 1500, authorizedPhone: sandbox.OKMemberPhone}
	b := &welcartOrder{welcartID: 1000, transID: "4120000002", number: "r2", price: 2500, authorizedPhone: sandbox.OKMemberPhone}
	ng := &welcartOrder{welcartID: 1002, transID: "4120000003", number: "r3", price: 60000, authorizedPhone: sandbox.OKMemberPhone}
	for _, o := range []*welcartOrder{a, b, ng} {
		buyWelcart(t, h, h.ShopKey, o)
	}
	if a.kessaiID != 1000 || b.kessaiID != 1001 {
		t.Fatalf("kessai ids %d %d: the test wants Welcart's 1001 to be kessai's id of another order", a.kessaiID, b.kessaiID)
	}

	t.Run("POST /api/v1/orders refuses a Welcart order ID or link key the shop has", func(t *testing.T) {
		for field, body := range map[string]map[string]any{
			"welcart_order_id": {"welcart_order_id": a.welcartID, "welcart_trans_id": "4120000099"},
			"welcart_trans_id": {"welcart_order_id": 1099, "welcart_trans_id": a.transID},
		} {
			o := daemontest.Order("r9", 1000, 1, h.Method)
			for k, v := range body {
				o[k] = v
			}
			r := h.Shop(t, "POST", "/api/v1/orders", o)
			if r.Status != http.StatusConflict || !strings.Contains(string(r.Raw), `"code":"duplicate_`+field+`"`) {
				t.Fatalf("%s: %d %s", field, r.Status, r.Raw)
			}
		}
	})

	// usces_admin_ajax as Welcart's module script posts it from the order edit page.
	admin := func(mode string, o *welcartOrder, kv ...string) reply {
		return ajax(t, h, h.ShopKey, form(append([]string{"action", "usces_admin_ajax", "mode", mode,
			"order_id", fmt.Sprint(o.welcartID), "order_num", "1", "trans_id", o.transID, "member_id", "1000",
			"wc_nonce", "f00dfeed"}, kv...)...))
	}
	status := func(o *welcartOrder) settlement.Status {
		s, err := h.D.Settlements.ForOrder(ctx, o.kessaiID)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}

	t.Run("決済情報 (get, error) on Welcart's ids: the order Welcart means, not kessai's order of that id", func(t *testing.T) {
		for _, mode := range []string{"get_atone", "error_atone"} {
			r := admin(mode, a)
			want(t, r, 200, "OK")
			contains(t, "dialog", r.Result, a.kessaiKey, `id="amount_change" class="amount-change" value="2000"`)
			r = admin(mode, b)
			want(t, r, 200, "OK")
			contains(t, "dialog", r.Result, b.kessaiKey, `value="3000"`)
		}
	})
	t.Run("売上計上, 利用額変更 and 取消 on Welcart's ids", func(t *testing.T) {
		r := admin("capture_atone", a, "amount", "2000")
		want(t, r, 200, "OK")
		contains(t, "badge", r.ActingStatus, "card-capture")
		r = admin("change_atone", a, "amount", "1800")
		want(t, r, 200, "OK")
		contains(t, "dialog", r.Result, `value="1800"`)
		r = admin("delete_atone", a, "amount", "1800")
		want(t, r, 200, "OK")
		contains(t, "badge", r.ActingStatus, "card-delete")
		if status(a) != settlement.Cancelled || status(b) != settlement.Authorized {
			t.Fatalf("a %s, b %s", status(a), status(b))
		}
		r = admin("cancel_atone", b)
		want(t, r, 200, "OK")
		if status(b) != settlement.Cancelled {
			t.Fatalf("b %s", status(b))
		}
	})
	t.Run("kessai's ids are accepted too", func(t *testing.T) {
		r := ajax(t, h, h.ShopKey, form("action", "usces_admin_ajax", "mode", "get_atone", "order_id", fmt.Sprint(b.kessaiID), "trans_id", b.kessaiKey))
		want(t, r, 200, "OK")
		contains(t, "dialog", r.Result, b.kessaiKey)
	})
	t.Run("refusals: NG with Welcart's message where its script shows it", func(t *testing.T) {
		for _, tc := range []struct {
			name, orderID, transID, message string
		}{
			{"an unknown order", "9999", "4120000001", "受注が見つかりません。"},
			{"another order's link key", fmt.Sprint(a.welcartID), b.transID, "決済情報が一致しません"},
			// Welcart's 1001 is kessai's id of b: b's Welcart link key does not go with it.
			{"a Welcart link key with kessai's id", fmt.Sprint(b.kessaiID), b.transID, "決済情報が一致しません"},
			{"no link key", fmt.Sprint(a.welcartID), "", "決済情報が一致しません"},
		} {
			r := ajax(t, h, h.ShopKey, form("action", "usces_admin_ajax", "mode", "get_atone", "order_id", tc.orderID, "trans_id", tc.transID))
			want(t, r, 200, "NG")
			contains(t, tc.name, r.Result, tc.message)
		}
		_, keyB, err := h.D.Shops.Create(ctx, "別のショップ")
		if err != nil {
			t.Fatal(err)
		}
		r := ajax(t, h, keyB, form("action", "usces_admin_ajax", "mode", "get_atone", "order_id", fmt.Sprint(a.welcartID), "trans_id", a.transID))
		want(t, r, 200, "NG")
		contains(t, "another shop's order", r.Result, "受注が見つかりません。")
	})

	// order_item_ajax as Welcart's order list posts it: the log ids come from the list.
	logs := func(kv ...string) reply {
		return ajax(t, h, h.ShopKey, form(append([]string{"action", "order_item_ajax", "wc_nonce", "f00dfeed"}, kv...)...))
	}
	var logID string
	t.Run("決済エラーログ: list, 詳細, ログ出力, ログ削除", func(t *testing.T) {
		r := logs("mode", "get_settlement_error_log")
		want(t, r, 200, "OK")
		m := regexp.MustCompile(`class="error-log-check" value="(\d+)"`).FindStringSubmatch(r.Result)
		if m == nil || *r.NoData != "" {
			t.Fatalf("%s", r.Raw)
		}
		logID = m[1]
		r = logs("mode", "get_settlement_error_log_detail", "log_id", logID)
		want(t, r, 200, "OK")
		contains(t, "detail", r.Result, ng.kessaiKey, `<input type="hidden" id="log_id" value="`+logID+`">`)
		q := url.Values{"page": {"usces_orderlist"}, "order_action": {"dlsettlementerrorlog"}, "log_id": {logID}, "noheader": {"true"}, "wc_nonce": {"f00dfeed"}}
		f := get(t, h, h.ShopKey, welcart.AdminPath+"?"+q.Encode())
		text, err := japanese.ShiftJIS.NewDecoder().String(string(f.Raw))
		if f.Code != 200 || err != nil {
			t.Fatalf("%d %v", f.Code, err)
		}
		contains(t, "file", text, "リンクキー = "+ng.kessaiKey)
		r = logs("mode", "delete_settlement_error_log", "log_id", logID)
		want(t, r, 200, "OK")
		if *r.Deleted != 1 || *r.NoData != "nodata" {
			t.Fatalf("%s", r.Raw)
		}
		r = logs("mode", "reset_settlement_notice")
		want(t, r, 200, "OK")
	})
}
