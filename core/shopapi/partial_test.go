package shopapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
	"github.com/kessai/kessai/webhooks/hook"
)

// testMethod is the payment method of the test adapter beside atone's.
const testMethod = "テスト払い"

// withTestModule puts the test adapter (which announces CanPartial) in use beside atone, with a
// payment method of its own, and returns its switch file.
func withTestModule(t *testing.T, h *daemontest.Harness) string {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(plugintest.BuildTestModule(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(h.D.Config.PluginDir, "kessai-testmodule")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := h.D.Modules.Register(ctx, "kessai-testmodule", "test")
	if err != nil {
		t.Fatal(err)
	}
	switches := filepath.Join(t.TempDir(), "switches.json")
	problems, err := h.D.Modules.UpdateSettings(ctx, m.Slug, plugins.Settings{"public_key": "pk_test", "secret_key": "sk_test",
		"switch_file": switches, "state_file": filepath.Join(t.TempDir(), "provider.json")}, "test")
	if err != nil || len(problems) > 0 {
		t.Fatalf("settings: %v %v", problems, err)
	}
	if err := h.D.Modules.UpdateSelection(ctx, []string{"atone", m.Slug}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.D.Methods.Add(ctx, paymethod.Method{Name: testMethod, Settlement: moduletest.Code}, audit.System); err != nil {
		t.Fatal(err)
	}
	return switches
}

// paidByTestModule buys an order of 1,500 yen with the test adapter: 仮売上.
func paidByTestModule(t *testing.T, h *daemontest.Harness, number string) int64 {
	t.Helper()
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order(number, 1000, 1, testMethod))
	expect(t, r, http.StatusCreated)
	id := int64(r.Body["id"].(float64))
	r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), map[string]any{"id": "tm_" + number, "authorization_result": 1})
	expect(t, r, http.StatusOK)
	if settlementOf(t, r)["status"] != "authorized" {
		t.Fatalf("not authorized: %s", r.Raw)
	}
	return id
}

// atProvider is what the test adapter's provider holds for the order's transaction.
func atProvider(t *testing.T, h *daemontest.Harness, id int64) (*settlement.Settlement, plugins.TransactionResult) {
	t.Helper()
	ctx := context.Background()
	s, err := h.D.Settlements.ForOrder(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ad, err := h.D.Modules.Get(ctx, moduletest.Slug)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ad.Reference(ctx, plugins.ReferenceRequest{ProviderID: s.WcTransID})
	if err != nil || res.Outcome != plugins.Processed {
		t.Fatalf("参照: %+v %v", res, err)
	}
	return s, res
}

// expectAmount fails unless the answer is 200 with the settlement in status for amount, and the
// provider holds the transaction in state for the same amount.
func expectAmount(t *testing.T, h *daemontest.Harness, id int64, r daemontest.Response, status string, state plugins.State, amount int64) {
	t.Helper()
	expect(t, r, http.StatusOK)
	sv := settlementOf(t, r)
	if sv["status"] != status || sv["amount"].(float64) != float64(amount) {
		t.Fatalf("answered %v %v, want %s %d", sv["status"], sv["amount"], status, amount)
	}
	s, p := atProvider(t, h, id)
	if string(s.Status) != status || s.Amount != amount || p.State != state || (state != plugins.StateCancelled && p.Amount != amount) {
		t.Fatalf("kessai %s %d, provider %s %d", s.Status, s.Amount, p.State, p.Amount)
	}
}

// TestPartialAmountsThroughTheShopAPI: {"amount": N} on 売上計上 and 取消 reaches the provider
// for a module that takes partial amounts, and is refused as 422 on the field amount, with
// nothing written or sent, for atone, which does not, and for amounts out of range.
func TestPartialAmountsThroughTheShopAPI(t *testing.T) {
	h, calls := countCalls(t)
	switches := withTestModule(t, h)
	op := func(id int64, name string) string { return fmt.Sprintf("/api/v1/orders/%d/settlement/%s", id, name) }

	t.Run("partial 売上計上, 一部取消, then 取消 of the rest", func(t *testing.T) {
		id := paidByTestModule(t, h, "partial1")
		expectAmount(t, h, id, h.Shop(t, "POST", op(id, "capture"), `{"amount": 1200}`), "captured", plugins.StateCaptured, 1200)
		r := h.Shop(t, "POST", op(id, "cancel"), `{"amount": 200}`)
		expectAmount(t, h, id, r, "captured", plugins.StateCaptured, 1000)
		hs := settlementOf(t, r)["history"].([]any)
		last := hs[len(hs)-1].(map[string]any)
		if last["operation"] != "refund" || last["operation_label"] != "一部取消" || last["amount"].(float64) != 1000 {
			t.Fatalf("history row %v", last)
		}
		expectAmount(t, h, id, h.Shop(t, "POST", op(id, "cancel"), nil), "cancelled", plugins.StateCancelled, 1000)
	})

	t.Run("the shop's webhook hears of a 一部取消 as settlement.modified", func(t *testing.T) {
		var mu sync.Mutex
		var got []hook.Event
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var e hook.Event
			_ = json.NewDecoder(r.Body).Decode(&e)
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		}))
		defer recv.Close()
		r := h.Shop(t, "POST", "/api/v1/webhook-endpoints", map[string]any{"url": recv.URL, "events": []string{"settlement.modified"}})
		expect(t, r, http.StatusCreated)
		id := paidByTestModule(t, h, "partial6")
		expectAmount(t, h, id, h.Shop(t, "POST", op(id, "cancel"), `{"amount": 300}`), "authorized", plugins.StateAuthorized, 1200)
		if _, err := h.D.Outbox.DispatchOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 || got[0].Type != hook.SettlementModified {
			t.Fatalf("events %+v", got)
		}
		var data map[string]any
		if err := json.Unmarshal(got[0].Data, &data); err != nil || data["operation"] != "refund" || data["amount"].(float64) != 1200 || data["status"] != "authorized" {
			t.Fatalf("event data %s %v", got[0].Data, err)
		}
	})

	t.Run("a lost answer to a 一部取消 that happened is settled by the provider's amount", func(t *testing.T) {
		id := paidByTestModule(t, h, "partial2")
		plugintest.SetSwitch(t, switches, "Cancel", plugintest.Undefined, 1)
		expect(t, h.Shop(t, "POST", op(id, "cancel"), `{"amount": 500}`), http.StatusBadGateway)
		if s, _ := atProvider(t, h, id); s.Status != settlement.Unknown {
			t.Fatalf("after a lost answer: %s", s.Status)
		}
		janitor(t, h)
		expectAmount(t, h, id, h.Shop(t, "GET", fmt.Sprintf("/api/v1/orders/%d", id), nil), "authorized", plugins.StateAuthorized, 1000)
	})

	refused := func(t *testing.T, id int64, name, body, code string) {
		t.Helper()
		before, _ := h.D.Settlements.ForOrder(context.Background(), id)
		attempts := rows(t, h, "settlement_attempts")
		n := calls.Load()
		r := h.Shop(t, "POST", op(id, name), body)
		expect(t, r, http.StatusUnprocessableEntity)
		if e := r.Body["error"].(map[string]any); e["field"] != "amount" || e["code"] != code {
			t.Fatalf("error %v, want %s on amount", e, code)
		}
		after, _ := h.D.Settlements.ForOrder(context.Background(), id)
		if after.Status != before.Status || after.Amount != before.Amount || after.Version != before.Version {
			t.Fatalf("the settlement moved: %+v", after)
		}
		if got := rows(t, h, "settlement_attempts"); got != attempts {
			t.Fatalf("%d attempts written", got-attempts)
		}
		if calls.Load() != n {
			t.Fatalf("%d calls to the module", calls.Load()-n)
		}
	}
	t.Run("atone takes no partial amount", func(t *testing.T) {
		id, _ := paid(t, h, "partial3")
		refused(t, id, "capture", `{"amount": 1000}`, "partial_not_supported")
		refused(t, id, "cancel", `{"amount": 1}`, "partial_not_supported")
		// Its whole amount, named, is the whole 売上計上 atone has always done.
		r := h.Shop(t, "POST", op(id, "capture"), `{"amount": 1500}`)
		expect(t, r, http.StatusOK)
		if s := agrees(t, h, id); s.Status != settlement.Captured || s.Amount != 1500 {
			t.Fatalf("%s %d", s.Status, s.Amount)
		}
	})
	t.Run("more than the settlement's amount, or below 0", func(t *testing.T) {
		id := paidByTestModule(t, h, "partial4")
		refused(t, id, "capture", `{"amount": 1501}`, "invalid_amount")
		refused(t, id, "cancel", `{"amount": 1501}`, "invalid_amount")
		refused(t, id, "capture", `{"amount": -1}`, "invalid_amount")
		refused(t, id, "cancel", `{"amount": -100}`, "invalid_amount")
	})
	t.Run("an amount that is no integer is a bad request", func(t *testing.T) {
		id := paidByTestModule(t, h, "partial5")
		expect(t, h.Shop(t, "POST", op(id, "capture"), `{"amount": "1000"}`), http.StatusBadRequest)
		expect(t, h.Shop(t, "POST", op(id, "cancel"), `{"amount": 10.5}`), http.StatusBadRequest)
		if s, _ := atProvider(t, h, id); s.Status != settlement.Authorized || s.Amount != 1500 {
			t.Fatalf("%s %d", s.Status, s.Amount)
		}
	})
}
