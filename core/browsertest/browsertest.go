// Package browsertest drives Debian's Chromium headless through chromedp for tests of pages a
// person uses: the demo storefront, the atone widget, the admin console. Screenshots go under
// test-output/screens at the top of the module, for a person to look at.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Chromium is where Debian's chromium package puts the browser.
const Chromium = "/usr/bin/chromium"

// New starts a fresh headless Chromium and returns its context, with a deadline for the
// test's steps. Without Chromium the test fails and says how to install it; it is skipped
// (with the reason printed) only when KESSAI_SKIP_BROWSER=1.
func New(t testing.TB) context.Context {
	t.Helper()
	if os.Getenv("KESSAI_SKIP_BROWSER") == "1" {
		t.Skip("KESSAI_SKIP_BROWSER=1: browser test skipped")
	}
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("this test needs Chromium at %s (%v): run `apt-get install -y chromium`, or set KESSAI_SKIP_BROWSER=1 to skip it", Chromium, err)
	}
	// The background-networking flags matter on a machine without internet: without them
	// Chromium keeps trying Google's hosts.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
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
	// The first run starts the browser and must not carry the steps' deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", Chromium, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Dir is test-output/screens at the top of the module (found from the working directory).
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
	out := filepath.Join(dir, "test-output", "screens")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// Screenshot saves the whole page as test-output/screens/NAME.png (quality 100 makes
// chromedp write PNG) and returns the path.
func Screenshot(ctx context.Context, t testing.TB, name string) string {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(Dir(t), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// WidgetLogIn logs a member in on the atone widget's form, in its frame (in), and waits for
// the payment step: whatever the form held is cleared first (a shop may prefill the phone).
func WidgetLogIn(in chromedp.QueryOption, phone, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS("#phone"), in),
		chromedp.SendKeys(chromedp.CSS("#phone"), kb.End+strings.Repeat(kb.Backspace, 20), in),
		chromedp.SendKeys(chromedp.CSS("#phone"), phone, in),
		chromedp.SendKeys(chromedp.CSS("#password"), password, in),
		chromedp.Click(chromedp.CSS("#login"), in),
		chromedp.WaitVisible(chromedp.CSS("#pay"), in),
	)
}

// WidgetPay logs a member in as WidgetLogIn does and presses 支払う.
func WidgetPay(in chromedp.QueryOption, phone, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(WidgetLogIn(in, phone, password), chromedp.Click(chromedp.CSS("#pay"), in))
}
