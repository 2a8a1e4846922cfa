package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"golang.org/x/text/encoding/japanese"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/jst"
)

// purchase buys through the shop API and the sandbox widget as phone, posts the widget's
// result, and returns the order id and the settlement as the shop API answers it.
func purchase(t *testing.T, h *daemontest.Harness, number string, price int64, phone string) (int64, map[string]any) {
	t.Helper()
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order(number, price, 1, h.Method))
	if r.Status != http.StatusCreated {
		t.Fatalf("create order %s: %d %s", number, r.Status, r.Raw)
	}
	id := int64(r.Body["id"].(float64))
	w := h.CompleteWidget(t, r.Body["config"].(map[string]any), phone)
	r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w)
	if r.Status != http.StatusOK {
		t.Fatalf("widget result of %s: %d %s", number, r.Status, r.Raw)
	}
	s, _ := r.Body["settlement"].(map[string]any)
	return id, s
}

// startShop runs a whole daemon on MariaDB with the real atone adapter and the sandbox, and an
// admin who may sign in.
func startShop(t *testing.T) *daemontest.Harness {
	t.Helper()
	h := daemontest.Start(t)
	if err := admin.CreateUser(context.Background(), h.D.Store.DB, "hanako", "hanako-password", "test"); err != nil {
		t.Fatal(err)
	}
	return h
}

// dialogState waits for the 決済情報 dialog's answer (OK or NG) and returns it.
func dialogState(t *testing.T, ctx context.Context) string {
	t.Helper()
	var state string
	waitFor(t, func() bool {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("settlement_dialog").getAttribute("data-state") || ""`))
		state = s
		return err == nil && s != ""
	})
	return state
}

func settlementOfOrder(t *testing.T, h *daemontest.Harness, id int64) *settlement.Settlement {
	t.Helper()
	s, err := h.D.Settlements.ForOrder(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOrderScreensInBrowser(t *testing.T) {
	h := startShop(t)
	ctx := admintest.Browser(t)
	confirms := acceptDialogs(t, ctx)
	base := h.URL
	bg := context.Background()

	id, s := purchase(t, h, "5001", 1500, sandbox.OKMemberPhone)
	if s["status_label"] != "仮売上" {
		t.Fatalf("purchase gave %v", s)
	}
	edit := fmt.Sprintf("%s/admin/orders/%d", base, id)
	first := settlementOfOrder(t, h, id).WcTransID
	admintest.SignIn(t, ctx, base, "hanako", "hanako-password")

	t.Run("受注リスト: the order with its 決済ID and 仮売上 badge", func(t *testing.T) {
		open(t, ctx, base+"/admin/orders", ".order-list")
		row := fmt.Sprintf(`.order-list tr[data-order-id="%d"]`, id)
		for _, want := range []string{"5001", "新規受付", h.Method, first, "仮売上", "¥2,000", "1000", "注文", "太郎", "東京都"} {
			wantText(t, ctx, row, want)
		}
		head := text(t, ctx, ".order-list thead")
		for _, col := range []string{"注文番号", "受注日", "対応状況", "支払方法", "決済ID", "総合計金額(円)", "配送方法", "会員No", "姓", "名", "都道府県"} {
			if !strings.Contains(head, col) {
				t.Fatalf("column %s missing from %q", col, head)
			}
		}
		if strings.Contains(source(t, ctx), "決済エラーが発生しました") {
			t.Fatal("error notice without any error")
		}
		admintest.Screenshot(t, ctx, "orders-01-list")
	})

	t.Run("受注編集 → 決済情報: 取引参照 with 売上計上 and 取消", func(t *testing.T) {
		submit(t, ctx, "open 受注編集", fmt.Sprintf(`.order-list tr[data-order-id="%d"] a.order-number`, id))
		run(t, ctx, "edit page", chromedp.WaitVisible(chromedp.CSS("#order-edit")))
		wantText(t, ctx, "#settlement-status", "仮売上")
		wantText(t, ctx, "#payment-info", "atone決済")
		wantText(t, ctx, "#payment-info", "「決済取消」と受注データの「キャンセル」は連動しません")
		wantText(t, ctx, ".not-linked", "対応状況が「キャンセル」もしくは決済状況が「取消済み」の場合は、更新した内容は atone と連携されません。")
		admintest.Screenshot(t, ctx, "orders-02-edit")
		run(t, ctx, "open dialog", chromedp.Click(chromedp.CSS(".settlement-information")))
		if st := dialogState(t, ctx); st != "OK" {
			t.Fatalf("取引参照: %s\n%s", st, text(t, ctx, "#settlement-response"))
		}
		for _, want := range []string{"取引参照", "利用金額", "2000 円", "売上計上日", "利用額変更", "処理区分", "処理日時"} {
			wantText(t, ctx, "#settlement-response", want)
		}
		run(t, ctx, "buttons", chromedp.WaitVisible(chromedp.CSS("#capture-settlement")), chromedp.WaitVisible(chromedp.CSS("#cancel-settlement")))
		viewShot(t, ctx, "orders-03-dialog")
	})

	t.Run("売上計上 asks Welcart's question and the badge becomes 売上計上", func(t *testing.T) {
		run(t, ctx, "売上計上", chromedp.Click(chromedp.CSS("#capture-settlement")))
		if st := dialogState(t, ctx); st != "OK" {
			t.Fatalf("売上計上: %s\n%s", st, text(t, ctx, "#settlement-response"))
		}
		if !confirms.asked("売上計上処理を実行します。よろしいですか？") {
			t.Fatal("売上計上 did not ask")
		}
		wantText(t, ctx, "#settlement-status", "売上計上")
		wantText(t, ctx, "#settlement-response .settlement-history", "売上計上")
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#capture-settlement").length`)); n != 0 {
			t.Fatal("売上計上 still offered after 売上計上")
		}
		if got := settlementOfOrder(t, h, id); got.Status != settlement.Captured || got.CapturedAt == nil {
			t.Fatalf("settlement %s", got.Status)
		}
		viewShot(t, ctx, "orders-04-captured")
		run(t, ctx, "close", chromedp.Click(chromedp.CSS("#settlement-dialog-close")))
	})

	t.Run("an amount edit sends a 取引修正: a new 決済ID", func(t *testing.T) {
		open(t, ctx, edit, "#order-edit")
		run(t, ctx, "two of them", chromedp.SetValue(chromedp.CSS(`input[name="line_qty"]`), "2"))
		// SetValue fires no event; the admin's typing would.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="line_qty"]').dispatchEvent(new Event("input", {bubbles: true}))`)); err != nil {
			t.Fatal(err)
		}
		wantText(t, ctx, "#total-full-price", "3,500") // recomputed in the page before saving
		submit(t, ctx, "設定を更新", "#update-order")
		wantText(t, ctx, ".notice-success", "更新しました。")
		wantText(t, ctx, ".notice-success", "取引修正")
		now := settlementOfOrder(t, h, id)
		if now.WcTransID == first || now.Amount != 3500 || now.Status != settlement.Captured {
			t.Fatalf("after the edit: %s %d %s (was %s)", now.WcTransID, now.Amount, now.Status, first)
		}
		wantText(t, ctx, "#payment-info .wc-trans-id", now.WcTransID)
		wantText(t, ctx, "#total-full-price", "3,500")
		if old, ok := h.Sandbox.Transaction(sandbox.DefaultShop.PublicKey, first); !ok || !old.Cancelled() {
			t.Fatalf("the replaced transaction is not cancelled at atone: %+v", old)
		}
		admintest.Screenshot(t, ctx, "orders-05-modified")
	})

	t.Run("取消 → 取消済み, and no more buttons", func(t *testing.T) {
		run(t, ctx, "open dialog", chromedp.Click(chromedp.CSS(".settlement-information")))
		dialogState(t, ctx)
		run(t, ctx, "取消", chromedp.WaitVisible(chromedp.CSS("#cancel-settlement")), chromedp.Click(chromedp.CSS("#cancel-settlement")))
		if st := dialogState(t, ctx); st != "OK" {
			t.Fatalf("取消: %s\n%s", st, text(t, ctx, "#settlement-response"))
		}
		if !confirms.asked("取消処理を実行します。よろしいですか？") {
			t.Fatal("取消 did not ask")
		}
		wantText(t, ctx, "#settlement-status", "取消済み")
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#settlement-response input[type=button]").length`)); n != 0 {
			t.Fatalf("%d buttons after 取消", n)
		}
		if got := settlementOfOrder(t, h, id); got.Status != settlement.Cancelled {
			t.Fatalf("settlement %s", got.Status)
		}
		viewShot(t, ctx, "orders-06-cancelled")
		run(t, ctx, "close", chromedp.Click(chromedp.CSS("#settlement-dialog-close")))
	})

	t.Run("an edit after 取消 is saved and says atone was not updated", func(t *testing.T) {
		before := settlementOfOrder(t, h, id).WcTransID
		open(t, ctx, edit, "#order-edit")
		run(t, ctx, "three, and キャンセル",
			chromedp.SetValue(chromedp.CSS(`input[name="line_qty"]`), "3"),
			chromedp.SetValue(chromedp.CSS(`#process_status`), "cancel"),
		)
		submit(t, ctx, "設定を更新", "#update-order")
		wantText(t, ctx, ".notice-warning", order.NoticeNotUpdated)
		o, err := h.D.Orders.Get(bg, 0, id)
		if err != nil || o.Total != 5000 || !o.Cancelled() {
			t.Fatalf("the edit was not saved: %+v %v", o, err)
		}
		if got := settlementOfOrder(t, h, id); got.WcTransID != before || got.Status != settlement.Cancelled {
			t.Fatalf("atone was asked: %s %s", got.WcTransID, got.Status)
		}
		wantText(t, ctx, "#settlement-status", "取消済み")
		admintest.Screenshot(t, ctx, "orders-07-refused")
		open(t, ctx, base+"/admin/orders", ".order-list")
		wantText(t, ctx, fmt.Sprintf(`.order-list tr[data-order-id="%d"] .process`, id), "キャンセル")
	})

	var ngKey string
	t.Run("an NG purchase raises the 決済エラー notice on 受注リスト", func(t *testing.T) {
		ng, s := purchase(t, h, "5002", 59500, sandbox.OKMemberPhone) // 60,000円 over the member's 50,000円
		if s["status_label"] != "決済エラー" {
			t.Fatalf("NG purchase gave %v", s)
		}
		ngKey = fmt.Sprint(s["trans_id"])
		open(t, ctx, base+"/admin/orders", ".order-list")
		notice := text(t, ctx, ".settlement-notice")
		if !regexp.MustCompile(`^決済エラーが発生しました。決済エラーログを確認してください。発生日時:\[ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \]$`).MatchString(strings.TrimSpace(notice)) {
			t.Fatalf("notice %q", notice)
		}
		at, _ := errlog.Notice(bg, h.D.Store.DB)
		if !strings.Contains(notice, at.In(jst.Tokyo).Format("2006-01-02 15:04:05")) {
			t.Fatalf("notice %q is not the last error's time %s in Asia/Tokyo", notice, at)
		}
		wantText(t, ctx, fmt.Sprintf(`.order-list tr[data-order-id="%d"]`, ng), "決済エラー")
		admintest.Screenshot(t, ctx, "orders-08-list-error")
	})

	t.Run("決済エラーログ from the 受注リスト button, and 詳細", func(t *testing.T) {
		submit(t, ctx, "決済エラーログ", "#open-errorlog")
		run(t, ctx, "list", chromedp.WaitVisible(chromedp.CSS(".errlog-list")))
		head := text(t, ctx, ".errlog-list thead")
		for _, col := range []string{"登録日", "リンクキー", "決済種別", "ステータス"} {
			if !strings.Contains(head, col) {
				t.Fatalf("column %s missing from %q", col, head)
			}
		}
		wantText(t, ctx, ".errlog-list tbody", ngKey)
		wantText(t, ctx, ".errlog-list tbody", "与信NG（金額超過）")
		if strings.Contains(text(t, ctx, ".errlog-list tbody"), "ATONE") {
			t.Fatalf("ステータス as stored: %q", text(t, ctx, ".errlog-list tbody"))
		}
		wantText(t, ctx, ".errlog-list tbody", "atone")
		admintest.Screenshot(t, ctx, "orders-09-errorlog")
		submit(t, ctx, "詳細", ".errlog-list a.log-detail")
		wantText(t, ctx, ".errlog-detail", ngKey)
		wantText(t, ctx, ".errlog-detail", "理由")
		wantText(t, ctx, ".errlog-detail", "1（金額超過）")
		wantText(t, ctx, ".errlog-detail", "60,000円")
		admintest.Screenshot(t, ctx, "orders-10-errorlog-detail")
	})

	t.Run("ログ出力 downloads Welcart's Shift_JIS file", func(t *testing.T) {
		open(t, ctx, base+"/admin/errorlog", ".errlog-list")
		dir := t.TempDir()
		begin := chromedp.Events(ctx, browser.DownloadWillBegin)
		progress := chromedp.Events(ctx, browser.DownloadProgress)
		enabled := true
		run(t, ctx, "ログ出力",
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
					Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &enabled})
				return err
			}),
			chromedp.Click(chromedp.CSS("#output-log")),
		)
		var name string
		for ev, err := range begin {
			if err != nil {
				t.Fatal(err)
			}
			name = ev.SuggestedFilename
			break
		}
		if !regexp.MustCompile(`^settlement_error_\d{14}\.log$`).MatchString(name) {
			t.Fatalf("file name %q", name)
		}
		var guid string
		for ev, err := range progress {
			if err != nil {
				t.Fatal(err)
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				guid = ev.GUID
				break
			}
			if ev.State == browser.DownloadProgressStateCanceled {
				t.Fatal("download cancelled")
			}
		}
		raw, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := japanese.ShiftJIS.NewDecoder().Bytes(raw)
		if err != nil {
			t.Fatalf("not Shift_JIS: %v", err)
		}
		body := string(decoded)
		for _, want := range []string{"登録日 = ", "リンクキー = " + ngKey, "処理結果 = ATONE AUTHORIZE NG", "amount = 60000", "reason = 1", "-----"} {
			if !strings.Contains(body, want) {
				t.Fatalf("export lacks %q:\n%s", want, body)
			}
		}
		// The page stays: a download does not navigate.
		wantText(t, ctx, ".errlog-list tbody", ngKey)
	})

	t.Run("ログ削除 of all rows after the confirmation clears the notice", func(t *testing.T) {
		submit(t, ctx, "ログ削除", "#delete-log")
		if !confirms.asked("全てのログを削除します。よろしいですか ?") {
			t.Fatal("deleting all did not ask")
		}
		wantText(t, ctx, ".notice-success", "ログを1件削除しました。")
		wantText(t, ctx, ".errlog-list tbody", "決済エラーログはありません。")
		if strings.Contains(source(t, ctx), "決済エラーが発生しました") {
			t.Fatal("notice still shown after deleting every row")
		}
		admintest.Screenshot(t, ctx, "orders-11-errorlog-empty")
		open(t, ctx, base+"/admin/orders", ".order-list")
		if strings.Contains(source(t, ctx), "決済エラーが発生しました") {
			t.Fatal("受注リスト still shows the notice")
		}
	})

	t.Run("dashboard: today's settlements and conversion beside module health", func(t *testing.T) {
		open(t, ctx, base+"/admin/", ".today-settlements")
		wantText(t, ctx, ".module-health", "稼働中")
		wantText(t, ctx, `.today tr[data-status="cancelled"] .count`, "1")
		wantText(t, ctx, `.today tr[data-status="error"] .count`, "1")
		wantText(t, ctx, `.today tr[data-status="authorized"] .count`, "0")
		wantText(t, ctx, ".funnel", h.Method)
		wantText(t, ctx, ".funnel .rate", "50.0%")
		admintest.Screenshot(t, ctx, "orders-12-dashboard")
	})

	t.Run("監査ログ: every action with the admin as actor", func(t *testing.T) {
		entries, err := audit.List(bg, h.D.Store.DB, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, e := range entries.Entries {
			seen[e.Action] = e.Actor
		}
		for _, a := range []string{"settlement.reference", "settlement.capture", "settlement.cancel", "order.edit", "errlog.export", "errlog.delete"} {
			if seen[a] != "hanako" {
				t.Errorf("audit %s by %q", a, seen[a])
			}
		}
		hs, _ := settlement.Histories(bg, h.D.Store.DB, settlementOfOrder(t, h, id).ID)
		actors := map[string]bool{}
		for _, x := range hs {
			actors[x.Actor] = true
		}
		if !actors["admin:hanako"] {
			t.Errorf("settlement history actors %v", actors)
		}
	})

	t.Run("on a phone", func(t *testing.T) {
		run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		open(t, ctx, base+"/admin/orders", ".order-list")
		admintest.Screenshot(t, ctx, "orders-13-phone-list")
		open(t, ctx, edit, "#order-edit")
		admintest.Screenshot(t, ctx, "orders-14-phone-edit")
	})
}

// viewShot saves what the window shows as test-output/screens/name.png: a full-page capture
// draws the modal dialog and the sticky menu where the page was scrolled, not where they are.
func viewShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(admintest.ScreensDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// TestOrderScreensRefuse: every new page needs a session, and every change its CSRF token.
func TestOrderScreensRefuse(t *testing.T) {
	h := startShop(t)
	bg := context.Background()
	id, _ := purchase(t, h, "6001", 1500, sandbox.OKMemberPhone)
	ng, _ := purchase(t, h, "6002", 59500, sandbox.OKMemberPhone)
	logs, _, err := errlog.List(bg, h.D.Store.DB, 10, 0)
	if err != nil || len(logs) != 1 {
		t.Fatalf("error log %v %v", logs, err)
	}
	srv := &admintest.Server{URL: h.URL}
	orderPath := fmt.Sprintf("/admin/orders/%d", id)
	logPath := fmt.Sprintf("/admin/errorlog/%d", logs[0].ID)

	t.Run("no session: pages go to sign-in, posts are refused", func(t *testing.T) {
		anon := srv.NewClient(t)
		for _, p := range []string{"/admin/orders", orderPath, "/admin/errorlog", logPath} {
			code, _ := anon.Get(t, p)
			if code != http.StatusSeeOther {
				t.Errorf("GET %s without a session: %d", p, code)
			}
		}
		for _, p := range []string{orderPath, "/admin/errorlog/export", "/admin/errorlog/delete"} {
			if code, _ := anon.Post(t, p, url.Values{"all": {"1"}}); code != http.StatusSeeOther {
				t.Errorf("POST %s without a session: %d", p, code)
			}
		}
		if code, _ := anon.PostJSON(t, "POST", orderPath+"/settlement/capture", `{}`, ""); code != http.StatusUnauthorized {
			t.Errorf("capture without a session: %d", code)
		}
	})

	c := srv.NewClient(t)
	c.SignIn(t, "hanako", "hanako-password")
	s := settlementOfOrder(t, h, id)

	t.Run("signed in without the CSRF token: refused, nothing changes", func(t *testing.T) {
		body := fmt.Sprintf(`{"trans_id": %q}`, s.TransID)
		for _, op := range []string{"capture", "cancel", "reference"} {
			if code, _ := c.PostJSON(t, "POST", orderPath+"/settlement/"+op, body, ""); code != http.StatusForbidden {
				t.Errorf("%s without CSRF: %d", op, code)
			}
		}
		for _, p := range []string{orderPath, "/admin/errorlog/export", "/admin/errorlog/delete"} {
			if code, _ := c.Post(t, p, url.Values{"all": {"1"}, "line_qty": {"9"}}); code != http.StatusForbidden {
				t.Errorf("POST %s without CSRF: %d", p, code)
			}
		}
		if got := settlementOfOrder(t, h, id); got.Status != settlement.Authorized {
			t.Fatalf("settlement %s", got.Status)
		}
		if n, _ := errlog.Notice(bg, h.D.Store.DB); n.IsZero() {
			t.Fatal("the error log was emptied")
		}
	})

	t.Run("a stale dialog is refused", func(t *testing.T) {
		code, _ := c.PostJSON(t, "POST", orderPath+"/settlement/capture", `{"trans_id": "ks000"}`, c.CSRF)
		if code != http.StatusConflict {
			t.Fatalf("wrong trans_id: %d", code)
		}
	})

	t.Run("filters and search", func(t *testing.T) {
		for _, tc := range []struct {
			query      string
			want, lack []int64
		}{
			{"settlement=error", []int64{ng}, []int64{id}},
			{"settlement=authorized", []int64{id}, []int64{ng}},
			{"s_field=order_number&s_word=6002", []int64{ng}, []int64{id}},
			{"s_field=name&s_word=太郎", []int64{id, ng}, nil},
			{"s_field=email&s_word=nobody@example.jp", nil, []int64{id, ng}},
			{"process=new&payment=" + url.QueryEscape(h.Method), []int64{id, ng}, nil},
			{"process=cancel", nil, []int64{id, ng}},
			{"from=2000-01-01&to=2000-01-02", nil, []int64{id, ng}},
			{"from=" + time.Now().In(jst.Tokyo).Format("2006-01-02"), []int64{id, ng}, nil},
		} {
			code, page := c.Get(t, "/admin/orders?"+tc.query)
			if code != http.StatusOK {
				t.Fatalf("%s: %d", tc.query, code)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, fmt.Sprintf(`data-order-id="%d"`, w)) {
					t.Errorf("%s: order %d missing", tc.query, w)
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(page, fmt.Sprintf(`data-order-id="%d"`, l)) {
					t.Errorf("%s: order %d listed", tc.query, l)
				}
			}
		}
	})

	t.Run("詳細 links to the order", func(t *testing.T) {
		code, page := c.Get(t, logPath)
		if code != http.StatusOK || !strings.Contains(page, fmt.Sprintf(`href="/admin/orders/%d"`, ng)) || !strings.Contains(page, "金額超過") {
			t.Fatalf("detail %d:\n%s", code, page)
		}
	})

	t.Run("ログ削除 of a selected row; an unknown order is 404", func(t *testing.T) {
		c.Get(t, "/admin/errorlog")
		code, _ := c.Post(t, "/admin/errorlog/delete", url.Values{"_csrf": {c.CSRF}, "log_id": {fmt.Sprint(logs[0].ID)}})
		if code != http.StatusSeeOther {
			t.Fatalf("delete: %d", code)
		}
		if n, _ := errlog.Notice(bg, h.D.Store.DB); !n.IsZero() {
			t.Fatal("the notice outlived the last row")
		}
		if code, _ := c.Get(t, "/admin/orders/999999"); code != http.StatusNotFound {
			t.Fatalf("unknown order: %d", code)
		}
	})
}
