package shopapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

func TestJanitorResolvesAConnectionDroppedAfterCommit(t *testing.T) {
	h := daemontest.Start(t)
	ctx := context.Background()
	id, w := buy(t, h, daemontest.Order("j1", 1500, 1, h.Method), sandbox.OKMemberPhone)
	r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	expect(t, r, http.StatusOK)
	trID := fmt.Sprint(settlementOf(t, r)["wc_trans_id"])

	// atone settles, then the connection drops before the answer: nobody knows.
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Path: "*/settle", Times: 1}); err != nil {
		t.Fatal(err)
	}
	r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/capture", id), nil)
	expect(t, r, http.StatusBadGateway)
	if settlementOf(t, r)["status"] != "unknown" || errCode(r) != "provider_no_answer" {
		t.Fatalf("%s", r.Raw)
	}
	tx, _ := h.Sandbox.Transaction(sandbox.DefaultShop.PublicKey, trID)
	if !tx.Settled() {
		t.Fatal("the sandbox did not commit the settle before dropping")
	}

	s, err := h.D.Settlements.ForOrder(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// The backoff has not passed: the janitor leaves it alone.
	if n, _ := h.D.Settlements.ResolveDue(ctx, 10); n != 0 {
		t.Fatalf("janitor looked before the backoff: %d", n)
	}
	h.D.Store.DB.Exec("UPDATE settlements SET resolve_after = ? WHERE id = ?", time.Now().UTC().Add(-time.Second), s.ID)
	if n, err := h.D.Settlements.ResolveDue(ctx, 10); n != 1 || err != nil {
		t.Fatalf("janitor: %d %v", n, err)
	}
	r = h.Shop(t, "GET", fmt.Sprintf("/api/v1/orders/%d", id), nil)
	sv := settlementOf(t, r)
	if sv["status_label"] != "売上計上" {
		t.Fatalf("after the janitor: %v", sv)
	}
	settles := 0
	for _, x := range sv["history"].([]any) {
		hx := x.(map[string]any)
		if hx["operation"] == string(settlement.OpCapture) && hx["status_to"] != "pending" {
			settles++
		}
	}
	if settles != 1 {
		t.Fatalf("%d capture calls recorded; the janitor must only reference", settles)
	}
	// A second 売上計上 is refused by kessai, so atone never sees a second settle.
	expect(t, h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/capture", id), nil), http.StatusConflict)
}

func TestConversionFunnel(t *testing.T) {
	h := daemontest.Start(t)
	result := func(id int64, w map[string]any) {
		expect(t, h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w), http.StatusOK)
	}
	for i := range 3 {
		id, w := buy(t, h, daemontest.Order(fmt.Sprintf("ok%d", i), 1000, 1, h.Method), sandbox.OKMemberPhone)
		result(id, w)
	}
	id, w := buy(t, h, daemontest.Order("ng", 60000, 1, h.Method), sandbox.OKMemberPhone)
	result(id, w)
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("closed", 1000, 1, h.Method))
	expect(t, r, http.StatusCreated)
	expect(t, h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%v/settlement/cancelled", r.Body["id"]), nil), http.StatusOK)

	r = h.Shop(t, "GET", "/api/v1/stats/conversion", nil)
	expect(t, r, http.StatusOK)
	rows := r.Body["payment_methods"].([]any)
	if len(rows) != 1 {
		t.Fatalf("%s", r.Raw)
	}
	f := rows[0].(map[string]any)
	if f["payment_name"] != h.Method || f["prepared"].(float64) != 5 || f["succeeded"].(float64) != 3 || f["ng"].(float64) != 1 || f["cancelled"].(float64) != 1 {
		t.Fatalf("funnel %v", f)
	}

	resp, err := http.Get(h.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := string(body)
	for _, want := range []string{
		`stage="succeeded"`, `stage="ng"`, `stage="cancelled"`, `stage="prepared"`,
		`module="atone"`, `op="confirm"`, `outcome="processed"`, `route="/api/v1/orders"`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("%s", m[:min(len(m), 3000)])
	}
}
