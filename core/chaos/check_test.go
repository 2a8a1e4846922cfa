package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/chaos"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// record writes orders and their settlements as kessai would have left them.
type record struct {
	t    *testing.T
	st   *store.Store
	shop int64
	n    int
}

func newRecord(t *testing.T, st *store.Store) *record {
	sh, _, err := shop.New(st.DB).Create(context.Background(), "チェック用ショップ")
	if err != nil {
		t.Fatal(err)
	}
	return &record{t: t, st: st, shop: sh.ID}
}

// settlement adds an order of total yen and its settlement; the attempt is TransID-1.
func (r *record) settlement(total int64, status settlement.Status, tx string, amount int64) *settlement.Settlement {
	r.t.Helper()
	r.n++
	o := order.Order{ShopID: r.shop, Number: fmt.Sprint(1000 + r.n), Total: total}
	if err := order.Create(context.Background(), r.st.DB, &o); err != nil {
		r.t.Fatal(err)
	}
	s := settlement.New(o.ID, r.shop, amount, "atone", "acting_atone")
	s.Status, s.WcTransID = status, tx
	if err := r.st.DB.Create(s).Error; err != nil {
		r.t.Fatal(err)
	}
	return s
}

func live(id, no string, amount int64) sandbox.LedgerEntry {
	return sandbox.LedgerEntry{ID: id, ShopTransactionNo: no, Amount: amount, AuthorizationResult: 1}
}

func TestCheckFindsNothingInARecordThatMatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRecord(t, st)
		a := r.settlement(2000, settlement.Authorized, "tr_a", 2000)
		c := r.settlement(3000, settlement.Captured, "tr_c", 3000)
		x := r.settlement(1500, settlement.Cancelled, "tr_x", 1500)
		e := r.settlement(60500, settlement.Failed, "tr_e", 60500)
		r.settlement(900, settlement.Pending, "", 900) // the buyer never finished the widget
		m := r.settlement(2500, settlement.Authorized, "tr_m2", 2500)
		r.settlement(800, settlement.Cancelled, "", 800) // cancelled before it was ever paid

		settled := live("tr_c", c.Attempt, 3000)
		settled.Settled, settled.SettleCount = true, 1
		refunded := live("tr_x", x.Attempt, 1500)
		refunded.Refunded, refunded.AmountRefunded, refunded.RefundCount = true, 1500, 1
		ng := sandbox.LedgerEntry{ID: "tr_e", ShopTransactionNo: e.Attempt, Amount: 60500, AuthorizationResult: 2}
		replaced := live("tr_m1", m.Attempt, 3000)
		replaced.Refunded, replaced.AmountRefunded, replaced.ReplacedBy = true, 3000, "tr_m2"
		ledger := []sandbox.LedgerEntry{live("tr_a", a.Attempt, 2000), settled, refunded, ng, replaced,
			live("tr_m2", m.TransID+"-2", 2500)}

		rep := chaos.Check(ctx, st.DB, ledger)
		if !rep.Clean() || rep.Settlements != 7 || rep.Transactions != 6 {
			t.Fatalf("%s", rep)
		}
	})
}

func TestCheckFindsEveryKindOfDifference(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRecord(t, st)
		// Captured at kessai, only authorized at atone.
		c := r.settlement(3000, settlement.Captured, "tr_c", 3000)
		// The order was edited to 1,500 while atone still holds 2,000.
		o := r.settlement(1500, settlement.Authorized, "tr_o", 2000)
		// A lost 取引修正 answer concluded as 取消済み: the replacement lives on, unknown.
		l := r.settlement(2500, settlement.Cancelled, "tr_l1", 3000)
		// 確認中 with nothing to ask about, and a claim nobody finished.
		u := r.settlement(1000, settlement.Unknown, "", 1000)
		p := r.settlement(1000, settlement.Pending, "tr_p", 1000)
		// A checkout whose result kessai never recorded, although atone authorized it.
		w := r.settlement(700, settlement.Pending, "", 700)
		// Settled twice.
		d := r.settlement(400, settlement.Captured, "tr_d", 400)

		replaced := live("tr_l1", l.Attempt, 3000)
		replaced.Refunded, replaced.AmountRefunded, replaced.ReplacedBy = true, 3000, "tr_l2"
		twice := live("tr_d", d.Attempt, 400)
		twice.Settled, twice.SettleCount = true, 2
		pend := live("tr_p", p.Attempt, 1000)
		pend.Settled = true
		ledger := []sandbox.LedgerEntry{live("tr_c", c.Attempt, 3000), live("tr_o", o.Attempt, 2000), replaced,
			live("tr_l2", l.TransID+"-2", 2500), pend, live("tr_w", w.Attempt, 700), twice}

		rep := chaos.Check(ctx, st.DB, ledger)
		want := map[chaos.Kind]int{chaos.Drift: 2, chaos.Orphan: 2, chaos.Stuck: 2, chaos.Double: 1}
		for _, k := range []chaos.Kind{chaos.Drift, chaos.Orphan, chaos.Stuck, chaos.Double, chaos.Duplicate} {
			if rep.Counts[k] != want[k] {
				t.Errorf("%s: %d, want %d", k, rep.Counts[k], want[k])
			}
		}
		found := func(k chaos.Kind, id int64, words string) {
			t.Helper()
			for _, x := range rep.Problems {
				if x.Kind == k && x.SettlementID == id && strings.Contains(x.Detail, words) {
					return
				}
			}
			t.Errorf("no %s for settlement %d saying %q", k, id, words)
		}
		found(chaos.Drift, c.ID, "has not settled")
		found(chaos.Drift, o.ID, "order total 1,500円, settlement 2,000円")
		found(chaos.Orphan, l.ID, "a 取引修正 kessai did not record")
		found(chaos.Stuck, u.ID, "no transaction id")
		found(chaos.Stuck, p.ID, "a claim nobody finished")
		found(chaos.Orphan, w.ID, "pending with no transaction")
		found(chaos.Double, 0, "settled by 2 calls")
		if t.Failed() {
			t.Log(rep)
		}
		if s := rep.String(); !strings.Contains(s, "drift") || !strings.Contains(s, "tr_l2") {
			t.Errorf("the table leaves things out:\n%s", s)
		}
	})
}
