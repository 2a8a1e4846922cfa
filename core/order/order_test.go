package order_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins"
)

// welcartOrder is the order shape of the shop API, exactly as a Welcart bridge sends it.
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

func parse(t *testing.T, s string) order.Input {
	t.Helper()
	var in order.Input
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestValidate(t *testing.T) {
	t.Parallel()
	in := parse(t, welcartOrder)
	if err := in.Validate(); err != nil {
		t.Fatalf("the Welcart order is refused: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(*order.Input)
		field  string
	}{
		"no number":             {func(i *order.Input) { i.OrderNumber = "" }, "order_number"},
		"bad email":             {func(i *order.Input) { i.Customer.Email = "taro" }, "customer.mailaddress1"},
		"items do not add up":   {func(i *order.Input) { i.Order.TotalItemsPrice = 1400; i.Order.TotalFullPrice = 1900 }, "order.total_items_price"},
		"total does not add up": {func(i *order.Input) { i.Order.TotalFullPrice = 2100 }, "order.total_full_price"},
		"positive discount":     {func(i *order.Input) { i.Order.Discount = 100; i.Order.TotalFullPrice = 2100 }, "order.discount"},
		"zero quantity":         {func(i *order.Input) { i.Cart[0].Quantity = 0 }, "cart[0].quantity"},
		"empty cart":            {func(i *order.Input) { i.Cart = nil }, "cart"},
		"no payment method":     {func(i *order.Input) { i.Order.PaymentName = "" }, "order.payment_name"},
		"bad frequency": {func(i *order.Input) {
			i.Cart[0].Continuation = &order.Continuation{Frequency: 2, ChargingDay: 99, Interval: 12}
		}, "cart[0].continuation.frequency"},
	} {
		t.Run(name, func(t *testing.T) {
			in := parse(t, welcartOrder)
			tc.change(&in)
			var ve order.ValidationError
			if err := in.Validate(); !errors.As(err, &ve) || ve[0].Field != tc.field {
				t.Fatalf("Validate() = %v, want a refusal of %s first", err, tc.field)
			}
		})
	}
}

func TestPluginOrderAddsUp(t *testing.T) {
	t.Parallel()
	in := parse(t, welcartOrder)
	in.Order.Discount, in.Order.UsedPoint, in.Order.CODFee, in.Order.Tax = -200, 100, 300, 50
	in.Order.TotalFullPrice = 1500 - 100 - 200 + 500 + 300 + 50
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	row := in.Row(1)
	po := row.Plugin("k-1")
	var sum int64
	kinds := map[plugins.LineKind]int64{}
	for _, l := range po.Lines {
		sum += l.Price * l.Quantity
		kinds[l.Kind] += l.Price
	}
	if sum != po.Amount || po.Amount != 2050 {
		t.Fatalf("lines add up to %d, amount %d", sum, po.Amount)
	}
	if kinds[plugins.LineDiscount] != -200 || kinds[plugins.LinePoint] != -100 || kinds[plugins.LineShipping] != 500 || kinds[plugins.LineFee] != 300 || kinds[plugins.LineTax] != 50 {
		t.Fatalf("extra lines %v", kinds)
	}
	if po.Customer.FamilyName != "注文" || po.Customer.Email != "taro@example.jp" || po.Delivery == nil || po.MemberID != "1000" {
		t.Fatalf("customer %+v", po)
	}
}

func TestOrdersStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		st.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('a', CURRENT_TIMESTAMP), ('b', CURRENT_TIMESTAMP)")
		in := parse(t, welcartOrder)
		row := in.Row(1)
		if err := order.Create(ctx, st.DB, &row); err != nil {
			t.Fatal(err)
		}
		if row.ID != 1000 {
			t.Fatalf("first id %d", row.ID)
		}
		t.Run("order numbers are unique per shop", func(t *testing.T) {
			dup := in.Row(1)
			if err := order.Create(ctx, st.DB, &dup); !errors.Is(err, order.ErrDuplicate) {
				t.Fatalf("duplicate = %v", err)
			}
			other := in.Row(2)
			if err := order.Create(ctx, st.DB, &other); err != nil {
				t.Fatalf("same number in another shop: %v", err)
			}
		})
		orders := order.New(st.DB)
		t.Run("another shop's order is not found", func(t *testing.T) {
			if _, err := orders.Get(ctx, 2, row.ID); !errors.Is(err, order.ErrNotFound) {
				t.Fatal(err)
			}
		})
		t.Run("list filters and pages", func(t *testing.T) {
			l, total, err := orders.List(ctx, order.Filter{ShopID: 1, Name: "太郎"})
			if err != nil || total != 1 || len(l) != 1 {
				t.Fatalf("%v %d %v", l, total, err)
			}
			_, total, _ = orders.List(ctx, order.Filter{Process: "new"})
			if total != 2 {
				t.Fatalf("new orders %d", total)
			}
			l, total, err = orders.List(ctx, order.Filter{ShopID: 1, Limit: 50, Offset: 50})
			if err != nil || total != 1 || l == nil || len(l) != 0 {
				t.Fatalf("past the last page: %v %d %v", l, total, err)
			}
		})
		t.Run("an edit says when the provider must hear of it", func(t *testing.T) {
			got, _ := orders.Get(ctx, 1, row.ID)
			cancel := "cancel"
			n, changed, err := order.Edit{Process: &cancel}.Apply(*got)
			if err != nil || changed || !n.Cancelled() || n.ProcessLabel() != "キャンセル" {
				t.Fatalf("status edit: %v %v %+v", changed, err, n.Status)
			}
			cart := []order.Line{{SKU: "item-012", ItemName: "商品012", Price: 1500, Quantity: 2}}
			totals := in.Order
			totals.TotalItemsPrice, totals.TotalFullPrice = 3000, 3500
			n, changed, err = order.Edit{Cart: cart, Order: &totals}.Apply(*got)
			if err != nil || !changed || n.Total != 3500 {
				t.Fatalf("amount edit: %v %v %d", changed, err, n.Total)
			}
			if err := order.Save(ctx, st.DB, &n); err != nil {
				t.Fatal(err)
			}
		})
	})
}
