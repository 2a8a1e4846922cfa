package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

func order(attempt string, amount int64) plugins.Order {
	return plugins.Order{
		ID: 1, Number: "1000", Attempt: attempt, Amount: amount,
		Customer: plugins.Customer{FamilyName: "山田", GivenName: "太郎", Email: "taro@example.jp"},
		Lines:    []plugins.Line{{Kind: plugins.LineItem, SKU: "A", Name: "商品", Price: amount, Quantity: 1}},
	}
}

var approved = json.RawMessage(`{"authorization_result":1}`)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// start launches the test adapter as the daemon would and configures it with a switch file.
func start(t *testing.T) (plugins.Adapter, *plugin.Client, string) {
	t.Helper()
	sw := plugintest.SwitchFile(t)
	a, c := plugintest.LaunchClient(t, plugintest.ClientConfig(t, plugintest.BuildTestModule(t)))
	plugintest.Configure(t, a, plugins.Settings{"public_key": "pk_test", "secret_key": "sk_test", "switch_file": sw})
	return a, c, sw
}

func TestEveryOperationCrossesTheBoundary(t *testing.T) {
	a, _, _ := start(t)
	if _, ok := a.(*plugins.GRPCClient); !ok {
		t.Fatalf("dispensed %T, want *plugins.GRPCClient", a)
	}

	t.Run("describe", func(t *testing.T) {
		d, err := a.Describe(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if d.Slug != "testmodule" || !slices.Contains(d.SettlementCodes, "acting_testmodule") || !d.Can(plugins.CanCharge) {
			t.Errorf("description = %+v", d)
		}
		if i := slices.IndexFunc(d.Settings, func(f plugins.SettingField) bool { return f.Key == "secret_key" }); i < 0 || !d.Settings[i].Secret {
			t.Errorf("secret_key setting missing or not secret: %+v", d.Settings)
		}
	})

	t.Run("validate settings answers field errors in Japanese", func(t *testing.T) {
		errs, err := a.ValidateSettings(ctx(t), plugins.Settings{"limit": "many"})
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]string{}
		for _, e := range errs {
			fields[e.Field] = e.Message
		}
		if fields["public_key"] != "公開鍵を入力してください。" || fields["limit"] == "" {
			t.Errorf("field errors = %+v", errs)
		}
	})

	t.Run("configure refuses a malformed value up front", func(t *testing.T) {
		err := a.Configure(ctx(t), plugins.Settings{"limit": "many"})
		if !errors.Is(err, plugins.ErrInvalidRequest) || plugins.OutcomeOf(err) != plugins.NotAttempted {
			t.Errorf("configure error = %v", err)
		}
	})

	var first plugins.TransactionResult
	t.Run("checkout then confirm authorizes", func(t *testing.T) {
		o := order("A-1", 3300)
		o.Recurring = true
		co, err := a.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: o, AuthToken: "tk_prev"})
		if err != nil {
			t.Fatal(err)
		}
		if co.Outcome != plugins.Processed || co.Widget.PublicKey != "pk_test" || co.Widget.PreToken != "tk_prev" || !json.Valid(co.Widget.Payment) {
			t.Errorf("checkout = %+v", co)
		}
		first, err = a.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: o})
		if err != nil {
			t.Fatal(err)
		}
		if first.Outcome != plugins.Processed || first.State != plugins.StateAuthorized || first.Amount != 3300 ||
			first.Attempt != "A-1" || !strings.HasPrefix(first.AuthToken, "tk_") {
			t.Errorf("confirm = %+v", first)
		}
	})

	t.Run("reference by id and by attempt", func(t *testing.T) {
		for _, req := range []plugins.ReferenceRequest{{ProviderID: first.ProviderID}, {Attempt: "A-1"}} {
			r, err := a.Reference(ctx(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != plugins.Processed || r.ProviderID != first.ProviderID || r.State != plugins.StateAuthorized {
				t.Errorf("reference %+v = %+v", req, r)
			}
		}
	})

	t.Run("capture settles", func(t *testing.T) {
		r, err := a.Capture(ctx(t), plugins.CaptureRequest{ProviderID: first.ProviderID})
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != plugins.Processed || r.State != plugins.StateCaptured || r.SettledAt.IsZero() {
			t.Errorf("capture = %+v", r)
		}
	})

	var charged plugins.TransactionResult
	t.Run("charge the token", func(t *testing.T) {
		var err error
		charged, err = a.Charge(ctx(t), plugins.ChargeRequest{
			Token: first.AuthToken, RelatedProviderID: first.ProviderID, Order: order("A-2", 3300), Settle: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if charged.Outcome != plugins.Processed || charged.State != plugins.StateCaptured || charged.ProviderID == first.ProviderID {
			t.Errorf("charge = %+v", charged)
		}
	})

	t.Run("modify replaces the transaction", func(t *testing.T) {
		r, err := a.Modify(ctx(t), plugins.ModifyRequest{ProviderID: charged.ProviderID, Order: order("A-2b", 2800), Settled: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != plugins.Processed || r.Amount != 2800 || r.ProviderID == charged.ProviderID {
			t.Errorf("modify = %+v", r)
		}
		old, _ := a.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: charged.ProviderID})
		if old.State != plugins.StateCancelled {
			t.Errorf("old transaction after modify = %+v", old)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		r, err := a.Cancel(ctx(t), plugins.CancelRequest{ProviderID: first.ProviderID})
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != plugins.Processed || r.State != plugins.StateCancelled {
			t.Errorf("cancel = %+v", r)
		}
	})

	t.Run("webhook", func(t *testing.T) {
		ev, err := a.ParseWebhook(ctx(t), plugins.WebhookRequest{Body: []byte(`{"kind":"payment","id":"` + first.ProviderID + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind != plugins.EventPayment || ev.ProviderID != first.ProviderID || ev.State != plugins.StateCancelled {
			t.Errorf("webhook event = %+v", ev)
		}
		_, err = a.ParseWebhook(ctx(t), plugins.WebhookRequest{Body: []byte(`not json`)})
		if !errors.Is(err, plugins.ErrInvalidRequest) {
			t.Errorf("bad webhook error = %v, want ErrInvalidRequest", err)
		}
	})
}

func TestDeclinedIsAValueWithTheProvidersWords(t *testing.T) {
	a, _, sw := start(t)

	t.Run("per order", func(t *testing.T) {
		o := order("D-1", 1000)
		o.Customer.Email = "decline@test"
		r, err := a.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: o})
		if err != nil {
			t.Fatalf("a refusal must not be an error: %v", err)
		}
		if r.Outcome != plugins.Declined || r.Code != "ETEST0101" || r.Field != "customer.email" ||
			len(r.Messages) != 2 || r.Messages[0] != "テスト用の拒否です。" || r.Reason != "9" {
			t.Errorf("declined = %+v", r)
		}
	})

	t.Run("widget NG keeps the ng reason", func(t *testing.T) {
		r, err := a.Confirm(ctx(t), plugins.ConfirmRequest{
			Payload: json.RawMessage(`{"id":"tr_ng","authorization_result":2,"authorization_result_ng_reason":1}`),
			Order:   order("D-2", 1000),
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != plugins.Declined || r.Reason != "1" || r.State != plugins.StateDeclined || r.ProviderID != "tr_ng" {
			t.Errorf("declined = %+v", r)
		}
	})

	t.Run("switch file, once", func(t *testing.T) {
		res, _ := a.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: order("D-3", 1000)})
		plugintest.SetSwitch(t, sw, "Capture", plugintest.Decline, 1)
		r, err := a.Capture(ctx(t), plugins.CaptureRequest{ProviderID: res.ProviderID})
		if err != nil || r.Outcome != plugins.Declined || r.Code == "" {
			t.Fatalf("capture with decline switch = %+v, %v", r, err)
		}
		r, err = a.Capture(ctx(t), plugins.CaptureRequest{ProviderID: res.ProviderID})
		if err != nil || r.Outcome != plugins.Processed {
			t.Errorf("second capture, switch used up = %+v, %v", r, err)
		}
	})
}

func TestDeadlineCrossesTheBoundary(t *testing.T) {
	a, c, sw := start(t)
	res, err := a.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: order("T-1", 500)})
	if err != nil {
		t.Fatal(err)
	}
	const nap = time.Second
	plugintest.SetSwitch(t, sw, "Capture", plugintest.Sleep(nap), 1)

	short, cancel := context.WithTimeout(context.Background(), nap/4)
	defer cancel()
	_, err = a.Capture(short, plugins.CaptureRequest{ProviderID: res.ProviderID})
	var ce *plugins.CallError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("capture past its deadline: %v, want a *CallError wrapping context.DeadlineExceeded", err)
	}
	if plugins.OutcomeOf(err) != plugins.Undefined || !ce.MayHaveReachedProvider() {
		t.Errorf("a call that timed out must be undefined, got %v", plugins.OutcomeOf(err))
	}

	t.Run("the adapter saw the deadline and gave up", func(t *testing.T) {
		// Had the deadline not reached the adapter, its nap would end and the capture
		// would go through behind the host's back.
		time.Sleep(nap + nap/2)
		r, err := a.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: res.ProviderID})
		if err != nil || r.State != plugins.StateAuthorized {
			t.Errorf("reference after timeout = %+v, %v; want still authorized", r, err)
		}
		if c.Exited() {
			t.Error("adapter exited")
		}
	})
}

func TestCrashMidCallIsUndefined(t *testing.T) {
	a, c, sw := start(t)
	res, err := a.Confirm(ctx(t), plugins.ConfirmRequest{Payload: approved, Order: order("C-1", 700)})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.SetSwitch(t, sw, "Capture", plugintest.Crash, 1)

	_, err = a.Capture(ctx(t), plugins.CaptureRequest{ProviderID: res.ProviderID})
	var ce *plugins.CallError
	if !errors.As(err, &ce) || ce.Op != "Capture" {
		t.Fatalf("capture on a crashing adapter: %v, want a *CallError", err)
	}
	if !errors.Is(err, plugins.ErrTransport) || plugins.OutcomeOf(err) != plugins.Undefined || !ce.MayHaveReachedProvider() {
		t.Errorf("crash mid-call: %v classified %v, want transport failure, undefined", err, plugins.OutcomeOf(err))
	}
	deadline := time.Now().Add(5 * time.Second)
	for !c.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !c.Exited() {
		t.Error("adapter process still running after the crash")
	}

	t.Run("a relaunch finds the switch used up", func(t *testing.T) {
		b, _ := os.ReadFile(sw)
		if strings.Contains(string(b), "Capture") {
			t.Errorf("switch file after crash: %s", b)
		}
	})
}

func TestRefusedUpFrontIsNotAttempted(t *testing.T) {
	a, _, sw := start(t)
	plugintest.SetSwitch(t, sw, "Reference", "sleep:nonsense", 1)
	_, err := a.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: "tr_x"})
	if !errors.Is(err, plugins.ErrInvalidRequest) || plugins.OutcomeOf(err) != plugins.NotAttempted {
		t.Errorf("refused up front: %v classified %v", err, plugins.OutcomeOf(err))
	}
	plugintest.SetSwitch(t, sw, "Capture", plugintest.Error, 1)
	_, err = a.Capture(ctx(t), plugins.CaptureRequest{ProviderID: "tr_x"})
	if plugins.OutcomeOf(err) != plugins.Undefined {
		t.Errorf("adapter error of unknown kind: %v classified %v, want undefined", err, plugins.OutcomeOf(err))
	}
}

func TestPanicIsUndefinedAndTheAdapterSurvives(t *testing.T) {
	a, c, sw := start(t)
	plugintest.SetSwitch(t, sw, "Cancel", plugintest.Panic, 1)
	_, err := a.Cancel(ctx(t), plugins.CancelRequest{ProviderID: "tr_x"})
	if err == nil || plugins.OutcomeOf(err) != plugins.Undefined {
		t.Errorf("cancel on a panicking adapter: %v classified %v, want undefined", err, plugins.OutcomeOf(err))
	}
	if _, err := a.Describe(ctx(t)); err != nil || c.Exited() {
		t.Errorf("adapter after a panic: %v, exited %v", err, c.Exited())
	}
}

func TestProtocolVersionMismatchIsRefused(t *testing.T) {
	cfg := plugintest.ClientConfig(t, plugintest.BuildTestModule(t))
	cfg.HandshakeConfig.ProtocolVersion = 2
	cfg.VersionedPlugins = map[int]plugin.PluginSet{2: {plugins.PluginName: &plugins.GRPCPlugin{}}}
	c := plugin.NewClient(cfg)
	defer c.Kill()
	_, err := c.Client()
	if err == nil {
		t.Fatal("a v2 host talked to a v1 adapter")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "incompatible api version") {
		t.Errorf("mismatch error does not say why: %v", err)
	}
	t.Logf("refused with: %v", err)
}

func TestAdapterDoesNotInheritTheHostEnvironment(t *testing.T) {
	t.Setenv("KESSAI_MASTER_KEY", "secret")
	a, _, _ := start(t)
	r, err := a.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: "env:"})
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	if err := json.Unmarshal(r.Raw, &env); err != nil {
		t.Fatalf("env answer %s: %v", r.Raw, err)
	}
	if len(env) == 0 {
		t.Fatal("adapter reported no environment at all; the check would prove nothing")
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "KESSAI_MASTER_KEY=") {
			t.Errorf("adapter inherited %s", kv)
		}
	}
}

// minimal offers only the mandatory operations; plugins.Unsupported answers the rest.
type minimal struct {
	plugins.Unsupported
}

func (minimal) Describe(context.Context) (plugins.Description, error) {
	return plugins.Description{Slug: "minimal"}, nil
}
func (minimal) Configure(context.Context, plugins.Settings) error { return nil }
func (minimal) ValidateSettings(context.Context, plugins.Settings) ([]plugins.FieldError, error) {
	return nil, nil
}
func (minimal) PrepareCheckout(context.Context, plugins.CheckoutRequest) (plugins.CheckoutResult, error) {
	return plugins.CheckoutResult{}, plugins.ErrNotConfigured
}
func (minimal) Confirm(context.Context, plugins.ConfirmRequest) (plugins.TransactionResult, error) {
	return plugins.TransactionResult{}, nil // forgot the outcome: must read as undefined
}
func (minimal) Reference(context.Context, plugins.ReferenceRequest) (plugins.TransactionResult, error) {
	return plugins.TransactionResult{}, nil
}

// TestOptionalOperations runs a minimal adapter over an in-process gRPC connection: the
// contract under test is the shims, and no subprocess is needed to see them.
func TestOptionalOperations(t *testing.T) {
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		plugins.PluginName: &plugins.GRPCPlugin{Impl: minimal{}},
	})
	raw, err := client.Dispense(plugins.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	a := raw.(plugins.Adapter)

	t.Run("unsupported is not attempted", func(t *testing.T) {
		_, err := a.Charge(ctx(t), plugins.ChargeRequest{Token: "tk"})
		if !errors.Is(err, plugins.ErrUnsupported) || plugins.OutcomeOf(err) != plugins.NotAttempted {
			t.Errorf("charge on an adapter without it: %v classified %v", err, plugins.OutcomeOf(err))
		}
	})
	t.Run("not configured is not attempted", func(t *testing.T) {
		_, err := a.PrepareCheckout(ctx(t), plugins.CheckoutRequest{})
		if !errors.Is(err, plugins.ErrNotConfigured) || plugins.OutcomeOf(err) != plugins.NotAttempted {
			t.Errorf("checkout unconfigured: %v classified %v", err, plugins.OutcomeOf(err))
		}
	})
	t.Run("an answer without outcome is undefined", func(t *testing.T) {
		r, err := a.Confirm(ctx(t), plugins.ConfirmRequest{})
		if err != nil || r.Outcome != plugins.Undefined {
			t.Errorf("confirm = %+v, %v", r, err)
		}
	})
}
