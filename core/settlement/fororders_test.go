package settlement_test

import (
	"context"
	"testing"

	"github.com/kessai/kessai/core/settlement"
)

// TestForOrdersReadsAPageInOneAnswer: the order lists of the console and the shop API read a
// page's settlements with ForOrders and narrow by 決済状況 with OrdersIn.
func TestForOrdersReadsAPageInOneAnswer(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a, b := w.authorized(t), w.authorized(t)
	got, err := w.sv.ForOrders(ctx, []int64{a.OrderID, b.OrderID, 999999})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[a.OrderID].ID != a.ID || got[b.OrderID].ID != b.ID {
		t.Fatalf("ForOrders = %+v; want the two orders' settlements, none for the unknown order", got)
	}
	if none, err := w.sv.ForOrders(ctx, nil); err != nil || len(none) != 0 {
		t.Fatalf("ForOrders(nil) = %v, %v", none, err)
	}
	var ids []int64
	if err := w.db.Table("orders").Where("id IN (?)", w.sv.OrdersIn(settlement.Authorized)).Order("id").Pluck("id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != a.OrderID || ids[1] != b.OrderID {
		t.Fatalf("OrdersIn(authorized) = %v", ids)
	}
	if err := w.db.Table("orders").Where("id IN (?)", w.sv.OrdersIn(settlement.Captured)).Pluck("id", &ids).Error; err != nil || len(ids) != 0 {
		t.Fatalf("OrdersIn(captured) = %v, %v", ids, err)
	}
}
