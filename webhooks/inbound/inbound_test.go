package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/daemon"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/webhooks/inbound"
)

// hooked is a sandbox shop whose 決済Webhook and 認証Webhook point at the daemon.
type hooked struct {
	*daemontest.Harness
	sb *sandbox.Server
}

// start runs a daemon with the webhook route, and a sandbox of the test's own whose shop
// delivers its webhooks to it; atone is reconfigured with that shop's keys. daemontest's
// sandbox cannot be used: its shop's webhook URLs are fixed before the daemon's address is
// known.
func start(t *testing.T) *hooked {
	t.Helper()
	ctx := context.Background()
	h := daemontest.Start(t)
	if !mounted(h.D.HTTP.Engine, "POST", "/webhooks/atone") { // core/daemon may mount it already
		inbound.Mount(h.D.HTTP.Engine, inbound.Deps{Store: h.D.Store, Adapters: h.D.Modules, Settlements: h.D.Settlements,
			Orders: h.D.Orders, Log: h.D.Log})
	}
	// Requests go through a server started after the route was added, so that no request is
	// served while the router changes.
	srv := httptest.NewServer(h.D.HTTP)
	t.Cleanup(srv.Close)
	shop := sandbox.Shop{Name: "通知テスト店", PublicKey: "pk_test_hooks", SecretKey: "sk_test_hooks",
		PaymentWebhookURL: srv.URL + "/webhooks/atone", AuthenticationWebhookURL: srv.URL + "/webhooks/atone"}
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shop}})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	err = h.D.SetupAtone(ctx, daemon.AtoneSetup{Binary: "kessai-atone", PublicKey: shop.PublicKey, SecretKey: shop.SecretKey, APIBase: base + "/v1/"})
	if err != nil {
		t.Fatal(err)
	}
	// This harness talks to its own sandbox, whose webhooks reach the daemon.
	h.URL, h.Sandbox, h.SandboxURL = srv.URL, sb, base
	return &hooked{Harness: h, sb: sb}
}

func mounted(e *gin.Engine, method, path string) bool {
	for _, r := range e.Routes() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// checkout creates an order and returns its id and widget config, without paying.
func (h *hooked) checkout(t *testing.T, number string, price int64) (int64, map[string]any) {
	t.Helper()
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order(number, price, 1, h.Method))
	if r.Status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	return int64(r.Body["id"].(float64)), r.Body["config"].(map[string]any)
}

// delivered waits for the sandbox to finish delivering the payment webhook of transaction id.
func (h *hooked) delivered(t *testing.T, id string) sandbox.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, d := range h.sb.Deliveries() {
			var b struct{ ID string }
			_ = json.Unmarshal(d.Body, &b)
			if d.Kind == sandbox.WebhookPayment && b.ID == id {
				if d.Status != http.StatusOK {
					t.Fatalf("webhook answered %d %s", d.Status, d.Error)
				}
				return d
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no payment webhook delivered for %s", id)
	return sandbox.Delivery{}
}

// post delivers body to the webhook route as atone would.
func (h *hooked) post(t *testing.T, body []byte) (int, inbound.Answer) {
	t.Helper()
	resp, err := http.Post(h.URL+"/webhooks/atone", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a inbound.Answer
	_ = json.Unmarshal(raw, &a)
	return resp.StatusCode, a
}

func histories(t *testing.T, h *hooked, orderID int64) (*settlement.Settlement, []settlement.History) {
	t.Helper()
	ctx := context.Background()
	s, err := h.D.Settlements.ForOrder(ctx, orderID)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := settlement.Histories(ctx, h.D.Store.DB, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s, hs
}

func errorRows(t *testing.T, h *hooked, key string) int {
	t.Helper()
	rows, _, err := errlog.List(context.Background(), h.D.Store.DB, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if r.LogKey == key {
			n++
		}
	}
	return n
}

func TestAtoneWebhooks(t *testing.T) {
	t.Parallel()
	h := start(t)
	ctx := context.Background()

	orderID, cfg := h.checkout(t, "h1", 1500)
	widget := h.CompleteWidget(t, cfg, sandbox.OKMemberPhone)
	txID := widget["result"].(map[string]any)["id"].(string)
	var body []byte

	t.Run("a checkout whose widget result never came becomes 仮売上 by the payment webhook", func(t *testing.T) {
		body = h.delivered(t, txID).Body
		s, hs := histories(t, h, orderID)
		if s.Status != settlement.Authorized || s.WcTransID != txID || s.Amount != 2000 {
			t.Fatalf("settlement %+v", s)
		}
		last := hs[len(hs)-1]
		if last.Operation != settlement.OpConfirm || last.Actor != "webhook:atone" || last.StatusTo != settlement.Authorized {
			t.Fatalf("history %+v", last)
		}
	})
	t.Run("the authentication webhook is accepted", func(t *testing.T) {
		for _, d := range h.sb.Deliveries() {
			if d.Kind == sandbox.WebhookAuthentication && d.Status != http.StatusOK {
				t.Fatalf("authentication webhook answered %d %s", d.Status, d.Error)
			}
		}
	})
	t.Run("the same webhook again has no second effect", func(t *testing.T) {
		_, before := histories(t, h, orderID)
		code, a := h.post(t, body)
		if code != http.StatusOK || !a.Duplicate || a.Result != inbound.Confirmed {
			t.Fatalf("%d %+v", code, a)
		}
		// Reformatted, it is still the same event.
		var v any
		_ = json.Unmarshal(body, &v)
		pretty, _ := json.MarshalIndent(v, "", "  ")
		if code, a := h.post(t, pretty); code != http.StatusOK || !a.Duplicate {
			t.Fatalf("%d %+v", code, a)
		}
		if _, after := histories(t, h, orderID); len(after) != len(before) {
			t.Fatalf("history grew from %d to %d rows", len(before), len(after))
		}
	})
	t.Run("a forged amount changes neither the settlement nor the order", func(t *testing.T) {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		m["amount"] = 1
		forged, _ := json.Marshal(m)
		_, before := histories(t, h, orderID)
		code, a := h.post(t, forged)
		if code != http.StatusOK || a.Result != inbound.Referenced {
			t.Fatalf("%d %+v", code, a)
		}
		s, after := histories(t, h, orderID)
		o, _ := h.D.Orders.Get(ctx, 0, orderID)
		if s.Amount != 2000 || s.Status != settlement.Authorized || o.Total != 2000 {
			t.Fatalf("settlement %d %s, order %d", s.Amount, s.Status, o.Total)
		}
		// One 取引参照 row records what atone said, not what the body said.
		if len(after) != len(before)+1 || after[len(after)-1].Operation != settlement.OpReference || after[len(after)-1].Amount != 2000 {
			t.Fatalf("history %+v", after[len(before):])
		}
		if code, a := h.post(t, forged); code != http.StatusOK || !a.Duplicate {
			t.Fatalf("%d %+v", code, a)
		}
		if _, again := histories(t, h, orderID); len(again) != len(after) {
			t.Fatal("the repeated forged webhook wrote history")
		}
	})
	t.Run("a transaction kessai does not know goes to the error log once", func(t *testing.T) {
		_, cfg := h.checkout(t, "h2", 1000)
		// shop_transaction_no is outside the checksum: the widget accepts any.
		cfg["payment"].(map[string]any)["shop_transaction_no"] = "ks00000000unknown-1"
		w := h.CompleteWidget(t, cfg, sandbox.OKMemberPhone)
		id := w["result"].(map[string]any)["id"].(string)
		d := h.delivered(t, id)
		if n := errorRows(t, h, id); n != 1 {
			t.Fatalf("%d error-log rows for %s", n, id)
		}
		rows, _, _ := errlog.List(ctx, h.D.Store.DB, 1, 0)
		if rows[0].Result != "ATONE WEBHOOK UNKNOWN" || rows[0].Fields()["state"] != "authorized" {
			t.Fatalf("row %+v", rows[0])
		}
		if n, _ := errlog.Notice(ctx, h.D.Store.DB); n.IsZero() {
			t.Fatal("no admin notice")
		}
		if code, a := h.post(t, d.Body); code != http.StatusOK || !a.Duplicate || a.Result != inbound.Unknown {
			t.Fatalf("%d %+v", code, a)
		}
		if n := errorRows(t, h, id); n != 1 {
			t.Fatalf("%d error-log rows after the repeat", n)
		}
	})
	t.Run("a transaction atone does not know either is answered 200 and logged nowhere", func(t *testing.T) {
		code, a := h.post(t, []byte(`{"id": "tr_0000000000000000", "shop_transaction_no": "x-1", "amount": 100, "authorization_result": 1}`))
		if code != http.StatusOK || a.Result != inbound.NotAtProvider {
			t.Fatalf("%d %+v", code, a)
		}
		if n := errorRows(t, h, "tr_0000000000000000"); n != 0 {
			t.Fatalf("%d error-log rows", n)
		}
	})
	t.Run("a body that is not a notification is 400", func(t *testing.T) {
		for _, b := range []string{"hello", `[1, 2]`, `{"foo": "bar"}`, `{"id": "not-an-atone-id"}`, ""} {
			if code, _ := h.post(t, []byte(b)); code != http.StatusBadRequest {
				t.Errorf("%q: %d", b, code)
			}
		}
	})
}

func ExampleMount() {
	// In core/daemon's commerce(), next to the shop API:
	//
	//	inbound.Mount(d.HTTP.Engine, inbound.Deps{Store: st, Adapters: d.Modules,
	//		Settlements: d.Settlements, Orders: d.Orders, Log: d.Log})
	//
	// atone's merchant portal then gets https://<kessai>/webhooks/atone as both the
	// 決済Webhook (与信OK時/NG時) and the 認証Webhook URL.
	fmt.Println("POST /webhooks/atone")
	// Output: POST /webhooks/atone
}
