package checkout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kessai/kessai/core/browsertest"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// shopPage is a shop's checkout page on the shop's own origin: kessai.js from kessaid, the
// shop's back end as its endpoint, and callbacks that record what they get.
var shopPage = template.Must(template.New("shop").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>テストショップ</title>
<script src="{{.Kessai}}/kessai.js"></script></head>
<body>
<button id="buy">atone で支払う</button>
<script>
window.events = [];
var order = null;
var pay = Kessai.checkout({
  endpoint: "/orders/{id}/",
  onAuthorized: function (o) { events.push({event: "authorized", status: o.settlement.status}); },
  onDeclined: function (reason) { events.push({event: "declined", message: reason}); },
  onCancelled: function () { events.push({event: "cancelled"}); },
  onError: function (message, detail) { events.push({event: "error", message: message, detail: detail}); }
});
document.getElementById("buy").addEventListener("click", function () {
  if (order) { pay.start(order); return; }
  fetch("/orders", {method: "POST"}).then(function (r) { return r.json(); }).then(function (o) { order = o; pay.start(o); });
});
</script></body></html>`))

type event struct {
	Event   string          `json:"event"`
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail"`
}

// shopBackEnd is the shop's server: it makes the order with kessai's shop API and forwards
// kessai.js's calls with the shop key. spoil changes the answer to the order's creation.
func shopBackEnd(t *testing.T, h *daemontest.Harness, spoil func(order map[string]any)) string {
	t.Helper()
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := shopPage.Execute(w, map[string]any{"Kessai": h.URL}); err != nil {
			t.Errorf("shop page: %v", err)
		}
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		res := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order(fmt.Sprintf("K%d", n.Add(1)), 3000, 1, h.Method))
		if res.Status != http.StatusCreated {
			t.Errorf("create order: %d %s", res.Status, res.Raw)
		}
		spoil(res.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res.Body)
	})
	mux.HandleFunc("POST /orders/{id}/{step}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res := h.Shop(t, "POST", "/api/v1/orders/"+r.PathValue("id")+"/settlement/"+r.PathValue("step"), body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Raw)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func waitEvent(ctx context.Context, t *testing.T, want string) []event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var events []event
	for time.Now().Before(deadline) {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.events)`))
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		events = nil
		_ = json.Unmarshal([]byte(raw), &events)
		for _, e := range events {
			if e.Event == want {
				return events
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s callback; events %+v", want, events)
	return nil
}

// widget waits until sel shows in the widget's iframe and returns the iframe to query in. A
// node taken while the iframe still loads may point at its blank first document, so it is
// looked up again rather than waited on forever.
func widget(ctx context.Context, t *testing.T, sel string) chromedp.QueryOption {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#authentication-form-iframe"), chromedp.AtLeast(0)))
		if err == nil && len(frames) > 1 {
			t.Fatalf("%d widget iframes", len(frames))
		}
		if err == nil && len(frames) == 1 {
			in := chromedp.FromNode(frames[0])
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(sel), in))
			cancel()
			if err == nil {
				return in
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s never showed in the widget", sel)
	return nil
}

// TestKessaiJSWidgetErrorThenPay: the shop's page gets a payment whose checksum is wrong
// (EATN0351). The buyer reads the error in the widget and closes it; the shop's onError and
// onCancelled fire, with a sentence and no code. Pressing the button again, kessai.js asks
// the shop's back end for the order's checkout, and the buyer pays.
func TestKessaiJSWidgetErrorThenPay(t *testing.T) {
	ctx := browsertest.New(t)
	h := daemontest.Start(t, daemontest.SQLite())
	shop := shopBackEnd(t, h, func(o map[string]any) {
		o["config"].(map[string]any)["payment"].(map[string]any)["checksum"] = strings.Repeat("A", 43) + "="
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(shop), chromedp.Click(chromedp.CSS("#buy"))); err != nil {
		t.Fatal(err)
	}
	in := widget(ctx, t, "#close-error")

	t.Run("the buyer reads the error in the widget and closes it", func(t *testing.T) {
		msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error-message"), in))
		if err != nil || !strings.Contains(msg, wire.Lookup(wire.CodeWidgetChecksum).Message) {
			t.Fatalf("the widget shows %q (%v)", msg, err)
		}
		browsertest.Screenshot(ctx, t, "kessai-js-widget-error")
		events := waitEvent(ctx, t, "error")
		e := events[len(events)-1]
		if e.Message != `お支払い画面でエラーが発生しました。時間をおいてもう一度お試しいただくか、別のお支払い方法をお選びください。` ||
			!strings.Contains(string(e.Detail), wire.CodeWidgetChecksum) {
			t.Fatalf("onError(%q, %s)", e.Message, e.Detail)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#close-error"), in), chromedp.WaitNotVisible(chromedp.CSS(".m-modalBox"))); err != nil {
			t.Fatal(err)
		}
		waitEvent(ctx, t, "cancelled")
	})

	t.Run("the order waits, paid by nobody", func(t *testing.T) {
		var s settlement.Settlement
		if err := h.D.Store.DB.Where("shop_id = ?", h.ShopID).First(&s).Error; err != nil {
			t.Fatal(err)
		}
		if s.Status != settlement.Pending || len(h.Sandbox.Ledger()) != 0 {
			t.Fatalf("settlement %s, atone has %+v", s.Status, h.Sandbox.Ledger())
		}
	})

	t.Run("pressing the button again pays with a fresh checkout", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#buy"))); err != nil {
			t.Fatal(err)
		}
		in := widget(ctx, t, "#phone")
		err := chromedp.Do(ctx,
			browsertest.WidgetPay(in, sandbox.OKMemberPhone, sandbox.TestPassword),
		)
		if err != nil {
			t.Fatal(err)
		}
		events := waitEvent(ctx, t, "authorized")
		if e := events[len(events)-1]; e.Status != string(settlement.Authorized) {
			t.Fatalf("onAuthorized with %+v", e)
		}
		live := 0
		for _, e := range h.Sandbox.Ledger() {
			if e.Live() {
				live++
			}
		}
		if live != 1 {
			t.Fatalf("atone holds %d authorizations: %+v", live, h.Sandbox.Ledger())
		}
	})
}
