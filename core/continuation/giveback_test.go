package continuation_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/webhooks/hook"
)

// diesBeforeSending is the settlement service of a runner that dies between claiming a period
// and sending its charge: the call never reaches the engine, and nothing is given back.
type diesBeforeSending struct{ *settlement.Service }

func (diesBeforeSending) Charge(context.Context, *settlement.Settlement, plugins.ChargeRequest, string) (settlement.Result, error) {
	return settlement.Result{}, errors.New("the runner's process died")
}

// A runner that dies after claiming a period and before sending it leaves a pending charge
// that nothing was sent for. It is nobody's 決済エラー: the janitor leaves it alone, no buyer
// or shop hears of it, and once its lease has run out the period is given back and the next
// run charges it, once. The day's result mail goes out once, after that charge.
func TestContinuationRunnerDiesBeforeSending(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	const to = "died@example.jp"
	c := w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10, email: to})
	if _, _, err := hook.NewEndpoints(st.DB, w.box, hook.Policy{AllowHTTP: true, AllowPrivate: true}).Create(ctxT(t), w.shopID, "http://127.0.0.1:9/kessai", []hook.Type{hook.AllTypes}); err != nil {
		t.Fatal(err)
	}
	events := func() int64 {
		var n int64
		st.DB.Table("outbox").Where("kind = ? AND payload LIKE ?", hook.Kind, `%"type":"continuation.%`).Count(&n)
		return n
	}
	claimedAt := tokyoAt(2024, 5, 10, 1, 0)
	_, ss := w.engine(st, nil, continuation.Options{})
	ss.Clock = clockwork.NewFakeClockAt(claimedAt.Add(time.Hour))
	dying := continuation.NewRunner(st, w.box, w.mods, diesBeforeSending{ss},
		continuation.Options{Clock: clockwork.NewFakeClockAt(claimedAt), Log: quiet(), MaxWait: time.Millisecond})
	if rep, err := dying.Run(ctxT(t), date("2024-05-10")); err == nil || rep.Claimed != 1 || rep.Mailed {
		t.Fatalf("run: %+v %v", rep, err)
	}
	ch := w.charges(c.ID)[0]
	if ch.Status != settlement.Pending || w.reload(c.ID).NextCharging.String() != "2024-06-10" {
		t.Fatalf("charge %s, 次回課金日 %s", ch.Status, w.reload(c.ID).NextCharging)
	}

	t.Run("the janitor leaves a charge that was never sent alone", func(t *testing.T) {
		if n, err := ss.ResolveDue(ctxT(t), 50); err != nil || n != 0 {
			t.Fatalf("janitor: %d %v", n, err)
		}
		if _, err := ss.Resolve(ctxT(t), *ch.SettlementID, "janitor"); err != nil {
			t.Fatal(err)
		}
		s, _ := settlement.Load(ctxT(t), st.DB, *ch.SettlementID)
		hs, _ := settlement.Histories(ctxT(t), st.DB, s.ID)
		if s.Status != settlement.Pending || len(hs) != 1 || w.charges(c.ID)[0].Status != settlement.Pending {
			t.Fatalf("settlement %s with %d history rows", s.Status, len(hs))
		}
		if _, n, _ := errlog.List(ctxT(t), st.DB, 10, 0); n != 0 || events() != 0 {
			t.Fatalf("%d error-log rows, %d events", n, events())
		}
	})

	t.Run("while its lease runs, another runner leaves it to its holder", func(t *testing.T) {
		other, _ := w.engine(st, nil, continuation.Options{Clock: clockwork.NewFakeClockAt(claimedAt.Add(time.Minute)), MaxWait: 300 * time.Millisecond})
		rep, err := other.Run(ctxT(t), date("2024-05-10"))
		if err != nil || rep.Claimed != 0 || rep.GivenBack != 0 || rep.Mailed {
			t.Fatalf("run: %+v %v", rep, err)
		}
	})

	t.Run("once the lease has run out, the next run gives it back and charges it once", func(t *testing.T) {
		next := w.runner(st, nil, clockwork.NewFakeClockAt(claimedAt.Add(10*time.Minute)))
		rep, err := next.Run(ctxT(t), date("2024-05-10"))
		if err != nil || rep.GivenBack != 1 || rep.Claimed != 1 || rep.Charged != 1 || !rep.Mailed {
			t.Fatalf("run: %+v %v", rep, err)
		}
		chs := w.charges(c.ID)
		if len(chs) != 1 || chs[0].ID == ch.ID || chs[0].Attempt != 1 || chs[0].SettledPeriod.String() != "2024-05-10" {
			t.Fatalf("charges %+v", chs)
		}
		if _, err := settlement.Load(ctxT(t), st.DB, *ch.SettlementID); err == nil {
			t.Fatal("the settlement of the period given back is still there")
		}
		if got := w.reload(c.ID).NextCharging.String(); got != "2024-06-10" {
			t.Fatalf("次回課金日 %s", got)
		}
		if n := len(w.sb.Transactions(sbShop.PublicKey)); n != 2 { // the first order's and this charge
			t.Fatalf("atone holds %d transactions", n)
		}
		w.dispatch()
		if got := w.smtp.To(to); len(got) != 1 || !strings.Contains(got[0].Body, "処理結果 : 正常") {
			t.Fatalf("contractor mails %+v", got)
		}
		if got := w.smtp.To(adminMail); len(got) != 1 || !strings.Contains(got[0].Body, "正常 : 1\n異常 : 0\n") {
			t.Fatalf("admin mails %+v", got)
		}
		if events() != 1 {
			t.Fatalf("%d continuation events", events())
		}
	})
}

// The daemon's share of the janitor gives back, on any replica, the periods of a runner that
// died, as soon as their lease runs out, rather than leaving them 処理中 with 次回課金日
// moved on until the next run; and it sends the result mail of a day whose runner died once
// every claim of it is settled.
func TestContinuationRecoverAfterRunnerDied(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	paid := w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10, email: "paid@example.jp"})
	claimedAt := tokyoAt(2024, 5, 10, 1, 0)
	r := w.runner(st, nil, clockwork.NewFakeClockAt(claimedAt))
	if rep, err := r.Run(ctxT(t), date("2024-05-10")); err != nil || rep.Charged != 1 {
		t.Fatalf("run: %+v %v", rep, err)
	}
	w.dispatch()
	if got := w.smtp.To(adminMail); len(got) != 1 {
		t.Fatalf("admin mails %+v", got)
	}
	// The next day a runner charges one contract and dies before sending the other.
	one := w.create(spec{ordered: tokyoAt(2024, 4, 11, 9, 0), frequency: 1, chargingDay: 11, email: "one@example.jp"})
	_, ss := w.engine(st, nil, continuation.Options{})
	dying := continuation.NewRunner(st, w.box, w.mods, diesBeforeSending{ss},
		continuation.Options{Clock: clockwork.NewFakeClockAt(claimedAt.AddDate(0, 0, 1)), Log: quiet(), MaxWait: time.Millisecond})
	if rep, _ := dying.Run(ctxT(t), date("2024-05-11")); rep.Claimed != 1 {
		t.Fatalf("run: %+v", rep)
	}
	recoverAt := func(at time.Time) error {
		return w.runner(st, nil, clockwork.NewFakeClockAt(at)).Recover(ctxT(t))
	}

	t.Run("within the lease nothing is given back", func(t *testing.T) {
		if err := recoverAt(claimedAt.AddDate(0, 0, 1).Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if chs := w.charges(one.ID); len(chs) != 1 || chs[0].Status != settlement.Pending {
			t.Fatalf("charges %+v", chs)
		}
	})
	t.Run("after it the period is given back and 次回課金日 returns", func(t *testing.T) {
		if err := recoverAt(claimedAt.AddDate(0, 0, 1).Add(5 * time.Minute)); err != nil {
			t.Fatal(err)
		}
		if chs := w.charges(one.ID); len(chs) != 0 {
			t.Fatalf("charges %+v", chs)
		}
		if got := w.reload(one.ID).NextCharging.String(); got != "2024-05-11" {
			t.Fatalf("次回課金日 %s", got)
		}
		if got := w.reload(paid.ID).NextCharging.String(); got != "2024-06-10" {
			t.Fatalf("the paid contract's 次回課金日 %s", got)
		}
		w.dispatch()
		if got := w.smtp.To(adminMail); len(got) != 1 {
			t.Fatalf("a result mail for a day with no charge: %+v", got)
		}
	})
	t.Run("the next day's run charges it, in that day's result mail", func(t *testing.T) {
		r := w.runner(st, nil, clockwork.NewFakeClockAt(claimedAt.AddDate(0, 0, 2)))
		rep, err := r.Run(ctxT(t), date("2024-05-12"))
		if err != nil || rep.Charged != 1 || !rep.Mailed {
			t.Fatalf("run: %+v %v", rep, err)
		}
		if chs := w.charges(one.ID); len(chs) != 1 || chs[0].Period.String() != "2024-05-11" || chs[0].RunDate.String() != "2024-05-12" {
			t.Fatalf("charges %+v", chs)
		}
		w.dispatch()
		if got := w.smtp.To(adminMail); len(got) != 2 || !strings.Contains(got[1].Subject, "2024-05-12") {
			t.Fatalf("admin mails %+v", got)
		}
	})
}

// A run stopped mid-way (the daemon's SIGTERM) sends nothing more: the calls in flight finish
// on their own context and are recorded with their answers, the periods it had not sent are
// given back, and the report counts what happened. The next run charges the rest, and the
// day's result mail goes out once, with every charge.
func TestContinuationRunStopped(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	const n = 12
	for range n {
		w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10})
	}
	// atone takes 1.5 s to answer: the stop comes while calls are in flight.
	if err := w.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Path: "/v1/transactions", Method: http.MethodPost, Latency: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(tokyoAt(2024, 5, 10, 1, 0))
	r, _ := w.engine(st, nil, continuation.Options{Clock: clock, Workers: 3})
	ctx, stop := context.WithCancel(ctxT(t))
	go func() {
		defer stop()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var open int64
			st.DB.Table("settlement_attempts").Where("state = ?", settlement.AttemptOpen).Count(&open)
			if open == 3 {
				return
			}
		}
	}()
	var rep continuation.Report
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep, err = r.Run(ctx, date("2024-05-10"))
	}()
	<-ctx.Done()
	// What the daemon does at shutdown before it stops the adapters.
	if err := r.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %+v %v", rep, err)
	}

	t.Run("the calls in flight are recorded with their answers", func(t *testing.T) {
		if rep.Charged != 3 || rep.Unknown != 0 || rep.Failed != 0 || rep.Claimed != 3+rep.GivenBack || rep.Mailed {
			t.Fatalf("report %+v", rep)
		}
		var pending, charged int64
		st.DB.Model(&continuation.Charge{}).Where("status = ?", settlement.Pending).Count(&pending)
		st.DB.Model(&continuation.Charge{}).Where("settled_period IS NOT NULL").Count(&charged)
		if pending != 0 || charged != 3 {
			t.Fatalf("%d pending, %d charged", pending, charged)
		}
	})
	t.Run("the next run charges the rest, and the day's mail goes out once", func(t *testing.T) {
		w.sb.ClearFaults()
		rep, err := w.runner(st, nil, clock).Run(ctxT(t), date("2024-05-10"))
		if err != nil || rep.Charged != n-3 || !rep.Mailed {
			t.Fatalf("run: %+v %v", rep, err)
		}
		var charges, settled int64
		st.DB.Model(&continuation.Charge{}).Count(&charges)
		st.DB.Model(&continuation.Charge{}).Where("settled_period IS NOT NULL").Count(&settled)
		if charges != n || settled != n {
			t.Fatalf("%d charges, %d settled", charges, settled)
		}
		w.dispatch()
		if got := w.smtp.To(adminMail); len(got) != 1 || !strings.Contains(got[0].Body, "正常 : 12\n異常 : 0\n") {
			t.Fatalf("admin mails %+v", got)
		}
	})
}
