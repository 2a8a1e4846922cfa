package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

const chromiumPath = "/usr/bin/chromium"

// shopPage is a merchant's checkout page as atone's sample shows it: the payment signed on
// the server, atone.js from atone's host, Atone.config with every callback, Atone.start on
// click. The callbacks record what they get in window.atoneEvents.
var shopPage = template.Must(template.New("shop").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>テストショップ</title>
<script src="{{.Sandbox}}/v1/atone.js"></script></head>
<body>
<button id="buy" disabled>atone で支払う</button>
<script>
window.atoneEvents = [];
Atone.config({
  pub_key: {{.PubKey}},
  pre_token: "",
  payment: {{.Payment}},
  authenticated: function (token, userNo) { atoneEvents.push({event: "authenticated", token: token, user_no: userNo}); },
  cancelled: function () { atoneEvents.push({event: "cancelled"}); },
  failed: function (r) { atoneEvents.push({event: "failed", response: r}); },
  succeeded: function (r) { atoneEvents.push({event: "succeeded", response: r}); },
  error: function (name, message, errors) { atoneEvents.push({event: "error", name: name, message: message, errors: errors}); }
}, function () { document.getElementById("buy").disabled = false; });
document.getElementById("buy").addEventListener("click", function () { Atone.start(); });
</script></body></html>`))

// browser starts a fresh headless Chromium, or fails saying how to get one.
func browser(t *testing.T) context.Context {
	t.Helper()
	if os.Getenv("KESSAI_SKIP_BROWSER") == "1" {
		t.Skip("KESSAI_SKIP_BROWSER=1: browser test skipped")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the widget test needs Chromium at %s (%v): run `apt-get install -y chromium`, or set KESSAI_SKIP_BROWSER=1 to skip it", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first run starts the browser and must not carry a deadline; later steps get one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

type event struct {
	Event    string             `json:"event"`
	Token    string             `json:"token"`
	UserNo   string             `json:"user_no"`
	Response wire.WidgetResult  `json:"response"`
	Name     string             `json:"name"`
	Errors   []wire.ErrorDetail `json:"errors"`
}

// serveShop serves the shop's page on its own origin, as a merchant site would.
func serveShop(t *testing.T, sandboxURL string, shop sandbox.Shop, p map[string]any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := shopPage.Execute(w, map[string]any{"Sandbox": sandboxURL, "PubKey": shop.PublicKey, "Payment": p}); err != nil {
			t.Errorf("shop page: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func waitEvent(ctx context.Context, t *testing.T, want string) []event {
	t.Helper()
	var events []event
	for {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.atoneEvents)`))
		if err != nil {
			t.Fatalf("waiting for %s: %v (events so far %+v)", want, err, events)
		}
		events = nil
		_ = json.Unmarshal([]byte(raw), &events)
		for _, e := range events {
			if e.Event == want {
				return events
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s callback; events %+v", want, events)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkout opens the widget and returns the checkout iframe's node.
func checkout(ctx context.Context, t *testing.T, shopURL string) *chromedp.Node {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(shopURL),
		chromedp.WaitEnabled(chromedp.CSS("#buy")),
		chromedp.Click(chromedp.CSS("#buy")),
		// Not WaitVisible: an error closes the modal again before a visibility check could see it.
		chromedp.WaitReady(chromedp.CSS("#authentication-form-iframe")),
	)
	if err != nil {
		t.Fatalf("open widget: %v", err)
	}
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#authentication-form-iframe")))
	if err != nil || len(frames) == 0 {
		t.Fatalf("find checkout iframe: %v", err)
	}
	return frames[0]
}

func TestBrowserWidget(t *testing.T) {
	ctx := browser(t)
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shopA}})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })

	t.Run("the OK member logs in and the shop gets succeeded with a tr_ id", func(t *testing.T) {
		p := signed(t, shopA, payment(12460))
		frame := checkout(ctx, t, serveShop(t, base, shopA, p))
		in := chromedp.FromNode(frame)
		err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS("#phone"), in),
			chromedp.SendKeys(chromedp.CSS("#phone"), sandbox.OKMemberPhone, in),
			chromedp.SendKeys(chromedp.CSS("#password"), sandbox.TestPassword, in),
			chromedp.Click(chromedp.CSS("#login"), in),
			chromedp.WaitVisible(chromedp.CSS("#pay"), in),
			chromedp.Click(chromedp.CSS("#pay"), in),
		)
		if err != nil {
			t.Fatalf("checkout: %v", err)
		}
		events := waitEvent(ctx, t, "succeeded")
		var tok string
		var res wire.WidgetResult
		for _, e := range events {
			switch e.Event {
			case "authenticated":
				tok = e.Token
			case "succeeded":
				res = e.Response
			}
		}
		if !reTrID.MatchString(res.ID) || res.AuthorizationResult != wire.AuthorizationOK || !reToken.MatchString(tok) {
			t.Fatalf("callbacks %+v", events)
		}
		tx, ok := sb.Transaction(shopA.PublicKey, res.ID)
		if !ok || tx.Amount != 12460 || tx.AuthenticationToken != tok {
			t.Fatalf("sandbox has %+v", tx)
		}
		t.Logf("succeeded: %s, token %s", res.ID, tok)
	})

	t.Run("a wrong checksum reaches the error callback as EATN0351", func(t *testing.T) {
		p := signed(t, shopA, payment(500))
		p["checksum"] = strings.Repeat("A", 43) + "="
		checkout(ctx, t, serveShop(t, base, shopA, p))
		events := waitEvent(ctx, t, "error")
		last := events[len(events)-1]
		if last.Name != wire.TypeInvalidRequest || len(last.Errors) != 1 || last.Errors[0].Code != wire.CodeWidgetChecksum {
			t.Fatalf("error callback %+v", last)
		}
	})

	t.Run("the NG member gets failed after closing the form", func(t *testing.T) {
		p := signed(t, shopA, payment(800))
		frame := checkout(ctx, t, serveShop(t, base, shopA, p))
		in := chromedp.FromNode(frame)
		err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS("#phone"), in),
			chromedp.SendKeys(chromedp.CSS("#phone"), sandbox.NGMemberPhone, in),
			chromedp.SendKeys(chromedp.CSS("#password"), sandbox.TestPassword, in),
			chromedp.Click(chromedp.CSS("#login"), in),
			chromedp.WaitVisible(chromedp.CSS("#pay"), in),
			chromedp.Click(chromedp.CSS("#pay"), in),
			chromedp.WaitVisible(chromedp.CSS("#close-ng"), in),
			chromedp.Click(chromedp.CSS("#close-ng"), in),
		)
		if err != nil {
			t.Fatalf("checkout: %v", err)
		}
		events := waitEvent(ctx, t, "failed")
		last := events[len(events)-1]
		if last.Response.AuthorizationResult != wire.AuthorizationNG || last.Response.AuthorizationResultNGReason == nil ||
			*last.Response.AuthorizationResultNGReason != wire.NGReasonOther {
			t.Fatalf("failed callback %s", fmt.Sprint(last))
		}
	})
}
