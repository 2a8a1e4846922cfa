package continuation_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/metrics"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/webhooks/hook"
	"github.com/kessai/kessai/webhooks/inbound"
)

// TestContinuationLateAnswer: on MariaDB, through the kessai-atone binary, atone takes a
// charge and the answer is lost. The run leaves it 確認中 and moves the contract on without
// telling anyone; atone's payment notification then proves it, and the contract's side
// follows as if the answer had come in time: 仮売上, one continuation.charged and one mail to
// the contractor. Hearing it again, from atone or from the janitor, changes nothing.
func TestContinuationLateAnswer(t *testing.T) {
	st := openShared(t, 1)[0]
	w := newWorld(t, st)
	host := w.atoneHost(st, true, settingsOf(atone.KeyContinuationSalesMode, atone.SalesProvisional))
	m := metrics.New()
	r, ss := w.engine(st, host, continuation.Options{Clock: clockwork.NewFakeClockAt(tokyoAt(2024, 4, 1, 1, 0))})
	ss.OnCall = m.AdapterCall
	janitor := clockwork.NewFakeClockAt(time.Now())
	ss.Clock = janitor
	// The daemon's front door for atone's notifications, and its metrics.
	engine := gin.New()
	inbound.Mount(engine, inbound.Deps{Store: st, Adapters: host, Settlements: ss, Orders: order.New(st.DB), Log: quiet()})
	m.Mount(engine, "")
	serve := func(method, path string, body []byte) (int, string) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	// The shop listens to every event; deliveries stay queued, to be counted.
	if _, _, err := hook.NewEndpoints(st.DB, w.box, hook.Policy{AllowHTTP: true, AllowPrivate: true}).Create(ctxT(t), w.shopID, "http://127.0.0.1:9/kessai", []hook.Type{hook.AllTypes}); err != nil {
		t.Fatal(err)
	}
	events := func(typ hook.Type) int64 {
		t.Helper()
		var n int64
		if err := st.DB.Table("outbox").Where("kind = ? AND payload LIKE ?", hook.Kind, `%"type":"`+string(typ)+`"%`).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	const to = "late@example.jp"
	c := w.create(spec{ordered: tokyoAt(2024, 3, 1, 12, 0), frequency: 1, chargingDay: 1, email: to})
	if err := w.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Path: "/v1/transactions", Method: http.MethodPost, Times: 1}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctxT(t), date("2024-04-01"))
	if err != nil || rep.Claimed != 1 || rep.Unknown != 1 {
		t.Fatalf("run: %+v %v", rep, err)
	}
	ch := w.charges(c.ID)[0]
	s, err := settlement.Load(ctxT(t), st.DB, *ch.SettlementID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the lost answer leaves the charge 確認中, the contract moved on, nobody told", func(t *testing.T) {
		if ch.Status != settlement.Unknown || s.Status.Label() != "確認中" || !ch.SettledPeriod.IsZero() || s.WcTransID != "" {
			t.Fatalf("charge %s settlement %s settled %s provider id %q", ch.Status, s.Status, ch.SettledPeriod, s.WcTransID)
		}
		if got := w.reload(c.ID); got.NextCharging.String() != "2024-05-01" {
			t.Fatalf("次回課金日 %s", got.NextCharging)
		}
		if n := events(hook.ContinuationCharged) + events(hook.ContinuationFailed); n != 0 {
			t.Fatalf("%d continuation events for an unknown charge", n)
		}
		w.dispatch()
		if got := w.smtp.To(to); len(got) != 0 {
			t.Fatalf("the contractor was told about an unknown charge: %+v", got)
		}
	})

	// What atone posts to its payment webhook: the transaction, named by the charge's own
	// shop_transaction_no.
	var notice []byte
	for _, tr := range w.sb.Transactions(sbShop.PublicKey) {
		if tr.ShopTransactionNo == s.Attempt {
			notice, _ = json.Marshal(tr)
		}
	}
	if notice == nil {
		t.Fatalf("atone holds no transaction %s", s.Attempt)
	}

	t.Run("atone's notification proves it 仮売上: one continuation.charged, one mail", func(t *testing.T) {
		if code, body := serve(http.MethodPost, "/webhooks/atone", notice); code != http.StatusOK || !strings.Contains(body, `"referenced"`) {
			t.Fatalf("webhook: %d %s", code, body)
		}
		now, _ := settlement.Load(ctxT(t), st.DB, s.ID)
		ch := w.charges(c.ID)[0]
		if now.Status != settlement.Authorized || !strings.HasPrefix(now.WcTransID, "tr_") ||
			ch.Status != settlement.Authorized || ch.SettledPeriod.String() != "2024-04-01" {
			t.Fatalf("settlement %s %q, charge %s settled %s", now.Status, now.WcTransID, ch.Status, ch.SettledPeriod)
		}
		if n := events(hook.ContinuationCharged); n != 1 {
			t.Fatalf("%d continuation.charged events", n)
		}
		if n := events(hook.SettlementAuthorized); n != 0 {
			t.Fatalf("%d settlement.authorized events for a charge", n)
		}
		w.dispatch()
		got := w.smtp.To(to)
		if len(got) != 1 || !strings.Contains(got[0].Body, "処理結果 : 正常") || !strings.Contains(got[0].Body, now.WcTransID) ||
			!strings.Contains(got[0].Body, "次回課金日 : 2024-05-01") {
			t.Fatalf("contractor mails %+v", got)
		}
	})

	t.Run("hearing it again, from atone or the janitor, adds nothing", func(t *testing.T) {
		if code, body := serve(http.MethodPost, "/webhooks/atone", notice); code != http.StatusOK {
			t.Fatalf("webhook again: %d %s", code, body)
		}
		janitor.Advance(time.Hour)
		if _, err := ss.ResolveDue(ctxT(t), 50); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Resolve(ctxT(t), s.ID, "janitor"); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Reference(ctxT(t), 0, s.ID, "admin:test"); err != nil {
			t.Fatal(err)
		}
		if n := events(hook.ContinuationCharged) + events(hook.ContinuationFailed); n != 1 {
			t.Fatalf("%d continuation events", n)
		}
		var mails int64
		st.DB.Table("outbox").Where("event_id = ?", fmt.Sprintf("continuation:charge:%d:contractor", ch.ID)).Count(&mails)
		w.dispatch()
		if got := w.smtp.To(to); len(got) != 1 || mails != 1 {
			t.Fatalf("%d mails sent, %d queued", len(got), mails)
		}
	})

	t.Run("/metrics counts the charge call", func(t *testing.T) {
		code, body := serve(http.MethodGet, "/metrics", nil)
		if code != http.StatusOK || !strings.Contains(body, `kessai_adapter_call_duration_seconds_count{module="atone",op="charge",outcome="undefined"} 1`) {
			t.Fatalf("metrics %d:\n%s", code, grepLines(body, "kessai_adapter_call_duration_seconds_count"))
		}
	})
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
