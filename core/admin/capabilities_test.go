package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// TestOrderEditWithoutModify: an adapter without CanModify gets no 取引修正 call and no
// button. 受注編集 says before the edit that the module will not be told, offers no 取引修正 in
// the 決済情報 dialog, and 設定を更新 saves the order with the notice, the adapter untouched.
func TestOrderEditWithoutModify(t *testing.T) {
	srv := admintest.Start(t, admintest.WithModuleOptions(moduletest.Without(plugins.CanModify)))
	ctx := context.Background()
	db := srv.Store.DB
	sv := settlement.NewService(srv.Store, srv.Modules.Host, moduletest.TestLogger(t))
	orders := order.New(db)
	srv.Console.MountCommerce(admin.Commerce{Orders: orders, Settlements: sv})
	srv.User(t, "hanako", "hanako-password")
	db.Exec("INSERT INTO shops (name, created_at) VALUES ('a', CURRENT_TIMESTAMP)")

	o := order.Order{ShopID: 1, Number: "5001", Email: "taro@example.jp", Name1: "注文", Name2: "太郎", Zip: "123-4567", Pref: "東京都",
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
	// A 取引修正 reaching the adapter would meet this switch and disarm it.
	srv.Modules.Switch(t, "Modify", plugintest.Decline, 1)

	c := srv.NewClient(t)
	c.SignIn(t, "hanako", "hanako-password")
	page := fmt.Sprintf("/admin/orders/%d", o.ID)
	code, body := c.Get(t, page)
	if code != http.StatusOK || !strings.Contains(body, "testmodule の決済モジュールは取引修正に対応していないため") {
		t.Fatalf("受注編集: %d\n%s", code, body)
	}
	for _, mode := range []string{"change_" + moduletest.Slug, "modify_" + moduletest.Slug} {
		if strings.Contains(body, `data-mode="`+mode+`"`) {
			t.Errorf("the page offers %s", mode)
		}
	}

	if code, body := c.Post(t, page, editForm(&o, c.CSRF, 2500)); code != http.StatusSeeOther {
		t.Fatalf("設定を更新: %d\n%s", code, body)
	}
	if code, body := c.Get(t, page); code != http.StatusOK || !strings.Contains(body, order.NoticeNoModify) {
		t.Fatalf("after 設定を更新: %d, want the notice %q\n%s", code, order.NoticeNoModify, body)
	}
	saved, err := order.Get(ctx, db, 0, o.ID)
	if err != nil || saved.Total != 3000 {
		t.Fatalf("saved order: %+v %v", saved, err)
	}
	b, err := os.ReadFile(srv.Modules.SwitchFile)
	if err != nil {
		t.Fatal(err)
	}
	var sw map[string]struct{ Mode string }
	if err := json.Unmarshal(b, &sw); err != nil || sw["Modify"].Mode != plugintest.Decline {
		t.Fatalf("the adapter was asked for a 取引修正: switch %s (%v)", b, err)
	}
}
