package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kessai/kessai/core/browsertest"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// The widget's tests drive a real Chromium, so they live in the daemon's module beside the
// sandbox's program: the plugins module, which adapter authors import, stays free of chromedp.

var (
	shopA   = sandbox.Shop{Name: "店舗A", PublicKey: "pk_a", SecretKey: "sk_a"}
	reTrID  = regexp.MustCompile(`^tr_[A-Za-z0-9]{16}$`)
	reToken = regexp.MustCompile(`^tk_[A-Za-z0-9_]{24}$`)
	seq     atomic.Int64
)

// payment is a small valid payment with a fresh shop_transaction_no.
func payment(amount int64) map[string]any {
	return map[string]any{
		"amount":              amount,
		"shop_transaction_no": fmt.Sprintf("order-%d", seq.Add(1)),
		"sales_settled":       false,
		"customer":            map[string]any{"customer_name": "注文太郎", "phone_number": "090-1111-1111"},
		"items": []any{map[string]any{
			"shop_item_id": "item-1", "item_name": "商品", "item_price": amount, "item_count": 1,
		}},
	}
}

// signed adds the payment's checksum as the shop's server computes it.
func signed(t *testing.T, shop sandbox.Shop, p map[string]any) map[string]any {
	t.Helper()
	sum, err := wire.Checksum(shop.SecretKey, p)
	if err != nil {
		t.Fatal(err)
	}
	p["checksum"] = sum
	return p
}

// shopPage is a merchant's checkout page as atone's sample shows it: the payment signed on
// the server, atone.js from atone's host, Atone.config with every callback, Atone.start on
// click. The callbacks record what they get in window.atoneEvents.
var shopPage = template.Must(template.New("shop").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>テストショップ</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<script src="{{.Script}}"></script></head>
<body>
<button id="buy" disabled>atone で支払う</button>
<script>
window.atoneEvents = [];
// What the form reports of its height, for the tests of the modal's place.
window.boxHeights = [];
window.addEventListener("message", function (e) {
  if (e.data && e.data.msg === "box_height") boxHeights.push(e.data.box_height);
});
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
	return servePage(t, shopPage, map[string]any{"Script": sandboxURL + "/v1/atone.js", "PubKey": shop.PublicKey, "Payment": p})
}

// servePage serves a page template on an origin of its own.
func servePage(t *testing.T, page *template.Template, data map[string]any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, data); err != nil {
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
	ctx := browsertest.New(t)
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
			browsertest.WidgetPay(in, sandbox.OKMemberPhone, sandbox.TestPassword),
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

	t.Run("a wrong checksum reaches the error callback as EATN0351 and is shown in the form", func(t *testing.T) {
		p := signed(t, shopA, payment(500))
		p["checksum"] = strings.Repeat("A", 43) + "="
		frame := checkout(ctx, t, serveShop(t, base, shopA, p))
		events := waitEvent(ctx, t, "error")
		last := events[len(events)-1]
		if last.Name != wire.TypeInvalidRequest || len(last.Errors) != 1 || last.Errors[0].Code != wire.CodeWidgetChecksum {
			t.Fatalf("error callback %+v", last)
		}
		closeError(ctx, t, frame, wire.Lookup(wire.CodeWidgetChecksum).Message)
	})

	t.Run("the NG member gets failed after closing the form", func(t *testing.T) {
		p := signed(t, shopA, payment(800))
		frame := checkout(ctx, t, serveShop(t, base, shopA, p))
		in := chromedp.FromNode(frame)
		err := chromedp.Do(ctx,
			browsertest.WidgetPay(in, sandbox.NGMemberPhone, sandbox.TestPassword),
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

// closeError checks that the form shows want on its error screen, presses 閉じる, and waits
// for the cancelled callback: a widget error ends as cancelled, whatever atone.js the shop has.
func closeError(ctx context.Context, t *testing.T, frame *chromedp.Node, want string) {
	t.Helper()
	in := chromedp.FromNode(frame)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#close-error"), in)); err != nil {
		t.Fatalf("error screen: %v", err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error-message"), in))
	if err != nil {
		t.Fatalf("error message: %v", err)
	}
	if !strings.Contains(msg, want) {
		t.Fatalf("the form shows %q, want %q", msg, want)
	}
	if visible, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector(".m-modalBox")).display !== "none"`)); !visible {
		t.Fatal("the modal closed before the buyer read the error")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#close-error"), in)); err != nil {
		t.Fatal(err)
	}
	events := waitEvent(ctx, t, "cancelled")
	for _, e := range events {
		if e.Event == "succeeded" || e.Event == "failed" {
			t.Fatalf("a widget error ended as %s: %+v", e.Event, events)
		}
	}
}

// TestBrowserWidgetErrors: every error of the widget's calls is shown in the form with atone's
// message and 閉じる, besides the error callback; closing it is cancelled. The 2017 production
// atone.js ignores the error message, so the form is all a buyer sees.
func TestBrowserWidgetErrors(t *testing.T) {
	ctx := browsertest.New(t)
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shopA}})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	login := func(t *testing.T, frame *chromedp.Node) {
		t.Helper()
		in := chromedp.FromNode(frame)
		err := chromedp.Do(ctx,
			browsertest.WidgetPay(in, sandbox.OKMemberPhone, sandbox.TestPassword),
		)
		if err != nil {
			t.Fatalf("log in and pay: %v", err)
		}
	}

	t.Run("EATN0304 an unknown public key", func(t *testing.T) {
		url := servePage(t, shopPage, map[string]any{"Script": base + "/v1/atone.js", "PubKey": "pk_nobody", "Payment": signed(t, shopA, payment(700))})
		frame := checkout(ctx, t, url)
		closeError(ctx, t, frame, wire.Lookup(wire.CodeWidgetPublicKey).Message)
	})
	t.Run("EATN9999 atone's 500", func(t *testing.T) {
		if err := sb.AddFault(sandbox.Fault{Kind: sandbox.FaultInternalError, Path: "/payment/api/check", Times: 1}); err != nil {
			t.Fatal(err)
		}
		frame := checkout(ctx, t, serveShop(t, base, shopA, signed(t, shopA, payment(700))))
		closeError(ctx, t, frame, "現在サービスを利用できません")
	})
	t.Run("EATN1101 a shop_transaction_no already paid", func(t *testing.T) {
		p := signed(t, shopA, payment(700))
		login(t, checkout(ctx, t, serveShop(t, base, shopA, p)))
		waitEvent(ctx, t, "succeeded")
		frame := checkout(ctx, t, serveShop(t, base, shopA, p))
		login(t, frame)
		closeError(ctx, t, frame, wire.Lookup(wire.CodeDuplicateShopNo).Message)
	})
}

// TestBrowserWidgetClosedNeverSucceeds: × is disabled while atone authorizes, so the buyer
// cannot close a form whose payment goes through; the shop gets succeeded and nothing else.
func TestBrowserWidgetClosedNeverSucceeds(t *testing.T) {
	ctx := browsertest.New(t)
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shopA}})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	if err := sb.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Path: "/payment/api/authorize", Latency: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	frame := checkout(ctx, t, serveShop(t, base, shopA, signed(t, shopA, payment(1200))))
	in := chromedp.FromNode(frame)
	err = chromedp.Do(ctx,
		browsertest.WidgetPay(in, sandbox.OKMemberPhone, sandbox.TestPassword),
		chromedp.WaitNotPresent(chromedp.CSS("#close:enabled"), in),
		// The buyer presses × while atone authorizes.
		chromedp.Click(chromedp.CSS("#close"), in),
	)
	if err != nil {
		t.Fatalf("pay and press ×: %v", err)
	}
	events := waitEvent(ctx, t, "succeeded")
	time.Sleep(500 * time.Millisecond)
	raw, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.atoneEvents)`))
	if strings.Contains(raw, `"cancelled"`) {
		t.Fatalf("a form closed during authorization reported cancelled too: %s", raw)
	}
	if live := liveOK(sb); len(live) != 1 {
		t.Fatalf("sandbox holds %d live authorizations, want 1; events %+v", len(live), events)
	}
}

func liveOK(sb *sandbox.Server) []sandbox.LedgerEntry {
	var out []sandbox.LedgerEntry
	for _, e := range sb.Ledger() {
		if e.Live() {
			out = append(out, e)
		}
	}
	return out
}

// strictPage calls atone.js the ways production atone.js refuses: Atone.start before the
// config's callback, and a second Atone.config without one. It records what threw.
var strictPage = template.Must(template.New("strict").Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>テストショップ</title>
<script src="{{.Script}}"></script></head>
<body>
<script>
window.atoneEvents = [];
window.thrown = {};
function attempt(name, f) {
  try { f(); } catch (e) { thrown[name] = e.name + ": " + e.message; }
}
var opts = {
  pub_key: {{.PubKey}}, pre_token: "", payment: {{.Payment}},
  cancelled: function () { atoneEvents.push({event: "cancelled"}); },
  succeeded: function (r) { atoneEvents.push({event: "succeeded", response: r}); }
};
Atone.config(opts, function () {
  atoneEvents.push({event: "ready"});
  attempt("second_config", function () { Atone.config(opts); });
});
attempt("early_start", function () { Atone.start(); });
</script></body></html>`))

// TestBrowserAtoneJSIsStrict: the sandbox's atone.js throws where production's throws, so a
// shop page that works here works with atone; ?lenient=1 forgives both for old pages.
func TestBrowserAtoneJSIsStrict(t *testing.T) {
	ctx := browsertest.New(t)
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shopA}})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	run := func(t *testing.T, script string) map[string]string {
		t.Helper()
		url := servePage(t, strictPage, map[string]any{"Script": script, "PubKey": shopA.PublicKey, "Payment": signed(t, shopA, payment(300))})
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
		waitEvent(ctx, t, "ready")
		var thrown map[string]string
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.thrown)`))
		if err != nil || json.Unmarshal([]byte(raw), &thrown) != nil {
			t.Fatalf("read thrown: %v %s", err, raw)
		}
		return thrown
	}
	t.Run("start before ready and a second config without callback throw", func(t *testing.T) {
		thrown := run(t, base+"/v1/atone.js")
		if !strings.HasPrefix(thrown["early_start"], "TypeError") || !strings.HasPrefix(thrown["second_config"], "TypeError") {
			t.Fatalf("thrown %v", thrown)
		}
	})
	t.Run("lenient=1 queues the start and takes the config", func(t *testing.T) {
		thrown := run(t, base+"/v1/atone.js?lenient=1")
		if len(thrown) != 0 {
			t.Fatalf("lenient atone.js threw %v", thrown)
		}
		// The early start opened the modal once the form was ready.
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(".m-modalBox"))); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBrowserWidgetOnPhone: on a phone's window the modal stays inside the window on every
// start, the second included, and the form keeps one height across its screens, so that a
// production atone.js, which places the modal only at start, places it right too.
func TestBrowserWidgetOnPhone(t *testing.T) {
	ctx := browsertest.New(t)
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shopA}})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 640, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	type rect struct{ Top, Bottom, Left, Right, Inner, Frame float64 }
	measure := func(t *testing.T) rect {
		t.Helper()
		var r rect
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
			var b = document.querySelector(".m-modalBox").getBoundingClientRect();
			return JSON.stringify({Top: b.top, Bottom: b.bottom, Left: b.left, Right: b.right, Inner: window.innerHeight,
				Frame: document.getElementById("authentication-form-iframe").offsetHeight});
		})()`))
		if err != nil || json.Unmarshal([]byte(raw), &r) != nil {
			t.Fatalf("measure: %v %s", err, raw)
		}
		return r
	}
	frame := checkout(ctx, t, serveShop(t, base, shopA, signed(t, shopA, payment(900))))
	in := chromedp.FromNode(frame)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#phone"), in)); err != nil {
		t.Fatal(err)
	}
	first := measure(t)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#close"), in),
		chromedp.WaitNotVisible(chromedp.CSS(".m-modalBox")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(ctx, t, "cancelled")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#buy")),
		chromedp.WaitVisible(chromedp.CSS("#phone"), in),
	)
	if err != nil {
		t.Fatal(err)
	}
	second := measure(t)
	err = chromedp.Do(ctx,
		browsertest.WidgetLogIn(in, sandbox.NGMemberPhone, sandbox.TestPassword),
	)
	if err != nil {
		t.Fatal(err)
	}
	confirm := measure(t)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#pay"), in), chromedp.WaitVisible(chromedp.CSS("#close-ng"), in)); err != nil {
		t.Fatal(err)
	}
	ng := measure(t)
	for i, r := range []rect{first, second, confirm, ng} {
		if r.Top < 0 || r.Bottom > r.Inner || r.Left < 0 || r.Right > 375 {
			t.Errorf("screen %d: modal at %+v, outside a 375×%v window", i+1, r, r.Inner)
		}
	}
	heights, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`window.boxHeights`))
	if err != nil {
		t.Fatal(err)
	}
	// A hidden form measures 0, which atone.js ignores.
	heights = slices.DeleteFunc(heights, func(h float64) bool { return h == 0 })
	for _, h := range heights {
		if h != heights[0] {
			t.Errorf("the form reported the heights %v: a modal placed at start from one of them is misplaced on the next", heights)
			break
		}
	}
}
