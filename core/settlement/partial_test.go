package settlement_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// held is a transaction as the test provider holds it.
type held struct {
	State  plugins.State
	Amount int64
}

// provider reads the test provider's ledger (its state file) and asks the adapter's 参照, and
// fails unless both say the same of the settlement's transaction.
func (w *world) provider(t *testing.T, s *settlement.Settlement) held {
	t.Helper()
	b, err := os.ReadFile(w.h.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	var ledger struct{ Txs map[string]held }
	if err := json.Unmarshal(b, &ledger); err != nil {
		t.Fatal(err)
	}
	got, ok := ledger.Txs[s.WcTransID]
	if !ok {
		t.Fatalf("the provider holds no %s", s.WcTransID)
	}
	ref, err := w.h.Adapter(t).Reference(context.Background(), plugins.ReferenceRequest{ProviderID: s.WcTransID})
	if err != nil || ref.State != got.State || ref.Amount != got.Amount {
		t.Fatalf("参照 %+v %v, ledger %+v", ref, err, got)
	}
	return got
}

// agree fails unless kessai's record and the provider's are status and amount, as wanted.
func (w *world) agree(t *testing.T, s *settlement.Settlement, status settlement.Status, amount int64) {
	t.Helper()
	got := w.load(t, s)
	p := w.provider(t, got)
	want := map[settlement.Status]plugins.State{settlement.Authorized: plugins.StateAuthorized,
		settlement.Captured: plugins.StateCaptured, settlement.Cancelled: plugins.StateCancelled}[status]
	if got.Status != status || got.Amount != amount || p.State != want || (status != settlement.Cancelled && p.Amount != amount) {
		t.Fatalf("kessai %s %d, provider %s %d; want %s %d", got.Status, got.Amount, p.State, p.Amount, status, amount)
	}
}

// lastHistory and lastAttempt are the settlement's latest history row and attempt.
func (w *world) lastHistory(t *testing.T, s *settlement.Settlement) settlement.History {
	t.Helper()
	hs, err := settlement.Histories(context.Background(), w.db, s.ID)
	if err != nil || len(hs) == 0 {
		t.Fatalf("history: %d rows, %v", len(hs), err)
	}
	return hs[len(hs)-1]
}

func (w *world) lastAttempt(t *testing.T, s *settlement.Settlement) settlement.Attempt {
	t.Helper()
	as, err := settlement.Attempts(context.Background(), w.db, s.ID)
	if err != nil || len(as) == 0 {
		t.Fatalf("attempts: %d rows, %v", len(as), err)
	}
	return as[len(as)-1]
}

// TestPartialAmounts: a module that announces CanPartial captures part of an authorization
// and cancels part of a settlement; kessai and the provider agree on status and amount after
// each step, and the attempts keep what was asked.
func TestPartialAmounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()

	t.Run("partial 売上計上, then 一部取消, then 取消 of the rest", func(t *testing.T) {
		s := w.authorized(t)
		r, err := w.sv.CaptureAmount(ctx, 0, s.ID, 1500, "test")
		if err != nil || r.Outcome != plugins.Processed || r.Settlement.Status != settlement.Captured || r.Settlement.Amount != 1500 {
			t.Fatalf("partial capture: %+v %v", r, err)
		}
		w.agree(t, s, settlement.Captured, 1500)
		h := w.lastHistory(t, s)
		if h.Operation != settlement.OpCapture || h.Amount != 1500 || !strings.Contains(h.Message, "一部売上計上 1500円") {
			t.Fatalf("history %+v", h)
		}
		a := w.lastAttempt(t, s)
		if a.Kind != settlement.OpCapture || a.Amount != 1500 || !strings.Contains(a.Request, `"before":2000`) {
			t.Fatalf("attempt %+v", a)
		}

		r, err = w.sv.CancelAmount(ctx, 0, s.ID, 400, "test")
		if err != nil || r.Settlement.Status != settlement.Captured || r.Settlement.Amount != 1100 {
			t.Fatalf("一部取消: %+v %v", r, err)
		}
		w.agree(t, s, settlement.Captured, 1100)
		h = w.lastHistory(t, s)
		if h.Operation != settlement.OpRefund || h.Operation.Label() != "一部取消" || h.Amount != 1100 ||
			h.StatusFrom != settlement.Captured || h.StatusTo != settlement.Captured || !strings.Contains(h.Message, "一部取消 400円（残額 1100円）") {
			t.Fatalf("history %+v", h)
		}
		if a := w.lastAttempt(t, s); a.Kind != settlement.OpRefund || a.Amount != 400 || a.State != settlement.AttemptDone {
			t.Fatalf("attempt %+v", a)
		}

		r, err = w.sv.CancelAmount(ctx, 0, s.ID, 1100, "test")
		if err != nil || r.Settlement.Status != settlement.Cancelled {
			t.Fatalf("取消 of the rest: %+v %v", r, err)
		}
		w.agree(t, s, settlement.Cancelled, 1100)
		if h := w.lastHistory(t, s); h.Operation != settlement.OpCancel {
			t.Fatalf("history %+v", h)
		}
		if a := w.lastAttempt(t, s); a.Kind != settlement.OpCancel || a.Request != "" {
			t.Fatalf("the whole rest was not a full 取消: %+v", a)
		}
	})

	t.Run("一部取消 of 仮売上 keeps it authorized; the whole amount is a full 売上計上", func(t *testing.T) {
		s := w.authorized(t)
		if r, err := w.sv.CancelAmount(ctx, 0, s.ID, 500, "test"); err != nil || r.Settlement.Status != settlement.Authorized {
			t.Fatalf("一部取消: %+v %v", r, err)
		}
		w.agree(t, s, settlement.Authorized, 1500)
		if r, err := w.sv.CaptureAmount(ctx, 0, s.ID, 1500, "test"); err != nil || r.Settlement.Status != settlement.Captured {
			t.Fatalf("capture: %+v %v", r, err)
		}
		w.agree(t, s, settlement.Captured, 1500)
		if a := w.lastAttempt(t, s); a.Kind != settlement.OpCapture || a.Request != "" {
			t.Fatalf("a capture of the whole amount was sent as partial: %+v", a)
		}
	})

	t.Run("an answer for another amount is not believed", func(t *testing.T) {
		s := w.authorized(t)
		w.h.Switch(t, "Capture", plugintest.WrongAmount, 1)
		r, err := w.sv.CaptureAmount(ctx, 0, s.ID, 1200, "test")
		if err != nil || r.Settlement.Status != settlement.Unknown {
			t.Fatalf("capture answered for 1201 yen: %+v %v", r, err)
		}
		w.due(t, s)
		if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		w.agree(t, s, settlement.Captured, 1200)
	})
}

// TestPartialAmountsRefused: an amount out of range, or a partial one for a module that does
// not announce CanPartial, is refused as invalid input on the field amount, before any claim,
// attempt or call.
func TestPartialAmountsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	refused := func(t *testing.T, w *world, s *settlement.Settlement, want error, call func() (settlement.Result, error)) {
		t.Helper()
		before := w.load(t, s)
		_, err := call()
		d := fault.Of(err)
		if !errors.Is(err, want) || d.Kind != fault.Invalid || d.Field != "amount" {
			t.Fatalf("%v (%+v), want %v", err, d, want)
		}
		after := w.load(t, s)
		if after.Status != before.Status || after.Amount != before.Amount || after.Version != before.Version || after.ClaimedBy != "" {
			t.Fatalf("the settlement moved: %+v", after)
		}
		var n int64
		if err := w.db.Model(&settlement.Attempt{}).Where("settlement_id = ? AND kind <> ?", s.ID, settlement.OpConfirm).Count(&n).Error; err != nil || n != 0 {
			t.Fatalf("%d attempts written (%v)", n, err)
		}
		for _, op := range []string{"Capture", "Cancel"} {
			if sw := armed(t, w); sw[op].Mode != plugintest.Decline {
				t.Fatalf("the adapter was called for %s: its switch is %+v", op, sw[op])
			}
		}
	}
	arm := func(t *testing.T, w *world) {
		// Each switch would decline the call it met; still armed at the end, it met none.
		w.h.Switch(t, "Capture", plugintest.Decline, 1)
		w.h.Switch(t, "Cancel", plugintest.Decline, 1)
	}

	t.Run("a module without CanPartial", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, moduletest.Without(plugins.CanPartial))
		s := w.authorized(t)
		arm(t, w)
		if ok, err := w.sv.Offers(ctx, moduletest.Slug, settlement.OpRefund); ok || err != nil {
			t.Fatalf("Offers(refund) = %v, %v", ok, err)
		}
		refused(t, w, s, settlement.ErrPartialUnsupported, func() (settlement.Result, error) { return w.sv.CaptureAmount(ctx, 0, s.ID, 1500, "test") })
		refused(t, w, s, settlement.ErrPartialUnsupported, func() (settlement.Result, error) { return w.sv.CancelAmount(ctx, 0, s.ID, 1, "test") })
		if _, err := w.sv.CaptureAmount(ctx, 0, s.ID, 1500, "test"); !strings.Contains(fault.Of(err).Message, "一部の売上計上・取消に対応していません") {
			t.Fatalf("message %q", fault.Of(err).Message)
		}
	})

	t.Run("more than the settlement's amount, or less than nothing", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		s := w.authorized(t)
		arm(t, w)
		refused(t, w, s, settlement.ErrAmount, func() (settlement.Result, error) { return w.sv.CaptureAmount(ctx, 0, s.ID, 2001, "test") })
		refused(t, w, s, settlement.ErrAmount, func() (settlement.Result, error) { return w.sv.CancelAmount(ctx, 0, s.ID, 2001, "test") })
		refused(t, w, s, settlement.ErrAmount, func() (settlement.Result, error) { return w.sv.CaptureAmount(ctx, 0, s.ID, -1, "test") })
		refused(t, w, s, settlement.ErrAmount, func() (settlement.Result, error) { return w.sv.CancelAmount(ctx, 0, s.ID, -500, "test") })
		if _, err := w.sv.CancelAmount(ctx, 0, s.ID, 2001, "test"); !strings.Contains(fault.Of(err).Message, "2000円") {
			t.Fatalf("message %q", fault.Of(err).Message)
		}
	})
}

// TestPartialAmountLostAnswer: a partial 売上計上 or 一部取消 whose answer is lost is settled by
// the provider's amount, never by sending it again: the attempt says what was asked, and the
// janitor's reference proves whether it happened.
func TestPartialAmountLostAnswer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	// lost runs call with the adapter's switch for op armed as mode, expects 確認中, and lets
	// the janitor look before and after the call's deadline.
	lost := func(t *testing.T, s *settlement.Settlement, op, mode string, call func() (settlement.Result, error)) {
		t.Helper()
		w.h.Switch(t, op, mode, 1)
		r, err := call()
		if err != nil || r.Outcome != plugins.Undefined || r.Settlement.Status != settlement.Unknown {
			t.Fatalf("a lost answer: %+v %v", r, err)
		}
		a := w.lastAttempt(t, s)
		if a.State != settlement.AttemptOpen {
			t.Fatalf("attempt %+v", a)
		}
		w.due(t, s)
		if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if w.load(t, s).Status == settlement.Unknown {
			// Not seen yet proves nothing before the call's deadline.
			w.clock.Advance(w.sv.CallTimeout + time.Hour)
			if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
				t.Fatal(err)
			}
		}
		if a := w.lastAttempt(t, s); a.State != settlement.AttemptDone {
			t.Fatalf("attempt still open after the janitor: %+v", a)
		}
	}
	capture := func(s *settlement.Settlement, amount int64) func() (settlement.Result, error) {
		return func() (settlement.Result, error) { return w.sv.CaptureAmount(ctx, 0, s.ID, amount, "test") }
	}
	cancel := func(s *settlement.Settlement, amount int64) func() (settlement.Result, error) {
		return func() (settlement.Result, error) { return w.sv.CancelAmount(ctx, 0, s.ID, amount, "test") }
	}

	t.Run("a partial 売上計上 that happened is 売上計上 for its amount", func(t *testing.T) {
		s := w.authorized(t)
		lost(t, s, "Capture", plugintest.Undefined, capture(s, 1500))
		w.agree(t, s, settlement.Captured, 1500)
		h := w.lastHistory(t, s)
		if h.Operation != settlement.OpResolve || !strings.Contains(h.Message, "一部売上計上 1500円") {
			t.Fatalf("history %+v", h)
		}
	})
	t.Run("a partial 売上計上 that did not happen is 仮売上 for the whole", func(t *testing.T) {
		s := w.authorized(t)
		lost(t, s, "Capture", plugintest.Error, capture(s, 1500))
		w.agree(t, s, settlement.Authorized, 2000)
		// Nothing was sent again: it may be asked for anew.
		if r, err := w.sv.CaptureAmount(ctx, 0, s.ID, 1800, "test"); err != nil || r.Settlement.Status != settlement.Captured {
			t.Fatalf("capture after recovery: %+v %v", r, err)
		}
		w.agree(t, s, settlement.Captured, 1800)
	})
	t.Run("a 一部取消 that happened leaves the rest", func(t *testing.T) {
		s := w.authorized(t)
		if _, err := w.sv.Capture(ctx, 0, s.ID, "test"); err != nil {
			t.Fatal(err)
		}
		lost(t, s, "Cancel", plugintest.Undefined, cancel(s, 300))
		w.agree(t, s, settlement.Captured, 1700)
		if h := w.lastHistory(t, s); !strings.Contains(h.Message, "一部取消 300円、残額 1700円") {
			t.Fatalf("history %+v", h)
		}
	})
	t.Run("a 一部取消 that did not happen changes nothing", func(t *testing.T) {
		s := w.authorized(t)
		lost(t, s, "Cancel", plugintest.Error, cancel(s, 300))
		w.agree(t, s, settlement.Authorized, 2000)
		if h := w.lastHistory(t, s); !strings.Contains(h.Message, "一部取消は行われていません") {
			t.Fatalf("history %+v", h)
		}
	})
	t.Run("a 一部取消 whose process died after the call", func(t *testing.T) {
		s := w.authorized(t)
		// A process claimed the settlement, wrote its attempt, made the call, and died
		// before it recorded the answer.
		until := w.clock.Now().UTC().Add(w.sv.Lease)
		if err := w.db.Exec("UPDATE settlements SET claimed_by = 'dead', claimed_until = ?, version = version + 1 WHERE id = ?", until, s.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := w.db.Create(&settlement.Attempt{SettlementID: s.ID, Kind: settlement.OpRefund, TargetID: s.WcTransID, Amount: 700,
			Request: `{"amount":700,"before":2000}`, PriorStatus: settlement.Authorized, State: settlement.AttemptOpen, CreatedAt: w.clock.Now().UTC()}).Error; err != nil {
			t.Fatal(err)
		}
		if r, err := w.h.Adapter(t).Cancel(ctx, plugins.CancelRequest{ProviderID: s.WcTransID, Amount: 700}); err != nil || r.Outcome != plugins.Processed {
			t.Fatalf("the dead process's call: %+v %v", r, err)
		}
		w.clock.Advance(w.sv.Lease + time.Second)
		if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		w.agree(t, s, settlement.Authorized, 1300)
	})
}
