package settlement_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// armed reads the test adapter's switch file: an operation still armed there was never called,
// since the adapter disarms a switch before it acts.
func armed(t *testing.T, w *world) map[string]struct{ Mode string } {
	t.Helper()
	b, err := os.ReadFile(w.h.SwitchFile)
	if err != nil {
		t.Fatal(err)
	}
	var sw map[string]struct{ Mode string }
	if err := json.Unmarshal(b, &sw); err != nil {
		t.Fatal(err)
	}
	return sw
}

// TestOperationsTheAdapterDoesNotAnnounce: an adapter announcing neither 売上計上, 取消,
// 取引修正 nor continuation charges is never asked for them. The engine refuses the first
// three with an Unsupported OperationError (409 on the shop API) before any claim or attempt,
// and records a charge as 決済エラー without a call, as it does a charge without a token.
func TestOperationsTheAdapterDoesNotAnnounce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, moduletest.Without(plugins.CanCapture, plugins.CanCancel, plugins.CanModify, plugins.CanCharge))
	ctx := context.Background()
	s := w.authorized(t)
	// Each switch would decline the call it met; still armed at the end, it met none.
	for _, op := range []string{"Capture", "Cancel", "Modify", "Charge"} {
		w.h.Switch(t, op, plugintest.Decline, 1)
	}

	for _, op := range []settlement.Operation{settlement.OpCapture, settlement.OpCancel, settlement.OpModify, settlement.OpCharge} {
		if ok, err := w.sv.Offers(ctx, moduletest.Slug, op); ok || err != nil {
			t.Errorf("Offers(%s) = %v, %v", op, ok, err)
		}
	}
	if ok, err := w.sv.Offers(ctx, moduletest.Slug, settlement.OpReference); !ok || err != nil {
		t.Errorf("Offers(reference) = %v, %v: every adapter references", ok, err)
	}

	for _, tc := range []struct {
		op   settlement.Operation
		call func() (settlement.Result, error)
	}{
		{settlement.OpCapture, func() (settlement.Result, error) { return w.sv.Capture(ctx, 0, s.ID, "test") }},
		{settlement.OpCancel, func() (settlement.Result, error) { return w.sv.Cancel(ctx, 0, s.ID, "test") }},
		{settlement.OpModify, func() (settlement.Result, error) {
			return w.sv.Modify(ctx, 0, s.ID, plugins.Order{ID: s.OrderID, Amount: 2500}, "test", nil)
		}},
	} {
		t.Run(string(tc.op)+" is refused without a call", func(t *testing.T) {
			before := w.load(t, s)
			_, err := tc.call()
			var oe *settlement.OperationError
			if !errors.As(err, &oe) || !oe.Unsupported || !errors.Is(err, settlement.ErrUnsupported) || errors.Is(err, settlement.ErrTransition) {
				t.Fatalf("%s: %v", tc.op, err)
			}
			if want := tc.op.Label() + "に対応していません"; !strings.Contains(oe.Message(), want) {
				t.Errorf("message %q, want %q in it", oe.Message(), want)
			}
			after := w.load(t, s)
			if after.Status != settlement.Authorized || after.Version != before.Version || after.ClaimedBy != "" {
				t.Fatalf("the settlement moved: %+v", after)
			}
		})
	}

	t.Run("a continuation charge is 決済エラー without a call", func(t *testing.T) {
		ch := settlement.New(s.OrderID, 1, 2000, moduletest.Slug, moduletest.Code)
		if err := settlement.Create(ctx, w.db, ch, settlement.History{Operation: settlement.OpCharge, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		r, err := w.sv.Charge(ctx, ch, plugins.ChargeRequest{Token: "tk_test", Order: plugins.Order{ID: s.OrderID, Amount: 2000}}, "test")
		if err != nil || r.Outcome != plugins.NotAttempted || r.Settlement.Status != settlement.Failed {
			t.Fatalf("charge: %+v %v", r, err)
		}
		hs, _ := settlement.Histories(ctx, w.db, ch.ID)
		if last := hs[len(hs)-1]; !strings.Contains(last.Message, "継続課金に対応していません") {
			t.Fatalf("history %+v", hs)
		}
	})

	var attempts int64
	if err := w.db.Model(&settlement.Attempt{}).Where("settlement_id = ? AND kind <> ?", s.ID, settlement.OpConfirm).Count(&attempts).Error; err != nil {
		t.Fatal(err)
	}
	if attempts != 0 {
		t.Errorf("%d attempts written for operations never sent", attempts)
	}
	sw := armed(t, w)
	for _, op := range []string{"Capture", "Cancel", "Modify", "Charge"} {
		if sw[op].Mode != plugintest.Decline {
			t.Errorf("the adapter was called for %s: its switch is %+v", op, sw[op])
		}
	}
}
