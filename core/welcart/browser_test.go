package welcart_test

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"golang.org/x/text/encoding/japanese"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/browsertest"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/welcart"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

var adminPage = template.Must(template.ParseFiles(filepath.Join("testdata", "admin.html")))

// startBridge serves the test page as a Welcart site's wp-admin would, and relays what
// Welcart's scripts send to the façade the way a Welcart bridge does: admin-ajax.php to
// welcart.Path and admin.php's ログ出力 link to welcart.AdminPath, unchanged but for the URL and
// the Authorization header (the admin API token for payment_ajax, the shop's key otherwise).
// It returns its URL and what it relayed, one "action/mode status" line per AJAX call.
func startBridge(t *testing.T, h *daemontest.Harness, shopKey, adminToken string) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var relayed []string
	relay := func(w http.ResponseWriter, method, target, key, contentType string, body io.Reader) int {
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return 0
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return 0
		}
		defer resp.Body.Close()
		for _, k := range []string{"Content-Type", "Content-Disposition"} {
			if v := resp.Header.Get(k); v != "" {
				w.Header().Set(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return resp.StatusCode
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /wp-admin/js/{file}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, filepath.Join("testdata", filepath.Base(r.PathValue("file"))))
	})
	mux.HandleFunc("POST /wp-admin/admin-ajax.php", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		key := shopKey
		v, _ := url.ParseQuery(string(body))
		if v.Get("action") == "payment_ajax" {
			key = adminToken
		}
		code := relay(w, http.MethodPost, h.URL+welcart.Path, key, r.Header.Get("Content-Type"), bytes.NewReader(body))
		mu.Lock()
		relayed = append(relayed, fmt.Sprintf("%s/%s %d", v.Get("action"), v.Get("mode"), code))
		mu.Unlock()
	})
	mux.HandleFunc("GET /wp-admin/admin.php", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("order_action") == "dlsettlementerrorlog" {
			relay(w, http.MethodGet, h.URL+welcart.AdminPath+"?"+r.URL.RawQuery, shopKey, "", nil)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err := adminPage.Execute(w, map[string]string{"OrderID": q.Get("order_id"), "TransID": q.Get("trans_id"), "ResponseCd": q.Get("responsecd")})
		if err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(relayed)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// until waits for the page's js to be true, after its AJAX calls have been answered.
func until(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.jQuery !== undefined && jQuery.active === 0 && !!(`+js+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is not true (%v)", what, js, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// open loads the test page and waits for its scripts.
func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, "open "+url, chromedp.Navigate(url))
	until(t, ctx, "open "+url, `window.payment !== undefined && document.readyState === "complete"`)
}

func inner(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, `(document.querySelector(`+jsString(sel)+`) || {innerHTML: ""}).innerHTML`)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

func asked(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `window.asked`)
}

// download runs trigger, which makes the page navigate to a file, and returns the file.
func download(t *testing.T, ctx context.Context, what string, trigger chromedp.Action[chromedp.Void]) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	begin := chromedp.Events(ctx, browser.DownloadWillBegin)
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	enabled := true
	do(t, ctx, what,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &enabled})
			return err
		}),
		trigger,
	)
	var name string
	for ev, err := range begin {
		if err != nil {
			t.Fatal(err)
		}
		name = ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatalf("%s: download cancelled", what)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			raw, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				t.Fatal(err)
			}
			return name, raw
		}
	}
	t.Fatalf("%s: no download", what)
	return "", nil
}

func sjis(t *testing.T, b []byte) string {
	t.Helper()
	s, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatalf("not Shift_JIS: %v", err)
	}
	return string(s)
}

// Welcart's own admin scripts, relayed by a bridge, work with the façade's answers: the test
// page has the DOM Welcart's screens put them in and binds what Welcart's scripts bind, and a
// headless Chromium clicks through it as an admin would.
func TestWelcartScriptsInBrowser(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	_, token, err := admin.CreateToken(ctx, h.D.Store.DB, "welcart-bridge", "test")
	if err != nil {
		t.Fatal(err)
	}
	paid := &welcartOrder{welcartID: 2001, transID: "4130000001", number: "b1", price: 1500, authorizedPhone: sandbox.OKMemberPhone}
	buyWelcart(t, h, h.ShopKey, paid)
	// Over atone's 50,000 yen limit the authorization is NG: one error-log row each.
	declined := []*welcartOrder{
		{welcartID: 2002, transID: "4130000002", number: "b2", price: 60000, authorizedPhone: sandbox.OKMemberPhone},
		{welcartID: 2003, transID: "4130000003", number: "b3", price: 61000, authorizedPhone: sandbox.OKMemberPhone},
		{welcartID: 2004, transID: "4130000004", number: "b4", price: 62000, authorizedPhone: sandbox.OKMemberPhone},
	}
	for _, o := range declined {
		buyWelcart(t, h, h.ShopKey, o)
	}
	rows, _, err := errlog.List(ctx, h.D.Store.DB, 0, 0)
	if err != nil || len(rows) != 3 {
		t.Fatalf("error log %v %v", rows, err)
	}
	logOf := map[string]errlog.Entry{}
	for _, e := range rows {
		logOf[e.LogKey] = e
	}
	base, relayed := startBridge(t, h, h.ShopKey, token)
	list := base + "/wp-admin/admin.php?page=usces_orderlist"
	bc := browsertest.New(t)

	openErrorLog := func(t *testing.T) {
		open(t, bc, list)
		do(t, bc, "決済エラーログ一覧", chromedp.Click(chromedp.CSS("#settlement_errorlog")))
		until(t, bc, "the list", `document.querySelectorAll("#settlement-error-log-list .error-log-check").length > 0`)
	}
	tick := func(t *testing.T, id int64) {
		do(t, bc, "tick", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#settlement-error-log-list .error-log-check[value="%d"]`, id))))
	}

	t.Run("ticking one row and ログ出力 exports exactly that row", func(t *testing.T) {
		openErrorLog(t)
		one := logOf[declined[1].kessaiKey]
		tick(t, one.ID)
		name, raw := download(t, bc, "ログ出力", chromedp.Click(chromedp.CSS("#errorlog-output")))
		if !regexp.MustCompile(`^settlement_error_\d{14}\.log$`).MatchString(name) {
			t.Fatalf("file name %q", name)
		}
		text := sjis(t, raw)
		if strings.Count(text, "登録日 = ") != 1 || !strings.Contains(text, "リンクキー = "+one.LogKey+"\r\n") {
			t.Fatalf("export of row %d:\n%s", one.ID, text)
		}
		if !strings.HasSuffix(text, "\r\n"+strings.Repeat("-", 50)+"\r\n\r\n") || strings.Contains(text, "決済種別") {
			t.Fatalf("not Welcart's block:\n%q", text)
		}
	})
	t.Run("詳細, then the detail's ログ出力 exports that row", func(t *testing.T) {
		openErrorLog(t)
		one := logOf[declined[2].kessaiKey]
		do(t, bc, "詳細", chromedp.Click(chromedp.CSS(fmt.Sprintf(`.error-log-detail[id="%d"]`, one.ID))))
		until(t, bc, "the detail", `document.getElementById("log_id") !== null`)
		if got := inner(t, bc, "#settlement-error-log-detail"); !strings.Contains(got, one.LogKey) || !strings.Contains(got, "ATONE AUTHORIZE NG") {
			t.Fatalf("detail %s", got)
		}
		_, raw := download(t, bc, "ログ出力 of the detail", chromedp.Click(chromedp.CSS("#errorlog-detail-output")))
		text := sjis(t, raw)
		if strings.Count(text, "登録日 = ") != 1 || !strings.Contains(text, "リンクキー = "+one.LogKey+"\r\n") {
			t.Fatalf("export of the detail's row %d:\n%s", one.ID, text)
		}
	})
	t.Run("ticking one row and ログ削除 deletes exactly that row, twice in a row", func(t *testing.T) {
		openErrorLog(t)
		loads := eval[string](t, bc, `sessionStorage.getItem("loads")`)
		for i, o := range declined[:2] {
			one := logOf[o.kessaiKey]
			tick(t, one.ID)
			do(t, bc, "ログ削除", chromedp.Click(chromedp.CSS("#errorlog-clear")))
			until(t, bc, "the list after ログ削除", fmt.Sprintf(`document.querySelector('.error-log-check[value="%d"]') === null`, one.ID))
			left, _, err := errlog.List(ctx, h.D.Store.DB, 0, 0)
			if err != nil || len(left) != 2-i {
				t.Fatalf("%d rows left: %v", len(left), err)
			}
			if slices.ContainsFunc(left, func(e errlog.Entry) bool { return e.ID == one.ID }) {
				t.Fatalf("row %d is still there", one.ID)
			}
			if got := asked(t, bc); got[len(got)-1] != "選択したログを削除します。よろしいですか ?" {
				t.Fatalf("asked %q", got)
			}
		}
		if got := eval[string](t, bc, `sessionStorage.getItem("loads")`); got != loads {
			t.Fatal("the page reloaded while rows remain")
		}
	})
	t.Run("deleting the last ticked row reloads the order list, as nodata says", func(t *testing.T) {
		openErrorLog(t)
		loads := eval[string](t, bc, `sessionStorage.getItem("loads")`)
		tick(t, logOf[declined[2].kessaiKey].ID)
		do(t, bc, "ログ削除", chromedp.Click(chromedp.CSS("#errorlog-clear")))
		until(t, bc, "the reload", `sessionStorage.getItem("loads") !== `+jsString(loads)+` && document.readyState === "complete"`)
		if n, _ := errlog.Notice(ctx, h.D.Store.DB); !n.IsZero() {
			t.Fatal("the notice is still up")
		}
	})

	t.Run("支払方法: add, edit, sort and delete twice each without a reload", func(t *testing.T) {
		open(t, bc, base+"/wp-admin/admin.php?page=usces_initial")
		loads := eval[string](t, bc, `sessionStorage.getItem("loads")`)
		atone, err := h.D.Methods.ByName(ctx, h.Method)
		if err != nil {
			t.Fatal(err)
		}
		add := func(name, code string) int64 {
			do(t, bc, "add "+name, chromedp.SetValue(chromedp.CSS("#newname"), name), chromedp.SetValue(chromedp.CSS("#newsettlement"), code),
				chromedp.Click(chromedp.CSS("#add_payment")))
			until(t, bc, "add "+name, `document.getElementById("newname").value === ""`)
			m, err := h.D.Methods.ByName(ctx, name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return m.ID
		}
		bank := add("銀行振込", "transferAdvance")
		cod := add("代金引換", "COD")
		order := func() []int64 {
			return eval[[]int64](t, bc, `$("table", "#payment-list").map(function () { return Number(this.id.replace("payment-", "")); }).get()`)
		}
		stored := func() []int64 {
			ms, err := h.D.Methods.List(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
			return ids
		}
		if got := order(); !slices.Equal(got, []int64{atone.ID, bank, cod}) {
			t.Fatalf("rows %v", got)
		}

		field := func(id int64, name string) string { return fmt.Sprintf(`[id="payment[%d][%s]"]`, id, name) }
		update := func(id int64) string { return fmt.Sprintf(`[id="updatepayment[%d]"]`, id) }
		do(t, bc, "edit the name", chromedp.SetValue(chromedp.CSS(field(bank, "name")), "銀行振込（前払い）"), chromedp.Click(chromedp.CSS(update(bank))))
		until(t, bc, "the first edit", `$("#payment-list [id='payment[`+fmt.Sprint(bank)+`][name]']").val() === "銀行振込（前払い）" && $("#payment-list .payment-refusal").length === 0`)
		do(t, bc, "edit again: 停止 and an explanation",
			chromedp.Click(chromedp.CSS(field(bank, "use_deactivate"))),
			chromedp.SetValue(chromedp.CSS(field(bank, "explanation")), "<p>前払いです</p>"),
			chromedp.Click(chromedp.CSS(update(bank))))
		until(t, bc, "the second edit", `$("#payment-list [id='payment[`+fmt.Sprint(bank)+`][use_deactivate]']").prop("checked")`)
		m, _ := h.D.Methods.Get(ctx, bank)
		if m.Name != "銀行振込（前払い）" || m.Use != paymethod.Deactivate || m.Explanation != "<p>前払いです</p>" {
			t.Fatalf("stored %+v", m)
		}

		drag := func(id int64, to int) {
			// What jQuery UI's sortable does on a drop: the row moves, then update runs.
			js := fmt.Sprintf(`(function () { var row = $("#payment-%d").closest("#payment-list > tr"); var rows = $("#payment-list > tr.metastuffrow").not(row);
				if (%d >= rows.length) { row.insertAfter(rows.last()); } else { row.insertBefore(rows.eq(%d)); } sortUpdate(); return true; })()`, id, to, to)
			eval[bool](t, bc, js)
		}
		drag(cod, 0)
		until(t, bc, "the first sort", `$("#payment-list #payment-`+fmt.Sprint(cod)+`").closest("#payment-list > tr").index() === 0`)
		if want := []int64{cod, atone.ID, bank}; !slices.Equal(stored(), want) || !slices.Equal(order(), want) {
			t.Fatalf("after the first sort: stored %v, rows %v", stored(), order())
		}
		drag(atone.ID, 2)
		until(t, bc, "the second sort", `jQuery.active === 0`)
		if want := []int64{cod, bank, atone.ID}; !slices.Equal(stored(), want) || !slices.Equal(order(), want) {
			t.Fatalf("after the second sort: stored %v, rows %v", stored(), order())
		}

		del := func(id int64) string { return fmt.Sprintf(`[id="deletepayment[%d]"]`, id) }
		do(t, bc, "delete 代金引換", chromedp.Click(chromedp.CSS(del(cod))))
		until(t, bc, "the first delete", `$("#payment-`+fmt.Sprint(cod)+`").length === 0`)
		do(t, bc, "delete 銀行振込", chromedp.Click(chromedp.CSS(del(bank))))
		until(t, bc, "the second delete", `$("#payment-`+fmt.Sprint(bank)+`").length === 0`)
		if want := []int64{atone.ID}; !slices.Equal(stored(), want) || !slices.Equal(order(), want) {
			t.Fatalf("after the deletes: stored %v, rows %v", stored(), order())
		}

		// A refused delete: Welcart's script puts meta_row in the table whatever the answer, so
		// the refusal shows above the rows, which stay editable.
		do(t, bc, "delete the method orders were bought with", chromedp.Click(chromedp.CSS(del(atone.ID))))
		until(t, bc, "the refusal", `$("#payment-list .payment-refusal").length === 1`)
		if got := inner(t, bc, "#payment-list .payment-refusal"); !strings.Contains(got, "「停止」") {
			t.Fatalf("refusal %s", got)
		}
		if !slices.Equal(order(), []int64{atone.ID}) {
			t.Fatalf("rows %v", order())
		}
		// A refused add or update: meta_id -1, Welcart shows its error and keeps the table.
		do(t, bc, "add a name that exists", chromedp.SetValue(chromedp.CSS("#newname"), h.Method),
			chromedp.SetValue(chromedp.CSS("#newsettlement"), "COD"), chromedp.Click(chromedp.CSS("#add_payment")))
		until(t, bc, "the duplicate", `$("#payment_ajax-response .error").length === 1`)
		if !slices.Equal(order(), []int64{atone.ID}) {
			t.Fatalf("rows %v", order())
		}
		if got := eval[string](t, bc, `sessionStorage.getItem("loads")`); got != loads {
			t.Fatal("the page reloaded")
		}
	})

	edit := func(o *welcartOrder, responsecd string) string {
		q := url.Values{"page": {"usces_orderlist"}, "order_action": {"edit"}, "order_id": {fmt.Sprint(o.welcartID)},
			"trans_id": {o.transID}, "responsecd": {responsecd}}
		return base + "/wp-admin/admin.php?" + q.Encode()
	}
	openDialog := func(t *testing.T) {
		do(t, bc, "決済情報", chromedp.Click(chromedp.CSS(".settlement-information")))
		until(t, bc, "the dialog", `$("#settlement-response").html() !== ""`)
	}
	status := func() settlement.Status {
		s, err := h.D.Settlements.ForOrder(ctx, paid.kessaiID)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}
	t.Run("決済情報: 利用額変更 and 取消 from the dialog", func(t *testing.T) {
		open(t, bc, edit(paid, ""))
		openDialog(t)
		if got := inner(t, bc, "#settlement-response"); !strings.Contains(got, paid.kessaiKey) {
			t.Fatalf("dialog %s", got)
		}
		do(t, bc, "利用額変更", chromedp.SetValue(chromedp.CSS("#amount_change"), "1700"), chromedp.Click(chromedp.CSS("#change-settlement")))
		until(t, bc, "利用額変更", `$("#amount").val() === "1700"`)
		if got := asked(t, bc); got[len(got)-1] != "利用額を変更します。よろしいですか？" {
			t.Fatalf("asked %q", got)
		}
		s, _ := h.D.Settlements.ForOrder(ctx, paid.kessaiID)
		if s.Amount != 1700 || s.Status != settlement.Authorized {
			t.Fatalf("after 利用額変更: %d %s", s.Amount, s.Status)
		}
		do(t, bc, "売上計上", chromedp.Click(chromedp.CSS("#capture-settlement")))
		until(t, bc, "売上計上", `$("#settlement-status .card-capture").length === 1`)
		do(t, bc, "取消", chromedp.Click(chromedp.CSS("#delete-settlement")))
		until(t, bc, "取消", `$("#settlement-status .card-delete").length === 1`)
		if got := asked(t, bc); got[len(got)-1] != "取消処理を実行します。よろしいですか？" {
			t.Fatalf("asked %q", got)
		}
		if status() != settlement.Cancelled {
			t.Fatalf("settlement %s", status())
		}
		if n := eval[int](t, bc, `$("#settlement-response input[type=button]").length`); n != 0 {
			t.Fatalf("%d buttons after 取消", n)
		}
	})
	t.Run("a history row with an error asks error_atone and shows the dialog", func(t *testing.T) {
		open(t, bc, edit(paid, "NG"))
		openDialog(t)
		if got := inner(t, bc, "#settlement-response"); !strings.Contains(got, "取引参照") {
			t.Fatalf("dialog %s", got)
		}
		if got := relayed(); got[len(got)-1] != "usces_admin_ajax/error_atone 200" {
			t.Fatalf("relayed %q", got[len(got)-1])
		}
	})
	t.Run("an unknown order shows Welcart's NG message in the dialog", func(t *testing.T) {
		open(t, bc, edit(&welcartOrder{welcartID: 9999, transID: "4139999999"}, ""))
		openDialog(t)
		if got := inner(t, bc, "#settlement-response"); !strings.Contains(got, "受注が見つかりません。") {
			t.Fatalf("dialog %s", got)
		}
	})
	t.Run("every call was answered HTTP 200, refusals too", func(t *testing.T) {
		got := relayed()
		for _, want := range []string{"order_item_ajax/get_settlement_error_log 200", "order_item_ajax/get_settlement_error_log_detail 200",
			"order_item_ajax/delete_settlement_error_log 200", "payment_ajax/ 200", "usces_admin_ajax/get_atone 200",
			"usces_admin_ajax/change_atone 200", "usces_admin_ajax/capture_atone 200", "usces_admin_ajax/delete_atone 200"} {
			if !slices.Contains(got, want) {
				t.Errorf("no %q among %q", want, got)
			}
		}
		for _, r := range got {
			if !strings.HasSuffix(r, " 200") {
				t.Errorf("answered %s", r)
			}
		}
	})
}
