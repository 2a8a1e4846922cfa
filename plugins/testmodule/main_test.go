package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func order(attempt string, amount int64) plugins.Order {
	return plugins.Order{Attempt: attempt, Amount: amount, Customer: plugins.Customer{Email: "buyer@example.jp"}}
}

var approved = json.RawMessage(`{"authorization_result":1}`)

// module is one launched test adapter with its files.
type module struct {
	plugins.Adapter
	switches string
	state    string
	bin      string
}

func launch(t *testing.T, extra plugins.Settings) *module {
	t.Helper()
	dir := t.TempDir()
	m := &module{
		switches: filepath.Join(dir, "switches.json"),
		state:    filepath.Join(dir, "state.json"),
		bin:      plugintest.BuildTestModule(t),
	}
	m.relaunch(t, extra)
	return m
}

func (m *module) relaunch(t *testing.T, extra plugins.Settings) {
	t.Helper()
	m.Adapter, _ = plugintest.Launch(t, m.bin)
	s := plugins.Settings{"switch_file": m.switches, "state_file": m.state}
	for k, v := range extra {
		s[k] = v
	}
	plugintest.Configure(t, m.Adapter, s)
}

func (m *module) authorize(t *testing.T, attempt string, amount int64) plugins.TransactionResult {
	t.Helper()
	r, err := m.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: order(attempt, amount)})
	if err != nil || r.Outcome != plugins.Processed {
		t.Fatalf("authorize %s: %+v, %v", attempt, r, err)
	}
	return r
}

func TestProviderRules(t *testing.T) {
	m := launch(t, plugins.Settings{"limit": "50000"})

	t.Run("partial capture keeps the captured amount", func(t *testing.T) {
		tr := m.authorize(t, "P-1", 1000)
		r, err := m.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID, Amount: 800})
		if err != nil || r.Outcome != plugins.Processed || r.Amount != 800 || r.State != plugins.StateCaptured {
			t.Errorf("partial capture = %+v, %v", r, err)
		}
		r, _ = m.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
		if r.Outcome != plugins.Declined || r.Code != "ETEST0202" {
			t.Errorf("second capture = %+v, want declined ETEST0202", r)
		}
	})

	t.Run("capture above the authorization is declined on amount", func(t *testing.T) {
		tr := m.authorize(t, "P-2", 1000)
		r, err := m.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID, Amount: 1001})
		if err != nil || r.Outcome != plugins.Declined || r.Field != "amount" {
			t.Errorf("over-capture = %+v, %v", r, err)
		}
	})

	t.Run("partial cancel then full cancel", func(t *testing.T) {
		tr := m.authorize(t, "P-3", 1000)
		r, _ := m.Cancel(ctx(t), plugins.CancelRequest{ProviderID: tr.ProviderID, Amount: 300})
		if r.Outcome != plugins.Processed || r.Amount != 700 || r.State != plugins.StateAuthorized {
			t.Errorf("partial cancel = %+v", r)
		}
		r, _ = m.Cancel(ctx(t), plugins.CancelRequest{ProviderID: tr.ProviderID})
		if r.State != plugins.StateCancelled {
			t.Errorf("full cancel = %+v", r)
		}
		r, _ = m.Modify(ctx(t), plugins.ModifyRequest{ProviderID: tr.ProviderID, Order: order("P-3b", 500)})
		if r.Outcome != plugins.Declined {
			t.Errorf("modify of a cancelled transaction = %+v, want declined", r)
		}
	})

	t.Run("the same attempt is refused a second time", func(t *testing.T) {
		m.authorize(t, "P-4", 1000)
		r, err := m.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: order("P-4", 1000)})
		if err != nil || r.Outcome != plugins.Declined || r.Code != "ETEST1101" {
			t.Errorf("duplicate attempt = %+v, %v", r, err)
		}
	})

	t.Run("over the limit is declined with reason 1", func(t *testing.T) {
		r, err := m.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: order("P-5", 50001)})
		if err != nil || r.Outcome != plugins.Declined || r.Reason != "1" || len(r.Messages) == 0 {
			t.Errorf("over limit = %+v, %v", r, err)
		}
	})

	t.Run("a charge needs the token of its series", func(t *testing.T) {
		o := order("P-6", 1000)
		o.Recurring = true
		first, _ := m.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: o})
		r, _ := m.Charge(ctx(t), plugins.ChargeRequest{Token: "tk_forged", RelatedProviderID: first.ProviderID, Order: order("P-6-2", 1000)})
		if r.Outcome != plugins.Declined || r.Field != "token" {
			t.Errorf("forged token = %+v", r)
		}
		r, _ = m.Charge(ctx(t), plugins.ChargeRequest{Token: first.AuthToken, RelatedProviderID: first.ProviderID, Order: order("P-6-2", 1000)})
		if r.Outcome != plugins.Processed || r.State != plugins.StateAuthorized {
			t.Errorf("charge = %+v", r)
		}
	})

	t.Run("unknown transaction is declined, not an error", func(t *testing.T) {
		r, err := m.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: "tr_nope"})
		if err != nil || r.Outcome != plugins.Declined || r.State != plugins.StateUnknown {
			t.Errorf("reference of unknown = %+v, %v", r, err)
		}
	})

	t.Run("an order without attempt is refused up front", func(t *testing.T) {
		_, err := m.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: order("", 1000)})
		if !errors.Is(err, plugins.ErrInvalidRequest) {
			t.Errorf("checkout without attempt: %v", err)
		}
	})
}

func TestSwitches(t *testing.T) {
	m := launch(t, nil)

	t.Run("pending and undefined apply the operation", func(t *testing.T) {
		for _, mode := range []string{plugintest.Pending, plugintest.Undefined} {
			tr := m.authorize(t, "S-"+mode, 1000)
			plugintest.SetSwitch(t, m.switches, "Capture", mode, 1)
			r, err := m.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
			if err != nil || r.Outcome.String() != mode {
				t.Errorf("capture under %s = %+v, %v", mode, r, err)
			}
			ref, _ := m.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: tr.ProviderID})
			if ref.State != plugins.StateCaptured {
				t.Errorf("reference after %s capture = %+v, want captured", mode, ref)
			}
		}
	})

	t.Run("wrong amount", func(t *testing.T) {
		tr := m.authorize(t, "S-wrong", 1000)
		plugintest.SetSwitch(t, m.switches, "Capture", plugintest.WrongAmount, 1)
		r, _ := m.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
		if r.Outcome != plugins.Processed || r.Amount != 1001 {
			t.Errorf("capture with wrong amount = %+v", r)
		}
	})

	t.Run("times counts down and * matches any operation", func(t *testing.T) {
		plugintest.SetSwitch(t, m.switches, "*", plugintest.Decline, 2)
		for i := range 3 {
			r, err := m.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: "tr_nope"})
			want := plugins.Declined
			if err != nil || r.Outcome != want || (i < 2) != (r.Code == "ETEST0101") {
				t.Errorf("call %d = %+v, %v", i, r, err)
			}
		}
		if b, _ := os.ReadFile(m.switches); strings.Contains(string(b), "*") {
			t.Errorf("switch file after use = %s", b)
		}
	})

	t.Run("per-order switch by e-mail", func(t *testing.T) {
		o := order("S-mail", 1000)
		o.Customer.Email = "pending@test"
		r, err := m.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: o})
		if err != nil || r.Outcome != plugins.Pending {
			t.Errorf("confirm of pending@test = %+v, %v", r, err)
		}
	})
}

// TestCrashAfterTheProviderMovedMoney is the case the whole design guards against: the
// adapter dies after the provider captured, so the host only learns the truth by Reference
// on a relaunched adapter.
func TestCrashAfterTheProviderMovedMoney(t *testing.T) {
	m := launch(t, nil)
	tr := m.authorize(t, "K-1", 1000)
	plugintest.SetSwitch(t, m.switches, "Capture", plugintest.CrashAfter, 1)

	_, err := m.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
	if plugins.OutcomeOf(err) != plugins.Undefined {
		t.Fatalf("capture on a crashing adapter: %v classified %v, want undefined", err, plugins.OutcomeOf(err))
	}

	m.relaunch(t, nil)
	r, err := m.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: tr.ProviderID})
	if err != nil || r.Outcome != plugins.Processed || r.State != plugins.StateCaptured {
		t.Errorf("reference after relaunch = %+v, %v; want captured", r, err)
	}
}

func TestWebhookSignature(t *testing.T) {
	m := launch(t, plugins.Settings{"webhook_secret": "whsec"})
	body := []byte(`{"kind":"authentication","token":"tk_1","member":"77"}`)
	mac := hmac.New(sha256.New, []byte("whsec"))
	mac.Write(body)

	ev, err := m.ParseWebhook(ctx(t), plugins.WebhookRequest{
		Headers: http.Header{"X-Testmodule-Signature": {hex.EncodeToString(mac.Sum(nil))}},
		Body:    body,
	})
	if err != nil || ev.Kind != plugins.EventAuthentication || ev.AuthToken != "tk_1" || ev.MemberID != "77" {
		t.Errorf("signed webhook = %+v, %v", ev, err)
	}
	_, err = m.ParseWebhook(ctx(t), plugins.WebhookRequest{Headers: http.Header{"X-Testmodule-Signature": {"00"}}, Body: body})
	if !errors.Is(err, plugins.ErrInvalidRequest) {
		t.Errorf("forged webhook: %v, want ErrInvalidRequest", err)
	}
}
