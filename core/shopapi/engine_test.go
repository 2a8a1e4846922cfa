package shopapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// These stories are the settlement engine's promise, each a way kessai's record once drifted
// from atone's: after each, what kessai holds is what atone holds.

// amountEdit is a PATCH that makes the order's total price*1 + 500 (a 取引修正 when paid).
func amountEdit(price int64) string {
	return fmt.Sprintf(`{"cart": [{"sku": "item-012", "item_name": "商品012", "price": %d, "quantity": 1}],
	  "order": {"total_items_price": %d, "discount": 0, "shipping_charge": 500, "cod_fee": 0, "tax": 0, "usedpoint": 0, "total_full_price": %d}}`,
		price, price, price+500)
}

// paid buys an order of 1,000 + 500 yen and posts its widget result: 仮売上.
func paid(t *testing.T, h *daemontest.Harness, number string) (int64, map[string]any) {
	t.Helper()
	id, w := buy(t, h, daemontest.Order(number, 1000, 1, h.Method), sandbox.OKMemberPhone)
	r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	expect(t, r, http.StatusOK)
	if settlementOf(t, r)["status"] != "authorized" {
		t.Fatalf("not authorized: %s", r.Raw)
	}
	return id, w
}

// agrees fails unless the order's settlement is what atone holds: the same transaction, in
// the state its status says, at the order's amount, and no other live transaction of the
// settlement at atone.
func agrees(t *testing.T, h *daemontest.Harness, id int64) *settlement.Settlement {
	t.Helper()
	ctx := context.Background()
	s, err := h.D.Settlements.ForOrder(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	o, err := h.D.Orders.Get(ctx, 0, id)
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, tx := range h.Sandbox.Transactions(sandbox.DefaultShop.PublicKey) {
		if len(tx.ShopTransactionNo) > len(s.TransID) && tx.ShopTransactionNo[:len(s.TransID)] == s.TransID &&
			tx.AuthorizationResult == wire.AuthorizationOK && !tx.Cancelled() {
			live++
		}
	}
	tx, ok := h.Sandbox.Transaction(sandbox.DefaultShop.PublicKey, s.WcTransID)
	switch {
	case !ok:
		t.Fatalf("kessai holds %s (%s) which atone does not know", s.WcTransID, s.Status)
	case s.Status == settlement.Authorized && (tx.Cancelled() || tx.Settled()),
		s.Status == settlement.Captured && (tx.Cancelled() || !tx.Settled()),
		s.Status == settlement.Cancelled && !tx.Cancelled():
		t.Fatalf("kessai says %s; atone's %s is settled=%v cancelled=%v", s.Status.Label(), tx.ID, tx.Settled(), tx.Cancelled())
	case s.Status != settlement.Authorized && s.Status != settlement.Captured && s.Status != settlement.Cancelled:
		t.Fatalf("settlement left %s", s.Status.Label())
	case s.Amount != tx.Amount || s.Amount != o.Total:
		t.Fatalf("amounts: kessai %d, atone %d, order %d", s.Amount, tx.Amount, o.Total)
	case s.Status != settlement.Cancelled && live != 1:
		t.Fatalf("%d live transactions at atone for one settlement", live)
	}
	return s
}

// widgetID is the transaction id a widget completion names.
func widgetID(w map[string]any) string {
	return fmt.Sprint(w["result"].(map[string]any)["id"])
}

// makeDue stands for time passing: every settlement's next look and claim are due.
func makeDue(t *testing.T, h *daemontest.Harness) {
	t.Helper()
	past := time.Now().UTC().Add(-time.Hour)
	err := h.D.Store.DB.Exec("UPDATE settlements SET resolve_after = ?, claimed_until = CASE WHEN claimed_until IS NULL THEN NULL ELSE ? END", past, past).Error
	if err != nil {
		t.Fatal(err)
	}
}

func janitor(t *testing.T, h *daemontest.Harness) {
	t.Helper()
	makeDue(t, h)
	if _, err := h.D.Settlements.ResolveDue(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
}

// deliverWebhook posts atone's payment notification for the transaction with this merchant
// number, as atone does after every authorization.
func deliverWebhook(t *testing.T, h *daemontest.Harness, attempt string) string {
	t.Helper()
	for _, tx := range h.Sandbox.Transactions(sandbox.DefaultShop.PublicKey) {
		if tx.ShopTransactionNo != attempt {
			continue
		}
		body, _ := json.Marshal(tx)
		resp, err := http.Post(h.URL+"/webhooks/atone", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("webhook: %d", resp.StatusCode)
		}
		return tx.ID
	}
	t.Fatalf("atone has no transaction %s", attempt)
	return ""
}

func TestLateWidgetResultDoesNotOverwriteACapture(t *testing.T) {
	h := daemontest.Start(t)
	id, w := buy(t, h, daemontest.Order("late", 1000, 1, h.Method), sandbox.OKMemberPhone)
	path := fmt.Sprintf("/api/v1/orders/%d/settlement", id)
	// The first result's reference is slow; a second post of the same result is not.
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Method: "GET", Path: "/v1/transactions/", Times: 1, Latency: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	first := make(chan daemontest.Response, 1)
	go func() { first <- h.Shop(t, "POST", path+"/result", w) }()
	h.InFlight(t, id)
	second := h.Shop(t, "POST", path+"/result", w)
	if second.Status == http.StatusOK && settlementOf(t, second)["status"] == "authorized" {
		// Only possible if the second result raced the first; then capture now, while the
		// first is still in flight.
		t.Log("second result recorded while the first was in flight")
	}
	// The capture itself is slow too, so that a late write of the first result would land
	// while it is in flight: that overwrite is what left kessai at 仮売上 with atone settled.
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Path: "*/settle", Times: 1, Latency: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	capture := h.Shop(t, "POST", path+"/capture", nil)
	if capture.Status == http.StatusOK {
		t.Errorf("a capture ran while the widget result was still being confirmed: %s", capture.Raw)
	}
	<-first
	if s, _ := h.D.Settlements.ForOrder(context.Background(), id); s.Status == settlement.Authorized {
		expect(t, h.Shop(t, "POST", path+"/capture", nil), http.StatusOK)
	}
	if s := agrees(t, h, id); s.Status != settlement.Captured {
		t.Fatalf("after capture: %s", s.Status)
	}
}

func TestLostModifyAnswerIsNotConcludedCancelled(t *testing.T) {
	h := daemontest.Start(t)
	id, _ := paid(t, h, "lostmod")
	// atone creates the replacement and cancels the old transaction, then the answer is lost.
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Method: "POST", Path: "/v1/transactions", Times: 1}); err != nil {
		t.Fatal(err)
	}
	r := h.Shop(t, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), amountEdit(2000))
	if r.Status == http.StatusOK {
		t.Fatalf("an unanswered 取引修正 answered 200: %s", r.Raw)
	}
	ctx := context.Background()
	s, _ := h.D.Settlements.ForOrder(ctx, id)
	as, err := settlement.Attempts(ctx, h.D.Store.DB, s.ID)
	if err != nil || len(as) == 0 || as[len(as)-1].Kind != settlement.OpModify {
		t.Fatalf("the 取引修正 was not written ahead: %v %v", as, err)
	}
	modify := as[len(as)-1]
	janitor(t, h)
	if s, _ = h.D.Settlements.ForOrder(ctx, id); s.Status == settlement.Cancelled {
		t.Fatal("the janitor concluded 取消済み from the replaced transaction")
	}
	// atone's webhook for the replacement names it: the settlement follows it.
	newTx := deliverWebhook(t, h, modify.AttemptNo)
	s = agrees(t, h, id)
	if s.WcTransID != newTx || s.Amount != 2500 || s.Status != settlement.Authorized {
		t.Fatalf("after the webhook: %s %d %s", s.WcTransID, s.Amount, s.Status)
	}
}

func TestConcurrentModifiesEndOnTheLiveTransaction(t *testing.T) {
	h := daemontest.Start(t)
	id, _ := paid(t, h, "concmod")
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Shop(t, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), amountEdit(int64(1100+100*i)))
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/capture", id), nil)
	}()
	wg.Wait()
	agrees(t, h, id)
}

func TestUnansweredWidgetResultKeepsItsTransaction(t *testing.T) {
	h := daemontest.Start(t)
	id, w := buy(t, h, daemontest.Order("noanswer", 1000, 1, h.Method), sandbox.OKMemberPhone)
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultInternalError, Method: "GET", Path: "/v1/transactions/"}); err != nil {
		t.Fatal(err)
	}
	r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	expect(t, r, http.StatusBadGateway)
	if sv := settlementOf(t, r); sv["wc_trans_id"] != widgetID(w) {
		t.Fatalf("the widget's transaction was not kept: %v", sv)
	}
	h.Sandbox.ClearFaults()
	janitor(t, h)
	if s := agrees(t, h, id); s.Status != settlement.Authorized {
		t.Fatalf("after the janitor: %s", s.Status)
	}
}

func TestEditDuringAnOperationIsRefused(t *testing.T) {
	h := daemontest.Start(t)
	id, _ := paid(t, h, "editbusy")
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Path: "*/settle", Times: 1, Latency: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	done := make(chan daemontest.Response, 1)
	go func() { done <- h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/capture", id), nil) }()
	h.InFlight(t, id)
	r := h.Shop(t, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), amountEdit(500))
	expect(t, r, http.StatusConflict)
	expect(t, <-done, http.StatusOK)
	if s := agrees(t, h, id); s.Status != settlement.Captured || s.Amount != 1500 {
		t.Fatalf("%s %d", s.Status, s.Amount)
	}
}

func TestStrayWidgetTransactionIsCancelled(t *testing.T) {
	h := daemontest.Start(t)
	id, w := buy(t, h, daemontest.Order("stray", 1000, 1, h.Method), sandbox.OKMemberPhone)
	// The buyer closes the widget; the order is edited to another amount; the old widget's
	// payment then arrives: atone authorized 1,500 for an order of 2,500.
	expect(t, h.Shop(t, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), amountEdit(2000)), http.StatusOK)
	r := h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	if r.Status == http.StatusOK && settlementOf(t, r)["status"] == "authorized" {
		t.Fatalf("a transaction of the wrong amount was accepted: %s", r.Raw)
	}
	tx, ok := h.Sandbox.Transaction(sandbox.DefaultShop.PublicKey, widgetID(w))
	if !ok || !tx.Cancelled() {
		t.Fatalf("the stray authorization is still live at atone: %+v", tx)
	}
	s, _ := h.D.Settlements.ForOrder(context.Background(), id)
	if s.Status != settlement.Pending || s.WcTransID != "" {
		t.Fatalf("the order's own checkout must stay open: %s %q", s.Status, s.WcTransID)
	}
	hs, _ := settlement.Histories(context.Background(), h.D.Store.DB, s.ID)
	found := false
	for _, x := range hs {
		found = found || (x.Operation == settlement.OpVoid && x.Outcome == "processed")
	}
	if !found {
		t.Fatalf("no history of the void: %+v", hs)
	}
}
func TestClientHangUpDoesNotDecideTheAnswer(t *testing.T) {
	h := daemontest.Start(t)
	id, _ := paid(t, h, "hangup")
	if err := h.Sandbox.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Path: "*/settle", Times: 1, Latency: time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/api/v1/orders/%d/settlement/capture", h.URL, id), nil)
	req.Header.Set("Authorization", "Bearer "+h.ShopKey)
	req.Header.Set("Idempotency-Key", "hangup-1")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the client was meant to hang up")
	}
	// The capture goes on without the client and is recorded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := h.D.Settlements.ForOrder(context.Background(), id)
		if s.Status == settlement.Captured && !s.Claimed(time.Now()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("capture not recorded after the hang-up: %s", s.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	agrees(t, h, id)
	// The retry is told what happened: the capture's own answer, replayed.
	r := h.Do(t, h.ShopKey, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/capture", id), nil, "Idempotency-Key", "hangup-1")
	if r.Status != http.StatusOK || settlementOf(t, r)["status"] != "captured" {
		t.Fatalf("retry after hang-up: %d %s", r.Status, r.Raw)
	}
}

// A 取引修正 atone accepted whose order could not be saved (here a database trigger refuses
// it) is not lost and never sent twice: the retry with the same Idempotency-Key is refused
// while the settlement holds the answer, and recovery adopts the replacement and saves the
// edited order once the database takes it.
func TestModifyWhoseOrderSaveFailsIsNeverSentTwice(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	h := daemontest.Start(t, daemontest.Clock(clock))
	id, _ := paid(t, h, "savefail")
	db := h.D.Store.DB
	if err := db.Exec(`CREATE TRIGGER refuse_2500 BEFORE UPDATE ON orders FOR EACH ROW
		BEGIN IF NEW.order_total_full_price = 2500 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF; END`).Error; err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/orders/%d", id)
	r := h.Do(t, h.ShopKey, "PATCH", path, amountEdit(2000), "Idempotency-Key", "edit-1")
	if r.Status < 500 {
		t.Fatalf("the save was meant to fail: %d %s", r.Status, r.Raw)
	}
	r = h.Do(t, h.ShopKey, "PATCH", path, amountEdit(2000), "Idempotency-Key", "edit-1")
	if r.Status != http.StatusConflict {
		t.Fatalf("retry: %d %s", r.Status, r.Raw)
	}
	s, _ := h.D.Settlements.ForOrder(context.Background(), id)
	creates := 0
	for _, tx := range h.Sandbox.Transactions(sandbox.DefaultShop.PublicKey) {
		if len(tx.ShopTransactionNo) > len(s.TransID) && tx.ShopTransactionNo[:len(s.TransID)] == s.TransID {
			creates++
		}
	}
	if creates != 2 {
		t.Fatalf("%d transactions at atone for the settlement, want the original and one replacement", creates)
	}
	if err := db.Exec("DROP TRIGGER refuse_2500").Error; err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // the claim's lease runs out; the janitor takes over
	if _, err := h.D.Settlements.ResolveDue(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if s := agrees(t, h, id); s.Amount != 2500 {
		t.Fatalf("after recovery: %d", s.Amount)
	}
}
