package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

// dialogs accepts every confirm() of the page and remembers what it asked.
type dialogs struct {
	mu   sync.Mutex
	seen []string
}

func acceptDialogs(t *testing.T, ctx context.Context) *dialogs {
	d := &dialogs{}
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for e, err := range opening {
			if err != nil {
				return
			}
			d.mu.Lock()
			d.seen = append(d.seen, e.Message)
			d.mu.Unlock()
			go func() {
				err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					_, err := cdp.Call(ctx, t, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
					return err
				}))
				if err != nil && ctx.Err() == nil {
					t.Errorf("accept dialog: %v", err)
				}
			}()
		}
	}()
	return d
}

func (d *dialogs) asked(substr string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.ContainsFunc(d.seen, func(s string) bool { return strings.Contains(s, substr) })
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to base+path and waits for sel on the new page.
func open(t *testing.T, ctx context.Context, url, sel string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__leaving = true`)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	run(t, ctx, "open "+url, chromedp.Navigate(url))
	waitLoaded(t, ctx, "open "+url)
	run(t, ctx, "open "+url, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// submit clicks sel, which posts a form, and waits until the next page has loaded: waiting
// for an element alone could find it on the page being left.
func submit(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__leaving = true`)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	run(t, ctx, what, chromedp.Click(chromedp.CSS(sel)))
	waitLoaded(t, ctx, what+": "+sel)
}

func waitLoaded(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__leaving && document.readyState === "complete"`))
		if err == nil && loaded {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no new page (%v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func source(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	if got := text(t, ctx, sel); !strings.Contains(got, want) {
		t.Fatalf("%s says %q, want %q", sel, got, want)
	}
}

func TestAdminConsoleInBrowser(t *testing.T) {
	ctx := admintest.Browser(t)
	srv := admintest.Start(t)
	base := srv.URL
	srv.User(t, "hanako", "hanako-password")
	srv.User(t, "mallory", "mallory-password")
	admintest.RegisterAtone(t, srv.Modules)
	confirms := acceptDialogs(t, ctx)
	bg := context.Background()

	t.Run("sign-in page, and the lockout message after five wrong passwords", func(t *testing.T) {
		run(t, ctx, "open sign-in", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#user_login")))
		admintest.Screenshot(t, ctx, "01-login")
		for range 5 {
			run(t, ctx, "wrong password",
				chromedp.SetValue(chromedp.CSS("#user_login"), "mallory"),
				chromedp.SetValue(chromedp.CSS("#user_pass"), "not the password"),
			)
			submit(t, ctx, "sign in", "#wp-submit")
		}
		wantText(t, ctx, ".notice-error", "15分間ロックされます")
		admintest.Screenshot(t, ctx, "02-login-locked")
	})

	t.Run("sign-in leads to the dashboard with module health", func(t *testing.T) {
		admintest.SignIn(t, ctx, base, "hanako", "hanako-password")
		wantText(t, ctx, ".module-health", "稼働中")
		admintest.Screenshot(t, ctx, "03-dashboard")
	})

	t.Run("drag atone into 利用中 and update", func(t *testing.T) {
		open(t, ctx, base+"/admin/settlement", `#available-settlement [data-slug="atone"]`)
		admintest.Screenshot(t, ctx, "04-settlement-select")
		run(t, ctx, "drag atone",
			chromedp.DragAndDrop(chromedp.CSS(`#available-settlement [data-slug="atone"] .name`), chromedp.CSS(`#settlement-selected`)),
			chromedp.WaitReady(chromedp.CSS(`#settlement-selected [data-slug="atone"]`)),
		)
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#settlement_selected"))); v != "testmodule,atone" {
			t.Fatalf("hidden field %q after the drop", v)
		}
		submit(t, ctx, "update", "#update-settlement")
		wantText(t, ctx, ".notice-success", "更新しました。")
		wantText(t, ctx, "#tab-atone", "atone")
		admintest.Screenshot(t, ctx, "05-settlement-updated")
	})

	t.Run("unselecting a module a payment method uses shows Welcart's refusal", func(t *testing.T) {
		if _, err := paymethod.New(srv.Store.DB, testCodes).Add(bg, paymethod.Method{Name: "テスト払い", Settlement: moduletest.Code, Module: moduletest.Slug}, "test"); err != nil {
			t.Fatal(err)
		}
		open(t, ctx, base+"/admin/settlement", `#settlement-selected [data-slug="testmodule"]`)
		run(t, ctx, "drag testmodule out",
			chromedp.DragAndDrop(chromedp.CSS(`#settlement-selected [data-slug="testmodule"] .name`), chromedp.CSS(`#available-settlement`)),
			chromedp.WaitReady(chromedp.CSS(`#available-settlement [data-slug="testmodule"]`)),
		)
		submit(t, ctx, "update", "#update-settlement")
		wantText(t, ctx, ".notice-error", "※テストモジュールを未選択にすることはできません。支払方法を「削除」もしくは「停止」してください。")
		wantText(t, ctx, "#settlement-selected", "テストモジュール")
		admintest.Screenshot(t, ctx, "06-settlement-refused")
	})

	const secretKey = "sk_test_atone_browser_5678"
	t.Run("atone settings: field errors beside the fields", func(t *testing.T) {
		run(t, ctx, "open atone tab",
			chromedp.Click(chromedp.CSS("#tab-atone")),
			chromedp.WaitVisible(chromedp.CSS("#settings-atone")),
		)
		submit(t, ctx, "save empty", "#update-atone")
		wantText(t, ctx, ".field-public_key .field-error", "公開鍵")
		wantText(t, ctx, ".field-secret_key .field-error", "秘密鍵")
		for _, label := range []string{"公開鍵", "秘密鍵", "動作環境", "テスト環境", "本番環境", "仮売上機能", "自動継続課金処理区分", "自動継続課金完了メール", "接続先URL"} {
			wantText(t, ctx, "#settings-atone", label)
		}
		wantText(t, ctx, "#update-atone", "atoneの設定を更新する")
		admintest.Screenshot(t, ctx, "07-atone-errors")
	})

	t.Run("atone settings saved; switching to 本番環境 asks first; the secret never comes back", func(t *testing.T) {
		run(t, ctx, "fill and save",
			chromedp.SetValue(chromedp.CSS("#f-public_key"), "pk_test_atone_shop"),
			chromedp.SendKeys(chromedp.CSS("#f-secret_key"), secretKey),
			chromedp.Click(chromedp.CSS(`input[name="environment"][value="production"]`)),
		)
		submit(t, ctx, "save", "#update-atone")
		if !confirms.asked("本番環境") {
			t.Fatal("switching to 本番環境 did not ask for confirmation")
		}
		wantText(t, ctx, ".notice-success", "更新しました。")
		wantText(t, ctx, "#mask-secret_key", "********5678")
		html := source(t, ctx)
		if strings.Contains(html, secretKey) || strings.Contains(html, "sk_test_atone_browser") {
			t.Fatal("the secret key is in the page source")
		}
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f-secret_key"))); v != "" {
			t.Fatalf("secret input holds %q", v)
		}
		admintest.Screenshot(t, ctx, "08-atone-saved")
		vals, err := srv.Modules.Settings(bg, "atone")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if v.Key == "environment" && v.Value != "production" {
				t.Fatalf("environment %q", v.Value)
			}
		}
	})

	t.Run("payment methods: add, stop, sort by drag-and-drop", func(t *testing.T) {
		add := func(name, expl, code string) {
			open(t, ctx, base+"/admin/paymethods", "#pm-new")
			run(t, ctx, "add "+name,
				chromedp.SetValue(chromedp.CSS("#new-name"), name),
				chromedp.SetValue(chromedp.CSS("#new-explanation"), expl),
				chromedp.SetValue(chromedp.CSS("#new-settlement"), code),
			)
			submit(t, ctx, "add "+name, "#add-method")
			wantText(t, ctx, ".notice-success", "支払方法を追加しました。")
		}
		add("後払い", `<b>atone</b> 翌月まとめて後払い<script>document.title="pwned"</script><img src="x" onerror="document.title='pwned'">`, "acting_atone")
		add("銀行振込", "振込先は注文確認メールでお知らせします。", "transferAdvance")
		add("代金引換", "商品お届け時に配達員にお支払いください。", "COD")
		pms := paymethod.New(srv.Store.DB, testCodes)
		list, _ := pms.List(bg, false)
		byName := map[string]paymethod.Method{}
		for _, m := range list {
			byName[m.Name] = m
		}
		if byName["後払い"].Module != "atone" {
			t.Fatalf("module of 後払い: %q", byName["後払い"].Module)
		}
		if title, _ := chromedp.Run(ctx, chromedp.Title()); title == "pwned" {
			t.Fatal("the explanation's script ran")
		}
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".pm-preview script, .pm-preview [onerror]").length`)); n != 0 {
			t.Fatalf("unsanitized explanation: %d dangerous nodes", n)
		}
		wantText(t, ctx, ".pm-preview b", "atone")

		bank := itoa(byName["銀行振込"].ID)
		run(t, ctx, "stop 銀行振込",
			chromedp.Click(chromedp.CSS(`#pm-`+bank+` input[name="use"][value="deactivate"]`)),
		)
		submit(t, ctx, "update 銀行振込", `#pm-`+bank+` button.update`)
		if m, _ := pms.Get(bg, byName["銀行振込"].ID); m.Active() {
			t.Fatal("銀行振込 still 使用")
		}

		cod := itoa(byName["代金引換"].ID)
		run(t, ctx, "drag 代金引換 to the top",
			chromedp.DragAndDrop(chromedp.CSS(`.pm-row[data-id="`+cod+`"] .drag-handle`), chromedp.CSS(`.pm-row:first-child .pm-name input[type=text]`)),
		)
		waitFor(t, func() bool {
			l, _ := pms.List(bg, false)
			return len(l) == 4 && l[0].Name == "代金引換"
		})
		waitFor(t, func() bool {
			s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#sort-status")))
			return err == nil && strings.Contains(s, "並び順を更新しました。")
		})
		admintest.Screenshot(t, ctx, "09-paymethods")
		run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#payment-methods")))
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(".pm-row:first-child .pm-name input[type=text]"))); v != "代金引換" {
			t.Fatalf("first row after reload: %q", v)
		}
	})

	t.Run("deleting asks with the manual's caution", func(t *testing.T) {
		pms := paymethod.New(srv.Store.DB, testCodes)
		bank, err := pms.ByName(bg, "銀行振込")
		if err != nil {
			t.Fatal(err)
		}
		submit(t, ctx, "delete 銀行振込", `#pm-`+itoa(bank.ID)+` button.delete`)
		wantText(t, ctx, ".notice-success", "支払方法を削除しました。")
		if !confirms.asked("その受注の支払方法が分からなくなってしまいます") {
			t.Fatal("no caution before delete")
		}
		if _, err := pms.Get(bg, bank.ID); err == nil {
			t.Fatal("not deleted")
		}
	})

	t.Run("a failed module shows its error and comes back with 再有効化する", func(t *testing.T) {
		h := srv.Modules
		// A binary that no longer matches its registered hash cannot be relaunched after a crash.
		b, err := os.ReadFile(h.Binary)
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(h.PluginDir, ".swap")
		if err := os.WriteFile(tmp, append(b, 0), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, h.Binary); err != nil {
			t.Fatal(err)
		}
		h.Switch(t, "Capture", plugintest.Crash, 1)
		_, _ = h.Adapter(t).Capture(bg, plugins.CaptureRequest{})
		h.WaitState(t, moduletest.Slug, module.Failed, 30*time.Second)
		open(t, ctx, base+"/admin/", ".module-health")
		wantText(t, ctx, `.module-health tr[data-slug="testmodule"] .last-error`, "SHA-256")
		admintest.Screenshot(t, ctx, "10-dashboard-failed")
		if err := os.WriteFile(tmp, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, h.Binary); err != nil {
			t.Fatal(err)
		}
		submit(t, ctx, "re-enable", `.module-health tr[data-slug="testmodule"] button.reenable`)
		wantText(t, ctx, ".notice-success", "モジュールを再有効化しました。")
		wantText(t, ctx, `.module-health tr[data-slug="testmodule"]`, "稼働中")
	})

	t.Run("監査ログ shows who did what", func(t *testing.T) {
		open(t, ctx, base+"/admin/audit", ".audit-log")
		for _, s := range []string{"hanako", "支払方法の並べ替え", "決済モジュール設定の更新", "クレジット決済モジュール選択の更新", "アカウントロック"} {
			wantText(t, ctx, ".audit-log", s)
		}
		if strings.Contains(source(t, ctx), secretKey) {
			t.Fatal("the secret is in the audit log")
		}
		admintest.Screenshot(t, ctx, "11-audit")
	})

	t.Run("on a phone", func(t *testing.T) {
		run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		for _, p := range []struct{ path, name, wait string }{
			{"/admin/paymethods", "12-phone-paymethods", "#payment-methods"},
			{"/admin/settlement", "13-phone-settlement", "#settlement-form"},
			{"/admin/settlement?tab=atone", "14-phone-atone", "#settings-atone"},
			{"/admin/", "15-phone-dashboard", ".module-health"},
		} {
			open(t, ctx, base+p.path, p.wait)
			admintest.Screenshot(t, ctx, p.name)
		}
		run(t, ctx, "menu", chromedp.Click(chromedp.CSS(".menu-toggle")), chromedp.WaitVisible(chromedp.CSS("#adminmenu")))
		admintest.Screenshot(t, ctx, "16-phone-menu")
	})
}

// testCodes are the settlement codes of the modules the test selects.
var testCodes = codes{moduletest.Code: moduletest.Slug, "acting_atone": "atone"}

type codes map[string]string

func (c codes) SettlementCodes(context.Context) (map[string]string, error) { return c, nil }

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
