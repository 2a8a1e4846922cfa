package order_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// TestEditWithoutModify: an adapter without CanModify gets no 取引修正 call. 受注編集 of an
// authorized order's amount saves the order locally, with a notice that the provider does not
// support 取引修正, and the settlement keeps its transaction and amount.
func TestEditWithoutModify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	h := moduletest.Start(t, moduletest.WithStore(st), moduletest.Without(plugins.CanModify))
	sv := settlement.NewService(st, h.Host, slog.New(slog.DiscardHandler))
	st.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('a', CURRENT_TIMESTAMP)")

	in := parse(t, welcartOrder)
	in.Order.PaymentName = "テスト払い"
	row := in.Row(1)
	if err := order.Create(ctx, st.DB, &row); err != nil {
		t.Fatal(err)
	}
	s := settlement.New(row.ID, 1, row.Total, moduletest.Slug, moduletest.Code)
	if err := settlement.Create(ctx, st.DB, s, settlement.History{Operation: settlement.OpCheckout, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	r, err := sv.Confirm(ctx, s.ID, []byte(`{"id": "tm_`+s.TransID+`", "authorization_result": 1}`), row.Plugin(""), "test")
	if err != nil || r.Settlement.Status != settlement.Authorized {
		t.Fatalf("confirm: %+v %v", r, err)
	}
	before := r.Settlement
	// A 取引修正 reaching the adapter would meet this switch and disarm it.
	h.Switch(t, "Modify", plugintest.Decline, 1)

	price := int64(2500)
	e := order.Edit{
		Cart:  []order.Line{{SKU: "item-012", ItemName: "商品012", Price: price, Quantity: 1}},
		Order: &order.Totals{TotalItemsPrice: price, ShippingCharge: 500, TotalFullPrice: price + 500},
	}
	got, err := order.Update(ctx, st.DB, sv, &row, e, "admin:test")
	if err != nil {
		t.Fatal(err)
	}
	if got.ProviderUpdated || got.Outcome != nil || got.Notice != order.NoticeNoModify || got.Order.Total != price+500 {
		t.Fatalf("edit: %+v", got)
	}
	if saved, err := order.Get(ctx, st.DB, 1, row.ID); err != nil || saved.Total != price+500 {
		t.Fatalf("saved order: %+v %v", saved, err)
	}
	after, err := sv.Get(ctx, 0, s.ID)
	if err != nil || after.Status != settlement.Authorized || after.Amount != before.Amount || after.WcTransID != before.WcTransID || after.Version != before.Version {
		t.Fatalf("settlement %+v, was %+v (%v)", after, before, err)
	}
	var attempts int64
	st.DB.Model(&settlement.Attempt{}).Where("settlement_id = ? AND kind = ?", s.ID, settlement.OpModify).Count(&attempts)
	b, err := os.ReadFile(h.SwitchFile)
	if err != nil {
		t.Fatal(err)
	}
	var sw map[string]struct{ Mode string }
	if err := json.Unmarshal(b, &sw); err != nil {
		t.Fatal(err)
	}
	if attempts != 0 || sw["Modify"].Mode != plugintest.Decline {
		t.Fatalf("a 取引修正 was sent: %d attempts, switch %+v", attempts, sw)
	}
}
