package atone_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

func TestAtoneLifecycle(t *testing.T) {
	w := newWorld(t, nil)
	o := order(12800)

	var widget plugins.Widget
	t.Run("checkout signs the payment for the widget", func(t *testing.T) {
		res, err := w.ad.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: o, AuthToken: "tk_previousLogin000000000"})
		if err != nil || res.Outcome != plugins.Processed {
			t.Fatalf("%+v, %v", res, err)
		}
		widget = res.Widget
		if widget.ScriptURL != w.url+"/v1/atone.js" || widget.PublicKey != shop.PublicKey || widget.PreToken != "tk_previousLogin000000000" {
			t.Errorf("widget = %+v", widget)
		}
		if ok, err := wire.VerifyChecksum(shop.SecretKey, []byte(widget.Payment)); err != nil || !ok {
			t.Errorf("checksum does not verify: %v: %s", err, widget.Payment)
		}
		var p wire.Payment
		if err := json.Unmarshal(widget.Payment, &p); err != nil || p.ShopTransactionNo != o.Attempt ||
			p.Amount != 12800 || p.ItemTotal() != 12800 || p.SalesSettled == nil || *p.SalesSettled {
			t.Errorf("payment = %s (%v)", widget.Payment, err)
		}
		if strings.Contains(string(widget.Payment), shop.SecretKey) {
			t.Error("the secret key is in the widget payment")
		}
	})

	var tr plugins.TransactionResult
	t.Run("the buyer pays in the widget and Confirm verifies with atone", func(t *testing.T) {
		c, _ := w.checkout(o, sandbox.OKMemberPhone)
		if c.Result.AuthorizationResult != wire.AuthorizationOK {
			t.Fatalf("widget result %+v", c.Result)
		}
		payload, _ := json.Marshal(c.Result)
		var err error
		tr, err = w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: payload, Order: o})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "confirm", tr.Result, plugins.Processed, "")
		if tr.ProviderID != c.Result.ID || tr.Attempt != o.Attempt || tr.Amount != 12800 || tr.State != plugins.StateAuthorized || tr.AuthToken != "" {
			t.Fatalf("confirmed %+v", tr)
		}
		if strings.Contains(string(tr.Raw), c.AuthenticationToken) {
			t.Errorf("the buyer's token is in Raw: %s", tr.Raw)
		}
	})

	t.Run("capture settles", func(t *testing.T) {
		r, err := w.ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "capture", r.Result, plugins.Processed, "")
		if r.State != plugins.StateCaptured || r.SettledAt.IsZero() || r.Amount != 12800 {
			t.Fatalf("captured %+v", r)
		}
	})

	t.Run("a second capture is declined with atone's code, its state verified by reference", func(t *testing.T) {
		r, err := w.ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "second capture", r.Result, plugins.Declined, wire.CodeAlreadySettled)
		if r.State != plugins.StateCaptured || r.SettledAt.IsZero() || len(r.Messages) == 0 {
			t.Fatalf("second capture %+v", r)
		}
	})

	var repl plugins.TransactionResult
	t.Run("modify replaces the settled transaction and settles the new one", func(t *testing.T) {
		changed := order(9800)
		var err error
		repl, err = w.ad.Modify(ctx(t), plugins.ModifyRequest{ProviderID: tr.ProviderID, Order: changed, Settled: true})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "modify", repl.Result, plugins.Processed, "")
		if repl.ProviderID == tr.ProviderID || repl.Amount != 9800 || repl.Attempt != changed.Attempt || repl.State != plugins.StateCaptured {
			t.Fatalf("replacement %+v", repl)
		}
		if old := w.reference(tr.ProviderID); old.State != plugins.StateCancelled {
			t.Fatalf("old transaction %+v, want cancelled", old)
		}
	})

	t.Run("cancel refunds the rest", func(t *testing.T) {
		r, err := w.ad.Cancel(ctx(t), plugins.CancelRequest{ProviderID: repl.ProviderID})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "cancel", r.Result, plugins.Processed, "")
		if r.State != plugins.StateCancelled || r.Amount != 0 {
			t.Fatalf("cancelled %+v", r)
		}
		if ref := w.reference(repl.ProviderID); ref.State != plugins.StateCancelled {
			t.Fatalf("reference after cancel %+v", ref)
		}
	})

	t.Run("cancelling again is atone's refusal", func(t *testing.T) {
		r, _ := w.ad.Cancel(ctx(t), plugins.CancelRequest{ProviderID: repl.ProviderID})
		want(t, "second cancel", r.Result, plugins.Declined, wire.CodeRefundNotAllowed)
	})

	t.Run("an unknown transaction is declined with state unknown", func(t *testing.T) {
		r, err := w.ad.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: "tr_AAAAAAAAAAAAAAAA"})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "reference", r.Result, plugins.Declined, wire.CodeNotFound)
		if r.State != plugins.StateUnknown || r.Messages[0] != "該当の取引が存在しません。" {
			t.Fatalf("reference %+v", r)
		}
	})
}

func TestAtoneImmediateSales(t *testing.T) {
	w := newWorld(t, plugins.Settings{atone.KeySalesMode: atone.SalesImmediate})
	tr, _ := w.buy(order(3000), sandbox.OKMemberPhone)
	want(t, "confirm", tr.Result, plugins.Processed, "")
	if tr.State != plugins.StateCaptured || tr.SettledAt.IsZero() {
		t.Fatalf("即時売上確定 left %+v", tr)
	}
}

func TestAtoneAuthorizationNG(t *testing.T) {
	w := newWorld(t, nil)
	for _, tc := range []struct {
		name   string
		phone  string
		amount int64
		reason string
		label  string
	}{
		{"over the member's limit", sandbox.OKMemberPhone, sandbox.OKMemberLimit + 1, "1", "金額超過"},
		{"the member atone always refuses", sandbox.NGMemberPhone, 1000, "9", "その他"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, c := w.buy(order(tc.amount), tc.phone)
			want(t, "confirm", tr.Result, plugins.Declined, atone.CodeNG)
			if tr.Reason != tc.reason || !hasMessage(tr.Result, tc.label) || tr.State != plugins.StateDeclined || tr.ProviderID != c.Result.ID {
				t.Fatalf("NG %+v", tr)
			}
		})
	}
}

func TestAtoneForgedWidgetResult(t *testing.T) {
	w := newWorld(t, nil)
	other, _ := w.buy(order(2000), sandbox.OKMemberPhone)

	// A stray is described as atone holds it, so the host can cancel it; its id must never be
	// taken for the order's, which the shared code says.
	stray := func(t *testing.T, r plugins.TransactionResult, id, attempt string, amount int64, state plugins.State) {
		t.Helper()
		want(t, "confirm", r.Result, plugins.Declined, plugins.CodeMismatch)
		if r.ProviderID != id || r.Attempt != attempt || r.Amount != amount || r.State != state {
			t.Fatalf("stray %+v, want id %s attempt %s amount %d state %s", r, id, attempt, amount, state)
		}
		if r.AuthToken != "" {
			t.Fatalf("a stray's token was handed out: %+v", r)
		}
		if !hasMessage(r.Result, id) {
			t.Fatalf("messages %q do not name %s for support", r.Messages, id)
		}
	}

	t.Run("another order's transaction id", func(t *testing.T) {
		o := order(2500)
		payload, _ := json.Marshal(wire.WidgetResult{ID: other.ProviderID, AuthorizationResult: 1})
		r, err := w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: payload, Order: o})
		if err != nil {
			t.Fatal(err)
		}
		stray(t, r, other.ProviderID, other.Attempt, 2000, plugins.StateAuthorized)
		if r.Field != "shop_transaction_no" || r.Raw != nil || r.Attempt == o.Attempt {
			t.Fatalf("mismatch %+v", r)
		}
		if ref := w.reference(other.ProviderID); ref.State != plugins.StateAuthorized {
			t.Fatalf("the other order's transaction was touched: %+v", ref)
		}
	})

	t.Run("another order's refused transaction keeps its state", func(t *testing.T) {
		refused, _ := w.buy(order(1000), sandbox.NGMemberPhone)
		payload, _ := json.Marshal(wire.WidgetResult{ID: refused.ProviderID, AuthorizationResult: wire.AuthorizationNG})
		r, _ := w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: payload, Order: order(1000)})
		stray(t, r, refused.ProviderID, refused.Attempt, 1000, plugins.StateDeclined)
		if r.Field != "shop_transaction_no" || r.Raw != nil || r.Reason != "" {
			t.Fatalf("mismatch %+v", r)
		}
	})

	t.Run("the order's amount differs from what the buyer paid", func(t *testing.T) {
		o := order(4000)
		c, _ := w.checkout(o, sandbox.OKMemberPhone)
		o.Amount = 40000 // the page was tampered with, or the cart changed after checkout
		payload, _ := json.Marshal(c.Result)
		r, _ := w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: payload, Order: o})
		stray(t, r, c.Result.ID, o.Attempt, 4000, plugins.StateAuthorized)
		if r.Field != "amount" || r.Raw == nil || !hasMessage(r.Result, "4,000円") || !hasMessage(r.Result, "40,000円") {
			t.Fatalf("mismatch %+v", r)
		}
	})

	t.Run("a failed widget reported as succeeded", func(t *testing.T) {
		o := order(1000)
		c, _ := w.checkout(o, sandbox.NGMemberPhone)
		payload, _ := json.Marshal(wire.WidgetResult{ID: c.Result.ID, AuthorizationResult: wire.AuthorizationOK})
		r, _ := w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: payload, Order: o})
		want(t, "confirm", r.Result, plugins.Declined, atone.CodeMismatch)
		if r.Field != "authorization_result" || r.State != plugins.StateDeclined {
			t.Fatalf("mismatch %+v", r)
		}
	})

	t.Run("an id atone does not know", func(t *testing.T) {
		r, _ := w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: json.RawMessage(`{"id":"tr_0000000000000000","authorization_result":1}`), Order: order(1000)})
		want(t, "confirm", r.Result, plugins.Declined, wire.CodeNotFound)
		if r.ProviderID != "" {
			t.Fatalf("a refusal names no transaction to cancel: %+v", r)
		}
	})

	t.Run("the sandbox's whole completion is accepted as payload", func(t *testing.T) {
		o := order(1500)
		_, raw := w.checkout(o, sandbox.OKMemberPhone)
		r, _ := w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: raw, Order: o})
		want(t, "confirm", r.Result, plugins.Processed, "")
	})

	for name, payload := range map[string]string{
		"not JSON":          `id=tr_x`,
		"no id":             `{"authorization_result":1}`,
		"an id with a path": `{"id":"tr_x/../../settle"}`,
	} {
		t.Run("a payload with "+name+" is refused before any call", func(t *testing.T) {
			_, err := w.ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: json.RawMessage(payload), Order: order(1000)})
			if !errors.Is(err, plugins.ErrInvalidRequest) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestAtoneRecurringCharge(t *testing.T) {
	w := newWorld(t, plugins.Settings{atone.KeyContinuationSalesMode: atone.SalesProvisional})
	first := order(1980)
	first.Recurring = true
	tr, c := w.buy(first, sandbox.OKMemberPhone)
	want(t, "first order", tr.Result, plugins.Processed, "")
	if tr.AuthToken == "" || tr.AuthToken != c.AuthenticationToken {
		t.Fatalf("first order gave token %q, widget %q", tr.AuthToken, c.AuthenticationToken)
	}
	if tx, _ := w.sb.Transaction(shop.PublicKey, tr.ProviderID); len(tx.TransactionOptions) != 1 || tx.TransactionOptions[0] != wire.OptionRecurring {
		t.Fatalf("first order options %v, want [1]", tx.TransactionOptions)
	}

	t.Run("a charge with the token, provisional", func(t *testing.T) {
		r, err := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: tr.AuthToken, RelatedProviderID: tr.ProviderID, Order: order(1980)})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "charge", r.Result, plugins.Processed, "")
		if r.ProviderID == tr.ProviderID || r.State != plugins.StateAuthorized || r.Amount != 1980 {
			t.Fatalf("charge %+v", r)
		}
		if tx, _ := w.sb.Transaction(shop.PublicKey, r.ProviderID); tx.RelatedTransaction == nil || *tx.RelatedTransaction != tr.ProviderID {
			t.Fatalf("related_transaction not sent: %+v", tx)
		}
	})

	t.Run("a charge settled at once when the host asks", func(t *testing.T) {
		r, _ := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: tr.AuthToken, RelatedProviderID: tr.ProviderID, Order: order(1980), Settle: true})
		want(t, "charge", r.Result, plugins.Processed, "")
		if r.State != plugins.StateCaptured {
			t.Fatalf("charge %+v", r)
		}
	})

	t.Run("a charge over the limit is NG reason 1", func(t *testing.T) {
		r, _ := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: tr.AuthToken, RelatedProviderID: tr.ProviderID, Order: order(60000)})
		want(t, "charge", r.Result, plugins.Declined, atone.CodeNG)
		if r.Reason != "1" || !hasMessage(r.Result, "金額超過") {
			t.Fatalf("charge %+v", r)
		}
	})

	t.Run("a revoked token is atone's EATN0104", func(t *testing.T) {
		if !w.sb.RevokeToken(tr.AuthToken) {
			t.Fatal("sandbox does not know the token")
		}
		r, err := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: tr.AuthToken, RelatedProviderID: tr.ProviderID, Order: order(1980)})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "charge", r.Result, plugins.Declined, wire.CodeTokenRevoked)
		if r.Field != "authentication_token" || r.Messages[0] != "決済認証トークンが無効化されています。" {
			t.Fatalf("charge %+v", r)
		}
	})
}

func TestAtoneContinuationSalesMode(t *testing.T) {
	// 自動継続課金処理区分 = 即時売上確定 settles a charge even when the host did not ask:
	// the host does not know what the setting means.
	w := newWorld(t, plugins.Settings{atone.KeyContinuationSalesMode: atone.SalesImmediate})
	first := order(1980)
	first.Recurring = true
	tr, _ := w.buy(first, sandbox.OKMemberPhone)
	if tr.State != plugins.StateAuthorized {
		t.Fatalf("the first order follows 仮売上機能, not the continuation setting: %+v", tr)
	}
	r, _ := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: tr.AuthToken, RelatedProviderID: tr.ProviderID, Order: order(1980)})
	if r.Outcome != plugins.Processed || r.State != plugins.StateCaptured {
		t.Fatalf("charge %+v", r)
	}
}

func TestAtoneValidationIsNotAttempted(t *testing.T) {
	w := newWorld(t, nil)
	before := len(w.sb.Transactions(shop.PublicKey))

	t.Run("checkout with a bad postal code answers atone's widget code", func(t *testing.T) {
		o := order(3000)
		o.Customer.Zip = "12-345"
		res, err := w.ad.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: o})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "checkout", res.Result, plugins.NotAttempted, "EATN0346")
		if res.Field != "zip_code" || !hasMessage(res.Result, "郵便番号") || res.Widget.Payment != nil {
			t.Fatalf("checkout %+v", res)
		}
	})

	t.Run("a charge whose amount is not the item total answers EATN1102", func(t *testing.T) {
		o := order(3000)
		o.Amount = 3001
		r, err := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: "tk_aaaaaaaaaaaaaaaaaaaaaaaa", Order: o})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "charge", r.Result, plugins.NotAttempted, wire.CodeAmountMismatch)
		if r.Messages[0] != "課金額と商品明細金額の合計が一致していません。" {
			t.Fatalf("charge %+v", r)
		}
	})

	t.Run("a charge without a token answers EATN0102", func(t *testing.T) {
		r, _ := w.ad.Charge(ctx(t), plugins.ChargeRequest{Order: order(3000)})
		want(t, "charge", r.Result, plugins.NotAttempted, wire.CodeTokenFormat)
	})

	t.Run("several problems are all shown", func(t *testing.T) {
		o := order(3000)
		o.Customer.Zip, o.Customer.Email = "1", "not-an-address"
		res, _ := w.ad.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: o})
		if res.Outcome != plugins.NotAttempted || len(res.Messages) != 2 {
			t.Fatalf("checkout %+v", res)
		}
	})

	if after := len(w.sb.Transactions(shop.PublicKey)); after != before {
		t.Fatalf("atone registered %d transactions for refused payments", after-before)
	}
}

func TestAtoneWebhookIsAHint(t *testing.T) {
	w := newWorld(t, nil)
	tr, c := w.buy(order(2000), sandbox.OKMemberPhone)
	tx, ok := w.sb.Transaction(shop.PublicKey, tr.ProviderID)
	if !ok {
		t.Fatal("no transaction")
	}
	body, _ := json.Marshal(tx) // the payment webhook's body is the transaction object

	ev, err := w.ad.ParseWebhook(ctx(t), plugins.WebhookRequest{Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != plugins.EventPayment || ev.ProviderID != tr.ProviderID || ev.Attempt != tr.Attempt ||
		ev.Amount != 2000 || ev.State != plugins.StateAuthorized {
		t.Fatalf("event %+v", ev)
	}
	if strings.Contains(string(ev.Raw), c.AuthenticationToken) {
		t.Errorf("token in Raw: %s", ev.Raw)
	}

	auth, _ := json.Marshal(sandbox.AuthenticationEvent{Object: "authentication", AuthenticationToken: c.AuthenticationToken, UserNo: "1000"})
	ev, err = w.ad.ParseWebhook(ctx(t), plugins.WebhookRequest{Body: auth})
	if err != nil || ev.Kind != plugins.EventAuthentication || ev.AuthToken != c.AuthenticationToken || ev.MemberID != "1000" {
		t.Fatalf("authentication event %+v, %v", ev, err)
	}

	for _, bad := range []string{`{}`, `[`, `{"id":"tr_../x"}`} {
		if _, err := w.ad.ParseWebhook(ctx(t), plugins.WebhookRequest{Body: []byte(bad)}); !errors.Is(err, plugins.ErrInvalidRequest) {
			t.Errorf("webhook %s: err = %v", bad, err)
		}
	}
}

func TestAtonePartialAmounts(t *testing.T) {
	w := newWorld(t, nil)
	tr, _ := w.buy(order(5000), sandbox.OKMemberPhone)

	t.Run("atone settles whole transactions only", func(t *testing.T) {
		_, err := w.ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID, Amount: 3000})
		if !errors.Is(err, plugins.ErrUnsupported) {
			t.Fatalf("err = %v", err)
		}
		if ref := w.reference(tr.ProviderID); ref.State != plugins.StateAuthorized {
			t.Fatalf("reference %+v", ref)
		}
		r, err := w.ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID, Amount: 5000})
		if err != nil || r.State != plugins.StateCaptured {
			t.Fatalf("capture of the full amount named explicitly: %+v, %v", r, err)
		}
	})

	t.Run("a partial cancel refunds part and keeps the rest captured", func(t *testing.T) {
		r, err := w.ad.Cancel(ctx(t), plugins.CancelRequest{ProviderID: tr.ProviderID, Amount: 1200})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "cancel", r.Result, plugins.Processed, "")
		if r.Amount != 3800 || r.State != plugins.StateCaptured {
			t.Fatalf("partial cancel %+v", r)
		}
	})
}

func TestAtoneModifyKeepsTheSeries(t *testing.T) {
	w := newWorld(t, nil)
	first := order(1980)
	first.Recurring = true
	tr, _ := w.buy(first, sandbox.OKMemberPhone)
	r, err := w.ad.Modify(ctx(t), plugins.ModifyRequest{ProviderID: tr.ProviderID, Order: order(2180)})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "modify", r.Result, plugins.Processed, "")
	if r.AuthToken != tr.AuthToken || r.State != plugins.StateAuthorized {
		t.Fatalf("modified %+v", r)
	}
	if tx, _ := w.sb.Transaction(shop.PublicKey, r.ProviderID); len(tx.TransactionOptions) != 1 || tx.TransactionOptions[0] != wire.OptionRecurring {
		t.Fatalf("replacement options %v", tx.TransactionOptions)
	}
	t.Run("a modification of an unknown transaction is atone's refusal", func(t *testing.T) {
		r, _ := w.ad.Modify(ctx(t), plugins.ModifyRequest{ProviderID: "tr_AAAAAAAAAAAAAAAA", Order: order(1000)})
		want(t, "modify", r.Result, plugins.Declined, wire.CodeNotFound)
	})
	t.Run("a second modification of the replaced transaction is refused by atone", func(t *testing.T) {
		r, _ := w.ad.Modify(ctx(t), plugins.ModifyRequest{ProviderID: tr.ProviderID, Order: order(1000)})
		want(t, "modify", r.Result, plugins.Declined, wire.CodeUpdateTarget)
	})
}
