package demo_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kessai/kessai/core/browsertest"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/demo"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// storefront starts a daemon with the demo storefront and its payment methods, and opens it.
func storefront(t *testing.T) (context.Context, *daemontest.Harness) {
	t.Helper()
	ctx := browsertest.New(t)
	h := daemontest.Start(t, daemontest.SQLite(), daemontest.Before(func(h *daemontest.Harness) {
		if err := demo.AddMethods(context.Background(), h.D.Methods); err != nil {
			t.Fatal(err)
		}
		demo.New(h.URL, h.ShopKey).Mount(h.D.HTTP.Engine)
	}))
	err := chromedp.Do(ctx,
		chromedp.Navigate(h.URL+"/demo/"),
		chromedp.WaitEnabled(chromedp.CSS("#buy")),
	)
	if err != nil {
		t.Fatalf("open storefront: %v", err)
	}
	return ctx, h
}

// TestStorefrontPurchaseInBrowser buys through the demo storefront as a newcomer would: cart,
// 後払い（atone）, the sandbox's atone widget (log in as the test member, pay), order complete
// with the settlement 仮売上.
func TestStorefrontPurchaseInBrowser(t *testing.T) {
	ctx, h := storefront(t)
	browsertest.Screenshot(ctx, t, "demo-storefront")
	in := openWidget(ctx, t)
	err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#phone"), kb.End+strings.Repeat(kb.Backspace, 20), in),
		chromedp.SendKeys(chromedp.CSS("#phone"), sandbox.OKMemberPhone, in),
		chromedp.SendKeys(chromedp.CSS("#password"), sandbox.TestPassword, in),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	browsertest.Screenshot(ctx, t, "demo-widget-login")
	payIn(ctx, t, in)
	complete(ctx, t, h, "demo-order-complete", 2000)
}

// TestStorefrontPaysAgainAfterCloseAndNG: the buyer closes the widget, comes back, is declined
// by atone, and pays with another atone account, all on the payment step of one order. The
// order ends 仮売上 for its amount, and atone holds no other authorization: every try paid
// this order's payment, not an earlier one.
func TestStorefrontPaysAgainAfterCloseAndNG(t *testing.T) {
	ctx, h := storefront(t)

	t.Run("a closed widget leaves the buyer on the payment step", func(t *testing.T) {
		in := openWidget(ctx, t)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#close"), in)); err != nil {
			t.Fatal(err)
		}
		text := noticeText(ctx, t, "まだ完了していません")
		onPaymentStep(ctx, t, "もう一度お支払いへ進む")
		browsertest.Screenshot(ctx, t, "demo-cancelled")
		t.Logf("notice: %s", text)
	})

	t.Run("NG keeps the buyer on the payment step with the reason", func(t *testing.T) {
		in := openWidget(ctx, t)
		browsertest.Screenshot(ctx, t, "demo-retry-widget")
		err := chromedp.Do(ctx,
			browsertest.WidgetPay(in, sandbox.NGMemberPhone, sandbox.TestPassword),
			chromedp.WaitVisible(chromedp.CSS("#close-ng"), in),
			chromedp.Click(chromedp.CSS("#close-ng"), in),
		)
		if err != nil {
			t.Fatalf("pay as the NG member: %v", err)
		}
		text := noticeText(ctx, t, "承認されませんでした")
		if !strings.Contains(text, "atone の審査の結果") || !strings.Contains(text, "別のお支払い方法") {
			t.Fatalf("the NG notice says %q", text)
		}
		onPaymentStep(ctx, t, "もう一度お支払いへ進む")
		methods, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#methods")))
		if err != nil || !strings.Contains(methods, "代金引換") {
			t.Fatalf("the buyer cannot choose another method: %q %v", methods, err)
		}
		browsertest.Screenshot(ctx, t, "demo-ng")
	})

	t.Run("the OK member pays the same order", func(t *testing.T) {
		in := openWidget(ctx, t)
		err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#phone"), kb.End+strings.Repeat(kb.Backspace, 20), in),
			chromedp.SendKeys(chromedp.CSS("#phone"), sandbox.OKMemberPhone, in),
			chromedp.SendKeys(chromedp.CSS("#password"), sandbox.TestPassword, in),
		)
		if err != nil {
			t.Fatal(err)
		}
		payIn(ctx, t, in)
		s := complete(ctx, t, h, "demo-done", 2000)

		var n int64
		if err := h.D.Store.DB.Model(&order.Order{}).Where("shop_id = ?", h.ShopID).Count(&n).Error; err != nil || n != 1 {
			t.Fatalf("the shop has %d orders (%v), want the one order paid again", n, err)
		}
		var live []sandbox.LedgerEntry
		ng := 0
		for _, e := range h.Sandbox.Ledger() {
			switch {
			case e.Live():
				live = append(live, e)
			case !e.OK():
				ng++
			}
		}
		if len(live) != 1 || live[0].ID != s.WcTransID || live[0].Amount != 2000 || live[0].ShopTransactionNo != s.Attempt {
			t.Fatalf("atone holds %+v live, want only %s for 2000 yen as %s", live, s.WcTransID, s.Attempt)
		}
		if ng != 1 {
			t.Fatalf("atone has %d NG transactions, want the one of the NG member; ledger %+v", ng, h.Sandbox.Ledger())
		}
	})
}

// TestStorefrontOtherMethodAfterNG: declined by atone, the buyer chooses 代金引換; the declined
// order is withdrawn rather than left 処理中, and the new one completes.
func TestStorefrontOtherMethodAfterNG(t *testing.T) {
	ctx, h := storefront(t)
	in := openWidget(ctx, t)
	err := chromedp.Do(ctx,
		browsertest.WidgetPay(in, sandbox.NGMemberPhone, sandbox.TestPassword),
		chromedp.WaitVisible(chromedp.CSS("#close-ng"), in),
		chromedp.Click(chromedp.CSS("#close-ng"), in),
	)
	if err != nil {
		t.Fatal(err)
	}
	noticeText(ctx, t, "承認されませんでした")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[name=method][value="代金引換"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#buy`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	onPaymentStep(ctx, t, "注文する")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#buy")), chromedp.WaitVisible(chromedp.CSS("#result"))); err != nil {
		t.Fatal(err)
	}
	var orders []order.Order
	if err := h.D.Store.DB.Where("shop_id = ?", h.ShopID).Order("id").Find(&orders).Error; err != nil || len(orders) != 2 {
		t.Fatalf("orders %d %v", len(orders), err)
	}
	if !orders[0].Cancelled() || orders[1].PaymentName != "代金引換" || orders[1].Cancelled() {
		t.Fatalf("the declined order %q (cancelled %v), the new one %q (cancelled %v)",
			orders[0].PaymentName, orders[0].Cancelled(), orders[1].PaymentName, orders[1].Cancelled())
	}
	for _, e := range h.Sandbox.Ledger() {
		if e.Live() {
			t.Fatalf("atone holds an authorization: %+v", e)
		}
	}
}

// openWidget presses the storefront's button and returns the widget's form once its login
// form shows.
func openWidget(ctx context.Context, t *testing.T) chromedp.QueryOption {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#buy")), chromedp.WaitReady(chromedp.CSS("#authentication-form-iframe"))); err != nil {
		t.Fatalf("open widget: %v", err)
	}
	return widgetFrame(ctx, t)
}

func payIn(ctx context.Context, t *testing.T, in chromedp.QueryOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#login"), in),
		chromedp.WaitVisible(chromedp.CSS("#pay"), in),
		chromedp.Click(chromedp.CSS("#pay"), in),
		chromedp.WaitVisible(chromedp.CSS("#result")),
	)
	if err != nil {
		t.Fatalf("pay: %v", err)
	}
}

// internal matches what a buyer must never read: atone's transaction ids and kessai's link
// keys and attempt numbers.
var internal = regexp.MustCompile(`tr_[A-Za-z0-9]{4}|ks[0-9a-f]{6}`)

// visibleText is the page's text as the buyer sees it, checked for internal numbers.
func visibleText(ctx context.Context, t *testing.T) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if m := internal.FindString(text); m != "" {
		t.Fatalf("the page shows the buyer %q: %s", m, text)
	}
	return text
}

// complete waits for the order complete page and checks it and the settlement behind it.
func complete(ctx context.Context, t *testing.T, h *daemontest.Harness, screen string, amount int64) settlement.Settlement {
	t.Helper()
	number, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#order-number")))
	if err != nil {
		t.Fatal(err)
	}
	label, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#status")))
	browsertest.Screenshot(ctx, t, screen)
	visibleText(ctx, t)
	if label != "仮売上" || number == "" {
		t.Fatalf("order complete shows %q %q", number, label)
	}
	// The page's word is not the proof: the settlement in the database is.
	var o order.Order
	if err := h.D.Store.DB.Where("shop_id = ? AND order_number = ?", h.ShopID, number).First(&o).Error; err != nil {
		t.Fatal(err)
	}
	s, err := h.D.Settlements.ForOrder(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != settlement.Authorized || s.Amount != amount || !strings.HasPrefix(s.WcTransID, "tr_") {
		t.Fatalf("settlement %+v", s)
	}
	return *s
}

// noticeText waits for the payment step's notice to say want and returns it.
func noticeText(ctx context.Context, t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var text string
	for time.Now().Before(deadline) {
		text, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#notice")))
		if strings.Contains(text, want) {
			return text
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the notice says %q, want %q", text, want)
	return ""
}

// onPaymentStep checks that the buyer is still on the payment step, its button enabled with
// the label, the order complete page hidden, and nothing internal shown.
func onPaymentStep(ctx context.Context, t *testing.T, button string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
			var b = document.getElementById("buy");
			var shown = function (id) { return getComputedStyle(document.getElementById(id)).display !== "none"; };
			return [shown("payment"), !b.disabled, shown("result"), b.textContent].join("|");
		})()`))
		if got == "true|true|false|"+button {
			visibleText(ctx, t)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("payment step shown|button enabled|complete shown|label = %s, want true|true|false|%s", got, button)
}

// widgetFrame waits for the widget's login form inside its iframe. atone.js may replace the
// iframe while it starts, so a stale node is looked up again rather than waited on forever.
func widgetFrame(ctx context.Context, t *testing.T) chromedp.QueryOption {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#authentication-form-iframe")))
		if err == nil && len(frames) > 0 {
			in := chromedp.FromNode(frames[len(frames)-1])
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#phone"), in))
			cancel()
			if err == nil {
				return in
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the widget's login form never appeared")
	return nil
}
