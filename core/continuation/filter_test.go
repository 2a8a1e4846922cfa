package continuation_test

import (
	"testing"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/store/storetest"
)

// TestFilterSearchesAsTheConsoleDoes: the 継続課金会員リスト's search by 注文番号 and Eメール is
// a Filter of the contract list, answered with the list's own rows.
func TestFilterSearchesAsTheConsoleDoes(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	a := w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10, email: "hanako@example.jp"})
	b := w.create(spec{ordered: tokyoAt(2024, 4, 11, 9, 0), frequency: 1, chargingDay: 11, email: "taro@example.jp"})
	r, _ := w.engine(st, nil, continuation.Options{Clock: clockwork.NewFakeClockAt(tokyoAt(2024, 4, 12, 9, 0))})
	sv := continuation.NewService(r)
	var ob order.Order
	if err := st.DB.First(&ob, b.OrderID).Error; err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    continuation.Filter
		want []int64
	}{
		{"everyone, newest first", continuation.Filter{}, []int64{b.ID, a.ID}},
		{"part of an Eメール", continuation.Filter{Email: "hanako@"}, []int64{a.ID}},
		{"an 注文番号", continuation.Filter{OrderNumber: ob.DecoID()}, []int64{b.ID}},
		{"an 注文番号 nobody has", continuation.Filter{OrderNumber: "nobody"}, nil},
		{"決済エラーのみ, before any charge", continuation.Filter{Failed: true}, nil},
	} {
		views, total, err := sv.List(ctxT(t), c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []int64
		for _, v := range views {
			got = append(got, v.ID)
		}
		if total != int64(len(c.want)) || len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("%s: %v (total %d), want %v", c.name, got, total, c.want)
		}
	}
}
