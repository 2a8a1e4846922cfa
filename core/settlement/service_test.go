package settlement_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// world is a settlement service over a real test adapter subprocess on MariaDB.
type world struct {
	h     *moduletest.Harness
	sv    *settlement.Service
	db    *gorm.DB
	clock *clockwork.FakeClock // the store's and the service's
	n     int
}

func newWorld(t *testing.T, opts ...moduletest.Option) *world {
	clock := clockwork.NewFakeClockAt(time.Now())
	st := storetest.MySQL(t, storetest.Clock(clock))
	h := moduletest.Start(t, append([]moduletest.Option{moduletest.WithStore(st)}, opts...)...)
	sv := settlement.NewService(st, h.Host, slog.New(slog.DiscardHandler))
	now := clock.Now().UTC()
	if err := st.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('s', ?)", now).Error; err != nil {
		t.Fatal(err)
	}
	return &world{h: h, sv: sv, db: st.DB, clock: clock}
}

// authorized makes an order and an authorized settlement of 2000 yen through the adapter.
func (w *world) authorized(t *testing.T) *settlement.Settlement {
	t.Helper()
	ctx := context.Background()
	w.n++
	now := w.clock.Now().UTC()
	res := w.db.Exec("INSERT INTO orders (shop_id, order_number, order_total_full_price, order_date, created_at, updated_at) VALUES (1, ?, 2000, ?, ?, ?)",
		w.n, now, now, now)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	var oid int64
	w.db.Raw("SELECT MAX(id) FROM orders").Scan(&oid)
	s := settlement.New(oid, 1, 2000, moduletest.Slug, moduletest.Code)
	if err := settlement.Create(ctx, w.db, s, settlement.History{Operation: settlement.OpCheckout, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	po := plugins.Order{ID: oid, Amount: 2000, Customer: plugins.Customer{FamilyName: "注文", Email: "taro@example.jp"},
		Lines: []plugins.Line{{Kind: plugins.LineItem, Name: "商品", Price: 2000, Quantity: 1}}}
	r, err := w.sv.Confirm(ctx, s.ID, []byte(`{"id": "tm_`+s.TransID+`", "authorization_result": 1}`), po, "test")
	if err != nil || r.Settlement.Status != settlement.Authorized {
		t.Fatalf("confirm: %+v %v", r, err)
	}
	return r.Settlement
}

// due lets the janitor's backoff pass, and no more: the clock moves to its next look.
func (w *world) due(t *testing.T, s *settlement.Settlement) {
	t.Helper()
	if next := w.load(t, s).ResolveAfter; next != nil && next.After(w.clock.Now()) {
		w.clock.Advance(next.Sub(w.clock.Now()))
	}
}

func (w *world) load(t *testing.T, s *settlement.Settlement) *settlement.Settlement {
	t.Helper()
	got, err := settlement.Load(context.Background(), w.db, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func count(hs []settlement.History, op settlement.Operation, outcome string) int {
	n := 0
	for _, h := range hs {
		if h.Operation == op && h.Outcome == outcome {
			n++
		}
	}
	return n
}

// Not in parallel: it waits for real restarts of a crashed adapter, which a busy machine slows.
func TestCaptureAfterAdapterCrash(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	clock := w.clock

	t.Run("a crash before the provider moved money: unknown, then the janitor finds it authorized", func(t *testing.T) {
		s := w.authorized(t)
		pid := w.h.Pid(moduletest.Slug)
		w.h.Switch(t, "Capture", plugintest.Crash, 1)
		r, err := w.sv.Capture(ctx, 0, s.ID, "test")
		if err != nil || r.Outcome != plugins.Undefined || r.Settlement.Status != settlement.Unknown {
			t.Fatalf("capture during a crash: %+v %v", r, err)
		}
		if took := w.h.WaitRestart(t, moduletest.Slug, pid, 2*time.Second); took > 2*time.Second {
			t.Fatalf("adapter back after %s", took)
		}
		w.due(t, s)
		// Right after the crash the capture may still be on its way at the provider: seeing
		// it not captured yet proves nothing.
		if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if got := w.load(t, s); got.Status != settlement.Unknown {
			t.Fatalf("concluded before the call's deadline: %s", got.Status)
		}
		clock.Advance(w.sv.CallTimeout + time.Hour)
		if n, err := w.sv.ResolveDue(ctx, 10); err != nil || n != 1 {
			t.Fatalf("janitor looked at %d: %v", n, err)
		}
		if got := w.load(t, s); got.Status != settlement.Authorized {
			t.Fatalf("after the janitor: %s", got.Status)
		}
		r, err = w.sv.Capture(ctx, 0, s.ID, "test")
		if err != nil || r.Settlement.Status != settlement.Captured {
			t.Fatalf("capture after recovery: %+v %v", r, err)
		}
		hs, _ := settlement.Histories(ctx, w.db, s.ID)
		if count(hs, settlement.OpCapture, "undefined") != 1 || count(hs, settlement.OpCapture, "processed") != 1 || count(hs, settlement.OpResolve, "processed") != 1 {
			t.Fatalf("history %+v", hs)
		}
	})

	t.Run("a crash after the provider captured: the janitor finds it captured, never captures again", func(t *testing.T) {
		s := w.authorized(t)
		w.h.Switch(t, "Capture", plugintest.CrashAfter, 1)
		r, err := w.sv.Capture(ctx, 0, s.ID, "test")
		if err != nil || r.Settlement.Status != settlement.Unknown {
			t.Fatalf("capture: %+v %v", r, err)
		}
		w.h.WaitState(t, moduletest.Slug, "running", 2*time.Second)
		w.due(t, s)
		if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		got := w.load(t, s)
		if got.Status != settlement.Captured || got.CapturedAt == nil {
			t.Fatalf("after the janitor: %s", got.Status)
		}
		hs, _ := settlement.Histories(ctx, w.db, s.ID)
		// One capture call in all: the janitor only referenced.
		n := 0
		for _, h := range hs {
			if h.Operation == settlement.OpCapture && h.StatusTo != settlement.Pending {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d capture answers recorded: %+v", n, hs)
		}
	})

	t.Run("an operation on an unknown settlement references it first", func(t *testing.T) {
		s := w.authorized(t)
		w.h.Switch(t, "Capture", plugintest.CrashAfter, 1)
		if r, _ := w.sv.Capture(ctx, 0, s.ID, "test"); r.Settlement == nil || r.Settlement.Status != settlement.Unknown {
			t.Fatalf("setup: %+v", r)
		}
		w.h.WaitState(t, moduletest.Slug, "running", 2*time.Second)
		// A second 売上計上 while unknown: the reference shows it captured, so it is refused
		// instead of being sent again.
		_, err := w.sv.Capture(ctx, 0, s.ID, "test")
		var oe *settlement.OperationError
		if !errors.As(err, &oe) || w.load(t, s).Status != settlement.Captured {
			t.Fatalf("second capture: %v, status %s", err, w.load(t, s).Status)
		}
	})

	t.Run("a declined capture returns to 仮売上 and is logged", func(t *testing.T) {
		s := w.authorized(t)
		w.h.Switch(t, "Capture", plugintest.Decline, 1)
		r, err := w.sv.Capture(ctx, 0, s.ID, "test")
		if err != nil || r.Outcome != plugins.Declined || r.Settlement.Status != settlement.Authorized || r.Provider.Code == "" {
			t.Fatalf("declined capture: %+v %v", r, err)
		}
		rows, _, _ := errlog.List(ctx, w.db, 100, 0)
		found := false
		for _, e := range rows {
			found = found || e.LogKey == s.TransID
		}
		if !found {
			t.Fatal("no error-log row")
		}
	})

	t.Run("two captures at once: one provider call, the other refused", func(t *testing.T) {
		s := w.authorized(t)
		w.h.Switch(t, "Capture", plugintest.Sleep(300*time.Millisecond), 1)
		var wg sync.WaitGroup
		results := make([]settlement.Result, 2)
		errs := make([]error, 2)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i], errs[i] = w.sv.Capture(ctx, 0, s.ID, "test")
			}(i)
		}
		wg.Wait()
		ok, refused := 0, 0
		for i := range results {
			switch {
			case errs[i] == nil && results[i].Outcome == plugins.Processed:
				ok++
			case errors.Is(errs[i], settlement.ErrTransition):
				refused++
			default:
				t.Fatalf("unexpected %+v %v", results[i], errs[i])
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("ok %d refused %d", ok, refused)
		}
	})
}

// A checkout whose widget never answers is かご落ち after AbandonAfter (not 処理中 for ever),
// and the buyer may still come back: a new checkout starts a new attempt.
func TestAbandonedCheckout(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	clock := w.clock
	w.n++
	now := clock.Now().UTC()
	w.db.Exec("INSERT INTO orders (shop_id, order_number, order_total_full_price, order_date, created_at, updated_at) VALUES (1, ?, 2000, ?, ?, ?)", w.n, now, now, now)
	var oid int64
	w.db.Raw("SELECT MAX(id) FROM orders").Scan(&oid)
	s := settlement.New(oid, 1, 2000, moduletest.Slug, moduletest.Code)
	if err := settlement.Create(ctx, w.db, s, settlement.History{Operation: settlement.OpCheckout, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	t.Run("a checkout the buyer is still in is left alone", func(t *testing.T) {
		clock.Advance(23 * time.Hour)
		if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if got := w.load(t, s); got.Status != settlement.Pending {
			t.Fatalf("%s", got.Status)
		}
	})
	t.Run("after a day without an answer it is かご落ち", func(t *testing.T) {
		clock.Advance(2 * time.Hour)
		if _, err := w.sv.ResolveDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		got := w.load(t, s)
		if got.Status != settlement.Abandoned || got.Status.Label() != "かご落ち" {
			t.Fatalf("%s", got.Status)
		}
		hs, _ := settlement.Histories(ctx, w.db, s.ID)
		if count(hs, settlement.OpAbandon, "") != 1 {
			t.Fatalf("history %+v", hs)
		}
	})
	t.Run("the buyer comes back: a new attempt", func(t *testing.T) {
		got := w.load(t, s)
		po := plugins.Order{ID: oid, Amount: 2000, Customer: plugins.Customer{FamilyName: "注文", Email: "taro@example.jp"},
			Lines: []plugins.Line{{Kind: plugins.LineItem, Name: "商品", Price: 2000, Quantity: 1}}}
		if _, err := w.sv.Prepare(ctx, got, po, "", "test"); err != nil {
			t.Fatal(err)
		}
		if got = w.load(t, s); got.Status != settlement.Pending || got.Attempt != s.TransID+"-2" {
			t.Fatalf("%s %s", got.Status, got.Attempt)
		}
	})
}

// A claim whose holder died (kill -9 mid-call) is not a status: the settlement keeps its
// money state, nobody else may act on it while the lease runs, and once it has run out the
// janitor takes it over and references before deciding.
func TestOrphanedClaimIsTakenOver(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	clock := w.clock
	s := w.authorized(t)
	// A process that claimed the settlement for a capture and died before the call.
	until := clock.Now().UTC().Add(w.sv.Lease)
	if err := w.db.Exec("UPDATE settlements SET claimed_by = 'dead', claimed_until = ?, version = version + 1 WHERE id = ?", until, s.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := w.db.Create(&settlement.Attempt{SettlementID: s.ID, Kind: settlement.OpCapture, TargetID: s.WcTransID, Amount: s.Amount,
		PriorStatus: settlement.Authorized, State: settlement.AttemptOpen, CreatedAt: clock.Now().UTC()}).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := w.sv.Capture(ctx, 0, s.ID, "test"); !errors.Is(err, settlement.ErrBusy) {
		t.Fatalf("capture during a live claim: %v", err)
	}
	if got := w.load(t, s); got.Status != settlement.Authorized {
		t.Fatalf("the claim changed the money status: %s", got.Status)
	}
	clock.Advance(w.sv.Lease + time.Second)
	if n, err := w.sv.ResolveDue(ctx, 10); err != nil || n == 0 {
		t.Fatalf("janitor: %d %v", n, err)
	}
	got := w.load(t, s)
	if got.Status != settlement.Authorized || got.ClaimedUntil != nil {
		t.Fatalf("after take-over: %s claimed=%v", got.Status, got.ClaimedUntil)
	}
	as, _ := settlement.Attempts(ctx, w.db, s.ID)
	if last := as[len(as)-1]; last.State != settlement.AttemptDone {
		t.Fatalf("the dead attempt is still open: %+v", last)
	}
	if r, err := w.sv.Capture(ctx, 0, s.ID, "test"); err != nil || r.Settlement.Status != settlement.Captured {
		t.Fatalf("capture after take-over: %+v %v", r, err)
	}
}

// TestReference: a person's 取引参照 is one history row each; the shop API's is a read that
// writes a row only when the provider's answer differs from the record.
func TestReference(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := w.authorized(t)
	rows := func() int {
		t.Helper()
		hs, err := settlement.Histories(ctx, w.db, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(hs)
	}
	t.Run("the shop's reference that agrees writes nothing", func(t *testing.T) {
		before := rows()
		r, err := w.sv.ReferenceOf(ctx, w.load(t, s), "shop:1")
		if err != nil || r.Outcome != plugins.Processed || r.Provider.State != plugins.StateAuthorized || r.Provider.Amount != 2000 {
			t.Fatalf("%+v %v", r, err)
		}
		if after := rows(); after != before {
			t.Fatalf("history grew from %d to %d rows", before, after)
		}
	})
	t.Run("a person's reference is recorded", func(t *testing.T) {
		before := rows()
		if _, err := w.sv.Reference(ctx, 0, s.ID, "admin:alice"); err != nil {
			t.Fatal(err)
		}
		hs, _ := settlement.Histories(ctx, w.db, s.ID)
		if len(hs) != before+1 || hs[len(hs)-1].Operation != settlement.OpReference || hs[len(hs)-1].Actor != "admin:alice" {
			t.Fatalf("history %+v", hs[before:])
		}
	})
	t.Run("the shop's reference that disagrees is recorded", func(t *testing.T) {
		if err := w.db.Exec("UPDATE settlements SET amount = 1500 WHERE id = ?", s.ID).Error; err != nil {
			t.Fatal(err)
		}
		before := rows()
		if _, err := w.sv.ReferenceOf(ctx, w.load(t, s), "shop:1"); err != nil {
			t.Fatal(err)
		}
		hs, _ := settlement.Histories(ctx, w.db, s.ID)
		if len(hs) != before+1 || hs[len(hs)-1].Operation != settlement.OpReference || hs[len(hs)-1].Amount != 2000 {
			t.Fatalf("history %+v", hs[before:])
		}
	})
	// The history beside the answer is read while the provider is asked: it must still be the
	// history after the 取引参照, with the row a disagreeing answer wrote.
	t.Run("the history beside a disagreeing answer has its row", func(t *testing.T) {
		before := rows()
		r, hs, err := w.sv.ReferenceWithHistory(ctx, w.load(t, s), "shop:1")
		if err != nil || r.Provider.Amount != 2000 {
			t.Fatalf("%+v %v", r, err)
		}
		if len(hs) != before+1 || hs[len(hs)-1].Operation != settlement.OpReference || hs[len(hs)-1].Actor != "shop:1" {
			t.Fatalf("%d rows before, answer's history %+v", before, hs)
		}
	})
	t.Run("the history beside an agreeing answer is the record's", func(t *testing.T) {
		if err := w.db.Exec("UPDATE settlements SET amount = 2000 WHERE id = ?", s.ID).Error; err != nil {
			t.Fatal(err)
		}
		before := rows()
		_, hs, err := w.sv.ReferenceWithHistory(ctx, w.load(t, s), "shop:1")
		if err != nil || len(hs) != before || rows() != before {
			t.Fatalf("%d rows before, %d in the answer, %d after: %v", before, len(hs), rows(), err)
		}
	})
}
