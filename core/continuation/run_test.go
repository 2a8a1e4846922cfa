package continuation_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/jst"
	"github.com/kessai/kessai/webhooks/hook"
)

// TestContinuationScheduledRun drives the daily job on a fake clock: the daemon was down at
// 01:00 on 2024-02-28 and comes back at 00:30 on the 29th (a leap day). The job at 01:00
// charges what was due on both days once, the month-end contract comes back to the 31st in
// March, and running the missed days again charges nothing.
func TestContinuationScheduledRun(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(settingsOf(atone.KeyContinuationSalesMode, atone.SalesImmediate))
	monthly := w.create(spec{ordered: tokyoAt(2024, 1, 31, 16, 39), frequency: 1, chargingDay: 99, interval: 12, email: "monthly@example.jp"})
	halfYearly := w.create(spec{ordered: tokyoAt(2023, 8, 31, 10, 0), frequency: 6, chargingDay: 99, email: "half@example.jp"})
	yearlyMissed := w.create(spec{ordered: tokyoAt(2023, 2, 15, 9, 0), frequency: 12, chargingDay: 28, email: "yearly@example.jp"})
	for c, want := range map[int64]string{monthly.ID: "2024-02-29", halfYearly.ID: "2024-02-29", yearlyMissed.ID: "2024-02-28"} {
		if got := w.reload(c).NextCharging.String(); got != want {
			t.Fatalf("contract %d first 次回課金日 %s, want %s", c, got, want)
		}
	}

	clock := clockwork.NewFakeClockAt(tokyoAt(2024, 2, 29, 0, 30))
	sched, err := gocron.NewScheduler(gocron.WithClock(clock), gocron.WithLocation(jst.Tokyo))
	if err != nil {
		t.Fatal(err)
	}
	r := w.runner(st, nil, clock)
	job, err := continuation.ScheduleRun(ctxT(t), sched, r, continuation.NewLocker(st.DB, clock, "replica-a"))
	if err != nil {
		t.Fatal(err)
	}
	sched.Start()
	t.Cleanup(func() { _ = sched.Shutdown() })
	if next, _ := job.NextRun(); !next.Equal(tokyoAt(2024, 2, 29, 1, 0)) {
		t.Fatalf("next run %s, want 2024-02-29 01:00 JST", next.In(jst.Tokyo))
	}

	t.Run("at 01:00 the job charges the due and the missed periods once", func(t *testing.T) {
		_ = clock.BlockUntilContext(ctxT(t), 2)
		clock.Advance(30 * time.Minute)
		waitFor(t, func() bool {
			return len(w.charges(yearlyMissed.ID)) == 1 && w.charges(yearlyMissed.ID)[0].Status != settlement.Pending &&
				len(w.charges(monthly.ID)) == 1 && w.charges(monthly.ID)[0].Status != settlement.Pending &&
				len(w.charges(halfYearly.ID)) == 1 && w.charges(halfYearly.ID)[0].Status != settlement.Pending
		})
		for id, want := range map[int64][2]string{
			monthly.ID:      {"2024-02-29", "2024-03-31"}, // back to the 31st after February
			halfYearly.ID:   {"2024-02-29", "2024-08-31"},
			yearlyMissed.ID: {"2024-02-28", "2025-02-28"}, // the missed day's period, caught up
		} {
			ch := w.charges(id)[0]
			if ch.Period.String() != want[0] || ch.Status != settlement.Captured || ch.SettledPeriod.String() != want[0] {
				t.Errorf("contract %d charge: period %s status %s settled %s, want %s captured", id, ch.Period, ch.Status, ch.SettledPeriod, want[0])
			}
			if got := w.reload(id).NextCharging.String(); got != want[1] {
				t.Errorf("contract %d 次回課金日 %s, want %s", id, got, want[1])
			}
		}
		if got := w.reload(monthly.ID).NextContracting.String(); got != "2025-01-31" {
			t.Errorf("次回契約更新日 %s", got)
		}
	})

	t.Run("running the missed days again charges nothing and mails nobody", func(t *testing.T) {
		waitFor(t, func() bool {
			var n int64
			st.DB.Table("outbox").Where("event_id = ?", "continuation:admin:2024-02-29").Count(&n)
			return n == 1
		})
		for _, d := range []string{"2024-02-28", "2024-02-29"} {
			rep, err := r.Run(ctxT(t), date(d))
			if err != nil || rep.Claimed != 0 || rep.Mailed {
				t.Fatalf("catch-up %s: %+v %v", d, rep, err)
			}
		}
		for _, id := range []int64{monthly.ID, halfYearly.ID, yearlyMissed.ID} {
			if n := len(w.charges(id)); n != 1 {
				t.Fatalf("contract %d has %d charges", id, n)
			}
		}
		w.dispatch()
		admin := w.smtp.To(adminMail)
		if len(admin) != 1 || admin[0].Subject != "自動継続課金処理結果 2024-02-29" || !strings.Contains(admin[0].Body, "正常 : 3\n異常 : 0") {
			t.Fatalf("admin mails: %d %+v", len(admin), admin)
		}
		for _, to := range []string{"monthly@example.jp", "half@example.jp", "yearly@example.jp"} {
			m := w.smtp.To(to)
			if len(m) != 1 || m[0].Subject != "自動継続課金処理のお知らせ" || !strings.Contains(m[0].Body, "処理結果 : 正常") {
				t.Fatalf("mails to %s: %+v", to, m)
			}
		}
		if !strings.Contains(w.smtp.To("monthly@example.jp")[0].Body, "次回課金日 : 2024-03-31") {
			t.Fatalf("contractor mail:\n%s", w.smtp.To("monthly@example.jp")[0].Body)
		}
	})

	t.Run("a second replica's job on the same day does not run", func(t *testing.T) {
		if _, err := continuation.NewLocker(st.DB, clock, "replica-b").Lock(ctxT(t), continuation.JobName); err == nil {
			t.Fatal("replica b took the day's lock")
		}
	})

	t.Run("changing 自動処理の実行時間 reschedules without a restart", func(t *testing.T) {
		sv := continuation.NewService(r)
		if err := sv.SaveSettings(ctxT(t), continuation.Settings{RunTime: "03:25", AdminMail: adminMail}, "test"); err == nil {
			t.Fatal("03:25 accepted: DL Seller offers 10-minute steps")
		}
		if err := sv.SaveSettings(ctxT(t), continuation.Settings{RunTime: "03:20", AdminMail: adminMail}, "test"); err != nil {
			t.Fatal(err)
		}
		if err := job.Refresh(ctxT(t)); err != nil { // what the watcher does each minute
			t.Fatal(err)
		}
		if next, _ := job.NextRun(); !next.Equal(tokyoAt(2024, 2, 29, 3, 20)) {
			t.Fatalf("next run %s, want 2024-02-29 03:20 JST", next.In(jst.Tokyo))
		}
	})
}

func settingsOf(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A charge whose answer is lost leaves its settlement unknown for the janitor; the period is
// never charged a second time, by the next run or by 再決済.
func TestContinuationUndefinedIsNeverChargedTwice(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	c := w.create(spec{ordered: tokyoAt(2024, 3, 1, 12, 0), frequency: 1, chargingDay: 1})
	if err := w.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Path: "/v1/transactions", Method: http.MethodPost, Times: 1}); err != nil {
		t.Fatal(err)
	}
	r := w.runner(st, nil, clockwork.NewFakeClockAt(tokyoAt(2024, 4, 1, 1, 0)))
	rep, err := r.Run(ctxT(t), date("2024-04-01"))
	if err != nil || rep.Unknown != 1 {
		t.Fatalf("run: %+v %v", rep, err)
	}
	ch := w.charges(c.ID)[0]
	s, _ := settlement.Load(ctxT(t), st.DB, *ch.SettlementID)
	if ch.Status != settlement.Unknown || s.Status != settlement.Unknown || !ch.SettledPeriod.IsZero() {
		t.Fatalf("charge %s settlement %s", ch.Status, s.Status)
	}
	before := len(w.sb.Transactions(sbShop.PublicKey))
	if rep, _ := r.Run(ctxT(t), date("2024-04-02")); rep.Claimed != 0 {
		t.Fatalf("the next run claimed %d", rep.Claimed)
	}
	sv := continuation.NewService(r)
	if _, err := sv.Retry(ctxT(t), c.ID, ch.ID, "admin:test"); err == nil {
		t.Fatal("再決済 of an unknown charge was accepted")
	}
	if after := len(w.sb.Transactions(sbShop.PublicKey)); after != before {
		t.Fatalf("the provider got %d more transactions", after-before)
	}
	w.dispatch()
	if m := w.smtp.To("taro@example.jp"); len(m) != 0 {
		t.Fatalf("the contractor was told about an unknown charge: %+v", m)
	}
	if admin := w.smtp.To(adminMail); len(admin) != 1 || !strings.Contains(admin[0].Body, "処理結果 : 確認中") {
		t.Fatalf("admin mail: %+v", admin)
	}
}

// The admin JSON API: edits validated as Welcart does, 停止/再開, the price of future charges,
// and 再決済 of a declined period, refused once the period is paid.
func TestContinuationAdminOperations(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	clock := clockwork.NewFakeClockAt(tokyoAt(2024, 5, 10, 9, 0))
	r := w.runner(st, nil, clock)
	sv := continuation.NewService(r)
	engine := gin.New()
	continuation.MountAdmin(engine.Group("/admin/api"), sv)
	continuation.Mount(engine.Group("/api/v1"), func(*gin.Context) int64 { return w.shopID }, sv)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	c := w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10, phone: sandbox.NGMemberPhone, email: "ng@example.jp"})
	id := func(p string) string { return strings.ReplaceAll(p, "{id}", jsonInt(c.ID)) }
	var ok continuation.Contract

	t.Run("次回課金日 must be tomorrow or later", func(t *testing.T) {
		code, out := call(http.MethodPatch, id("/admin/api/continuations/{id}"), map[string]any{"next_charging": "2024-05-10"})
		if code != http.StatusUnprocessableEntity || !strings.Contains(jsonString(out), "次回課金日は2024-05-11以降で指定してください。") {
			t.Fatalf("%d %v", code, out)
		}
	})
	t.Run("the declined member's charge is 決済エラー with an error log row and mail", func(t *testing.T) {
		rep, err := r.Run(ctxT(t), date("2024-05-10"))
		if err != nil || rep.Failed != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		rows, _, _ := errlog.List(ctxT(t), st.DB, 10, 0)
		if len(rows) != 1 || rows[0].Result != "ATONE CONTINUATION NG" {
			t.Fatalf("error log %+v", rows)
		}
		if n, _ := errlog.Notice(ctxT(t), st.DB); n.IsZero() {
			t.Fatal("no admin notice")
		}
		w.dispatch()
		m := w.smtp.To("ng@example.jp")
		if len(m) != 1 || !strings.Contains(m[0].Body, "自動課金処理にてエラーが発生いたしましたのでご報告いたします。") || !strings.Contains(m[0].Body, "処理結果 : エラー") {
			t.Fatalf("contractor mails %+v", m)
		}
	})
	t.Run("a new price applies to future charges only", func(t *testing.T) {
		code, out := call(http.MethodPatch, id("/admin/api/continuations/{id}"), map[string]any{"price": 2500})
		if code != http.StatusOK || out["price"].(float64) != 2500 {
			t.Fatalf("%d %v", code, out)
		}
		if ch := w.charges(c.ID)[0]; ch.Amount != 1980 {
			t.Fatalf("the past charge became %d", ch.Amount)
		}
	})
	t.Run("再決済 while the member is still NG adds a failed attempt", func(t *testing.T) {
		first := w.charges(c.ID)[0]
		code, out := call(http.MethodPost, id("/admin/api/continuations/{id}/charges/")+jsonInt(first.ID)+"/retry", nil)
		if code != http.StatusOK || out["outcome"] != "declined" {
			t.Fatalf("%d %v", code, out)
		}
		chs := w.charges(c.ID)
		if len(chs) != 2 || chs[1].Attempt != 2 || chs[1].Period != first.Period || chs[1].Amount != 1980 {
			t.Fatalf("charges %+v", chs)
		}
	})
	t.Run("停止 then 再開 asks for a future 次回課金日", func(t *testing.T) {
		if code, out := call(http.MethodPatch, id("/admin/api/continuations/{id}"), map[string]any{"status": "cancellation"}); code != http.StatusOK || out["status_label"] != "停止中" {
			t.Fatalf("%d %v", code, out)
		}
		if rep, _ := r.Run(ctxT(t), date("2024-07-10")); rep.Claimed != 0 {
			t.Fatal("a stopped contract was charged")
		}
		if code, _ := call(http.MethodPatch, id("/admin/api/continuations/{id}"), map[string]any{"status": "continuation"}); code != http.StatusOK {
			t.Fatalf("resume with 2024-06-10: %d", code) // still after tomorrow (2024-05-11)
		}
	})
	t.Run("再決済 is refused once the period is paid", func(t *testing.T) {
		// The member's limit is gone: pay the period through a contract of the OK member.
		ok = w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10})
		if rep, _ := r.Run(ctxT(t), date("2024-05-10")); rep.Charged != 1 {
			t.Fatalf("%+v", rep)
		}
		paid := w.charges(ok.ID)[0]
		if _, err := sv.Retry(ctxT(t), ok.ID, paid.ID, "admin:test"); err == nil {
			t.Fatal("再決済 of a paid charge accepted")
		}
		code, out := call(http.MethodGet, "/api/v1/orders/"+jsonInt(ok.OrderID)+"/continuation", nil)
		charges, _ := out["charges"].([]any)
		if code != http.StatusOK || out["next_charging"] != "2024-06-10" || len(charges) != 1 ||
			!strings.HasPrefix(charges[0].(map[string]any)["provider_id"].(string), "tr_") {
			t.Fatalf("%d %v", code, out)
		}
	})
}

func TestContinuationChargeCancelThroughSettlementService(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	c := w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10})
	r := w.runner(st, nil, clockwork.NewFakeClockAt(tokyoAt(2024, 5, 10, 1, 0)))
	if rep, err := r.Run(ctxT(t), date("2024-05-10")); err != nil || rep.Charged != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	sv := continuation.NewService(r)
	ch := w.charges(c.ID)[0]
	res, err := sv.Cancel(ctxT(t), c.ID, ch.ID, "admin:test")
	if err != nil || res.Settlement.Status != settlement.Cancelled {
		t.Fatalf("取消: %+v %v", res, err)
	}
	ch = w.charges(c.ID)[0]
	if ch.Status != settlement.Cancelled || ch.SettledPeriod.IsZero() {
		t.Fatalf("charge after 取消: %s settled %s", ch.Status, ch.SettledPeriod)
	}
	if _, err := sv.Retry(ctxT(t), c.ID, ch.ID, "admin:test"); err == nil {
		t.Fatal("a cancelled period was charged again (Welcart: 決済取消後に同じデータで再決済することは出来ません)")
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// A contract several periods behind (the daemon was down for months) is charged one period
// per run, never all of them at once; each later run catches up one more.
func TestContinuationOverdueContractOnePeriodPerRun(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	w.useInProcess(nil)
	c := w.create(spec{ordered: tokyoAt(2024, 1, 10, 12, 0), frequency: 1, chargingDay: 10})
	r := w.runner(st, nil, clockwork.NewFakeClockAt(tokyoAt(2024, 5, 20, 1, 0)))
	rep, err := r.Run(ctxT(t), date("2024-05-20"))
	if err != nil || rep.Charged != 1 {
		t.Fatalf("first run: %+v %v", rep, err)
	}
	if n := len(w.charges(c.ID)); n != 1 {
		t.Fatalf("%d charges after one run of an overdue contract", n)
	}
	if rep, err := r.Run(ctxT(t), date("2024-05-20")); err != nil || rep.Claimed != 0 {
		t.Fatalf("the same day again: %+v %v", rep, err)
	}
	if rep, err := r.Run(ctxT(t), date("2024-05-21")); err != nil || rep.Charged != 1 {
		t.Fatalf("next day: %+v %v", rep, err)
	}
	chs := w.charges(c.ID)
	if len(chs) != 2 || chs[0].Period == chs[1].Period {
		t.Fatalf("charges %+v", chs)
	}
}

// With 自動継続課金完了メール off the contractor gets no mail, while the shop still hears of
// the charge. The switch is read in the transaction that records the answer, on SQLite's
// single connection, with the module host running beside it.
func TestContinuationMailOff(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld(t, st)
	host := w.atoneHost(st, true, settingsOf(atone.KeyContinuationMail, atone.MailOff))
	if _, _, err := hook.NewEndpoints(st.DB, w.box, hook.Policy{AllowHTTP: true, AllowPrivate: true}).Create(ctxT(t), w.shopID, "http://127.0.0.1:9/kessai", []hook.Type{hook.ContinuationCharged}); err != nil {
		t.Fatal(err)
	}
	const to = "quiet@example.jp"
	c := w.create(spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10, email: to})
	r := w.runner(st, host, clockwork.NewFakeClockAt(tokyoAt(2024, 5, 10, 1, 0)))
	if rep, err := r.Run(ctxT(t), date("2024-05-10")); err != nil || rep.Charged != 1 {
		t.Fatalf("run: %+v %v", rep, err)
	}
	var events int64
	st.DB.Table("outbox").Where("kind = ? AND payload LIKE ?", hook.Kind, `%"continuation.charged"%`).Count(&events)
	if ch := w.charges(c.ID)[0]; events != 1 || ch.SettledPeriod.IsZero() {
		t.Fatalf("%d events, charge %+v", events, ch)
	}
	w.dispatch()
	if got := w.smtp.To(to); len(got) != 0 {
		t.Fatalf("the contractor was mailed: %+v", got)
	}
	if got := w.smtp.To(adminMail); len(got) != 1 {
		t.Fatalf("admin mails %+v", got)
	}
}
