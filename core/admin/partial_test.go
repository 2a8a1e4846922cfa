package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
)

// partialConsole is a console over the test adapter (built with opts) with an order of 2,000
// yen in 仮売上, signed in as hanako.
func partialConsole(t *testing.T, opts ...moduletest.Option) (*admintest.Client, *settlement.Service, *order.Order) {
	srv := admintest.Start(t, admintest.WithModuleOptions(opts...))
	ctx := context.Background()
	db := srv.Store.DB
	sv := settlement.NewService(srv.Store, srv.Modules.Host, moduletest.TestLogger(t))
	srv.Console.MountCommerce(admin.Commerce{Orders: order.New(db), Settlements: sv})
	srv.User(t, "hanako", "hanako-password")
	db.Exec("INSERT INTO shops (name, created_at) VALUES ('a', CURRENT_TIMESTAMP)")
	o := order.Order{ShopID: 1, Number: "6001", Email: "taro@example.jp", Name1: "注文", Name2: "太郎", Zip: "123-4567", Pref: "東京都",
		Address1: "中央区", Address2: "銀座1-10-6", Tel: "090-0000-0001", PaymentName: "テスト払い",
		CartJSON: `[{"sku":"item-012","item_name":"商品012","price":1500,"quantity":1}]`, ItemTotal: 1500, ShippingCharge: 500, Total: 2000}
	if err := order.Create(ctx, db, &o); err != nil {
		t.Fatal(err)
	}
	s := settlement.New(o.ID, 1, o.Total, moduletest.Slug, moduletest.Code)
	if err := settlement.Create(ctx, db, s, settlement.History{Operation: settlement.OpCheckout, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if r, err := sv.Confirm(ctx, s.ID, []byte(`{"id": "tm_`+s.TransID+`", "authorization_result": 1}`), o.Plugin(""), "test"); err != nil || r.Settlement.Status != settlement.Authorized {
		t.Fatalf("confirm: %+v %v", r, err)
	}
	c := srv.NewClient(t)
	c.SignIn(t, "hanako", "hanako-password")
	return c, sv, &o
}

// dialogOp posts one of the 決済情報 dialog's operations with the amount typed in its field.
func dialogOp(t *testing.T, c *admintest.Client, sv *settlement.Service, o *order.Order, op, amount string) (status, result string) {
	t.Helper()
	s, err := sv.ForOrder(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"trans_id": s.TransID, "amount": amount})
	code, b := c.PostJSON(t, "POST", fmt.Sprintf("/admin/orders/%d/settlement/%s", o.ID, op), string(body), c.CSRF)
	var a struct{ Status, Result string }
	if code != http.StatusOK || json.Unmarshal([]byte(b), &a) != nil {
		t.Fatalf("%s: %d %s", op, code, b)
	}
	return a.Status, a.Result
}

// TestDialogPartialAmounts: the console's 決済情報 dialog has an amount for 売上計上 and 取消
// when the module takes partial amounts, and none when it does not; what is typed there reaches
// the engine.
func TestDialogPartialAmounts(t *testing.T) {
	t.Run("a module that takes partial amounts", func(t *testing.T) {
		c, sv, o := partialConsole(t)
		page := fmt.Sprintf("/admin/orders/%d", o.ID)
		if code, body := c.Get(t, page); code != http.StatusOK || !strings.Contains(body, `id="settlement-amount"`) {
			t.Fatalf("受注編集 without the amount field: %d\n%s", code, body)
		}
		status, result := dialogOp(t, c, sv, o, "capture", "1,500")
		s, _ := sv.ForOrder(context.Background(), o.ID)
		if status != "OK" || s.Status != settlement.Captured || s.Amount != 1500 || !strings.Contains(result, `id="settlement-amount"`) {
			t.Fatalf("partial 売上計上: %s %s %d\n%s", status, s.Status, s.Amount, result)
		}
		status, result = dialogOp(t, c, sv, o, "cancel", "500")
		s, _ = sv.ForOrder(context.Background(), o.ID)
		if status != "OK" || s.Status != settlement.Captured || s.Amount != 1000 ||
			!strings.Contains(result, `<td class="amount">1000</td><td class="operation">一部取消</td>`) {
			t.Fatalf("一部取消: %s %s %d\n%s", status, s.Status, s.Amount, result)
		}
		if code, b := c.PostJSON(t, "POST", fmt.Sprintf("/admin/orders/%d/settlement/cancel", o.ID),
			fmt.Sprintf(`{"trans_id": %q, "amount": "千円"}`, s.TransID), c.CSRF); code != http.StatusUnprocessableEntity || !strings.Contains(b, `"amount"`) {
			t.Fatalf("an amount in words: %d %s", code, b)
		}
		// Empty is the whole of what is left.
		status, _ = dialogOp(t, c, sv, o, "cancel", "")
		if s, _ = sv.ForOrder(context.Background(), o.ID); status != "OK" || s.Status != settlement.Cancelled {
			t.Fatalf("取消 of the rest: %s %s", status, s.Status)
		}
	})

	t.Run("a module that does not", func(t *testing.T) {
		c, sv, o := partialConsole(t, moduletest.Without(plugins.CanPartial))
		code, body := c.Get(t, fmt.Sprintf("/admin/orders/%d", o.ID))
		if code != http.StatusOK || strings.Contains(body, `id="settlement-amount"`) || !strings.Contains(body, `id="capture-settlement"`) {
			t.Fatalf("受注編集: %d\n%s", code, body)
		}
		// A request that names an amount anyway is refused, and nothing moves.
		status, result := dialogOp(t, c, sv, o, "capture", "1500")
		s, _ := sv.ForOrder(context.Background(), o.ID)
		if status != "NG" || s.Status != settlement.Authorized || !strings.Contains(result, "一部の売上計上・取消に対応していません") {
			t.Fatalf("%s %s\n%s", status, s.Status, result)
		}
		if status, _ := dialogOp(t, c, sv, o, "capture", ""); status != "OK" {
			t.Fatalf("売上計上 of the whole: %s", status)
		}
	})
}
