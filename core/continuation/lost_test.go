package continuation_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// A charge sent whose answer was lost stays 確認中 with its merchant reference in
// 継続課金会員情報 and in the 決済エラーログ, and does not hold the contract's next period back.
// A person who looked it up at atone settles it with the reason stated: a transaction they
// name is believed only if atone holds it under the charge's own reference; "none" makes it
// 決済エラー without telling the buyer, and 再決済 charges the period.
func TestContinuationLostAnswer(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	const to = "lost@example.jp"
	c := w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10, email: to})
	clock := clockwork.NewFakeClockAt(tokyoAt(2024, 5, 10, 1, 0))
	r, _ := w.engine(st, nil, continuation.Options{Clock: clock})
	sv := continuation.NewService(r)
	// The connection drops before atone reads the call: atone never sees it.
	if err := w.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropBefore, Path: "/v1/transactions", Method: http.MethodPost, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Run(ctxT(t), date("2024-05-10")); err != nil || rep.Unknown != 1 || !rep.Mailed {
		t.Fatalf("run: %+v %v", rep, err)
	}
	d, err := sv.Get(ctxT(t), 0, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	lost := d.Charges[0]

	t.Run("確認中, with the merchant reference on 継続課金会員情報 and in the 決済エラーログ", func(t *testing.T) {
		if lost.Status != settlement.Unknown || lost.StatusLabel != "確認中" || !lost.CanConclude || lost.CanRetry ||
			!strings.HasPrefix(lost.ShopTransactionNo, lost.TransID+"-") {
			t.Fatalf("charge %+v", lost)
		}
		rows, n, _ := errlog.List(ctxT(t), st.DB, 10, 0)
		if n != 1 || rows[0].Result != "ATONE CONTINUATION UNKNOWN" || !strings.Contains(rows[0].Data, `"shop_transaction_no":"`+lost.ShopTransactionNo+`"`) ||
			!strings.Contains(rows[0].Data, "加盟店取引ID "+lost.ShopTransactionNo) {
			t.Fatalf("error log %d %+v", n, rows)
		}
		w.dispatch()
		if got := w.smtp.To(to); len(got) != 0 {
			t.Fatalf("the contractor was told: %+v", got)
		}
		if got := w.smtp.To(adminMail); len(got) != 1 || !strings.Contains(got[0].Body, "処理結果 : 確認中") {
			t.Fatalf("admin mail %+v", got)
		}
	})
	t.Run("it does not hold the next period back", func(t *testing.T) {
		clock.Advance(tokyoAt(2024, 6, 10, 1, 0).Sub(clock.Now()))
		if rep, err := r.Run(ctxT(t), date("2024-06-10")); err != nil || rep.Charged != 1 {
			t.Fatalf("run: %+v %v", rep, err)
		}
		chs := w.charges(c.ID)
		if len(chs) != 2 || chs[1].Period.String() != "2024-06-10" || chs[1].SettledPeriod.IsZero() || chs[0].Status != settlement.Unknown {
			t.Fatalf("charges %+v", chs)
		}
	})
	t.Run("a transaction that is not this charge's is not believed", func(t *testing.T) {
		next := w.charges(c.ID)[1]
		s, _ := settlement.Load(ctxT(t), st.DB, *next.SettlementID)
		_, err := sv.Conclude(ctxT(t), c.ID, lost.ID, s.WcTransID, "atone の管理画面で見つけた取引", "admin:hanako")
		var v continuation.ValidationError
		if !errors.As(err, &v) || v[0].Code != "not_this_charge" || !strings.Contains(v[0].Message, lost.ShopTransactionNo) {
			t.Fatalf("conclude: %v", err)
		}
		if _, err := sv.Conclude(ctxT(t), c.ID, lost.ID, "", " ", "admin:hanako"); !errors.As(err, &v) || v[0].Field != "reason" {
			t.Fatalf("without a reason: %v", err)
		}
		if got := w.charges(c.ID)[0]; got.Status != settlement.Unknown {
			t.Fatalf("charge %s", got.Status)
		}
	})
	t.Run("atone holds nothing: 決済エラー with the reason, no mail to the buyer", func(t *testing.T) {
		const why = "atone の管理画面で加盟店取引IDを検索し、取引がないことを確認"
		res, err := sv.Conclude(ctxT(t), c.ID, lost.ID, "", why, "admin:hanako")
		if err != nil || res.Settlement.Status != settlement.Failed {
			t.Fatalf("conclude: %+v %v", res, err)
		}
		hs, _ := settlement.Histories(ctxT(t), st.DB, lost.SettlementID)
		last := hs[len(hs)-1]
		if last.Code != settlement.CodeNotCharged || last.Actor != "admin:hanako" || !strings.Contains(last.Message, why) || last.StatusTo != settlement.Failed {
			t.Fatalf("history %+v", last)
		}
		p, _ := audit.List(ctxT(t), st.DB, 1, 10)
		if len(p.Entries) == 0 || p.Entries[0].Action != "continuation.conclude" || !strings.Contains(p.Entries[0].Detail, why) {
			t.Fatalf("audit %+v", p.Entries)
		}
		if d, _ := sv.Get(ctxT(t), 0, c.ID); !d.Charges[1].CanRetry {
			t.Fatalf("再決済 not offered: %+v", d.Charges[1])
		}
		w.dispatch()
		if got := w.smtp.To(to); len(got) != 1 { // the June charge's 正常 mail only
			t.Fatalf("contractor mails %+v", got)
		}
	})
	t.Run("再決済 charges the period", func(t *testing.T) {
		res, err := sv.Retry(ctxT(t), c.ID, lost.ID, "admin:hanako")
		if err != nil || res.Outcome != plugins.Processed || res.Charge.Period.String() != "2024-05-10" {
			t.Fatalf("再決済: %+v %v", res, err)
		}
	})
	t.Run("atone has it: the transaction a person names is followed", func(t *testing.T) {
		taken := w.create(spec{ordered: tokyoAt(2024, 5, 11, 9, 0), frequency: 1, chargingDay: 11, email: "taken@example.jp"})
		if err := w.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Path: "/v1/transactions", Method: http.MethodPost, Times: 1}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(tokyoAt(2024, 6, 11, 1, 0).Sub(clock.Now()))
		if rep, err := r.Run(ctxT(t), date("2024-06-11")); err != nil || rep.Unknown != 1 {
			t.Fatalf("run: %+v %v", rep, err)
		}
		ch := w.charges(taken.ID)[0]
		s, _ := settlement.Load(ctxT(t), st.DB, *ch.SettlementID)
		var found string
		for _, tr := range w.sb.Transactions(sbShop.PublicKey) {
			if tr.ShopTransactionNo == s.Attempt {
				found = tr.ID
			}
		}
		res, err := sv.Conclude(ctxT(t), taken.ID, ch.ID, found, "atone の管理画面で取引を確認", "admin:hanako")
		if err != nil || found == "" || res.Settlement.WcTransID != found ||
			(res.Settlement.Status != settlement.Authorized && res.Settlement.Status != settlement.Captured) {
			t.Fatalf("conclude %q: %+v %v", found, res, err)
		}
		if got := w.charges(taken.ID)[0]; got.SettledPeriod.String() != "2024-06-11" {
			t.Fatalf("charge %+v", got)
		}
	})
}
