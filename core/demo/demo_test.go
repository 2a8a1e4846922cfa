package demo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kessai/kessai/core/browsertest"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/demo"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// TestStorefrontPurchaseInBrowser buys through the demo storefront as a newcomer would: cart,
// 後払い（atone）, the sandbox's atone widget (log in as the test member, pay), order complete
// with the settlement 仮売上.
func TestStorefrontPurchaseInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	h := daemontest.Start(t, daemontest.SQLite(), daemontest.Before(func(h *daemontest.Harness) {
		demo.New(h.URL, h.ShopKey).Mount(h.D.HTTP.Engine)
	}))
	err := chromedp.Do(ctx,
		chromedp.Navigate(h.URL+"/demo/"),
		chromedp.WaitEnabled(chromedp.CSS("#buy")),
	)
	if err != nil {
		t.Fatalf("open storefront: %v", err)
	}
	browsertest.Screenshot(ctx, t, "demo-storefront")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#buy")), chromedp.WaitReady(chromedp.CSS("#authentication-form-iframe"))); err != nil {
		t.Fatalf("open widget: %v", err)
	}
	in := widgetFrame(ctx, t)
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#phone"), sandbox.OKMemberPhone, in),
		chromedp.SendKeys(chromedp.CSS("#password"), sandbox.TestPassword, in),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	browsertest.Screenshot(ctx, t, "demo-widget-login")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#login"), in),
		chromedp.WaitVisible(chromedp.CSS("#pay"), in),
		chromedp.Click(chromedp.CSS("#pay"), in),
		chromedp.WaitVisible(chromedp.CSS("#result")),
	)
	if err != nil {
		t.Fatalf("pay: %v", err)
	}
	var label, trans string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		label, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#status")))
		trans, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#trans-id")))
		if label != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	browsertest.Screenshot(ctx, t, "demo-order-complete")
	if label != "仮売上" || !strings.HasPrefix(trans, "tr_") {
		t.Fatalf("order complete shows %q %q", label, trans)
	}
	// The page's word is not the proof: the settlement in the database is.
	var s settlement.Settlement
	if err := h.D.Store.DB.WithContext(context.Background()).Where("wc_trans_id = ?", trans).First(&s).Error; err != nil {
		t.Fatal(err)
	}
	if s.Status != settlement.Authorized || s.Amount != 2000 {
		t.Fatalf("settlement %+v", s)
	}
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
