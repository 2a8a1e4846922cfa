package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// TestConsoleInTheManualsWords walks what an admin reads after atone refuses: the 受注編集
// notice, the 決済エラーログ and its 詳細, and the 支払方法 hint, all in Japanese, with atone's
// message and code rather than kessai's internal ones.
func TestConsoleInTheManualsWords(t *testing.T) {
	h := startShop(t)
	ctx := admintest.Browser(t)
	base := h.URL
	id, _ := purchase(t, h, "8001", 1500, sandbox.OKMemberPhone)
	admintest.SignIn(t, ctx, base, "hanako", "hanako-password")

	t.Run("a refused 取引修正 says atone's reason, without KESSAI_NG", func(t *testing.T) {
		open(t, ctx, fmt.Sprintf("%s/admin/orders/%d", base, id), "#order-edit")
		// 40 × 1,500円 + 500円 = 60,500円, over the member's 50,000円: atone answers NG.
		run(t, ctx, "forty of them", chromedp.SetValue(chromedp.CSS(`input[name="line_qty"]`), "40"))
		submit(t, ctx, "設定を更新", "#update-order")
		notice := text(t, ctx, ".notice-error:not(.settlement-notice)")
		for _, want := range []string{"決済代行会社が取引修正を受け付けなかったため、受注は更新していません。", "金額超過"} {
			if !strings.Contains(notice, want) {
				t.Fatalf("notice %q lacks %q", notice, want)
			}
		}
		if strings.Contains(notice, "KESSAI_") {
			t.Fatalf("notice shows an internal code: %q", notice)
		}
		admintest.Screenshot(t, ctx, "words-01-modify-refused")
	})

	var modifyLog errlog.Entry
	t.Run("the error log keeps the amount that was tried", func(t *testing.T) {
		rows, _, err := errlog.List(context.Background(), h.D.Store.DB, 10, 0)
		if err != nil || len(rows) != 1 {
			t.Fatalf("error log %v %v", rows, err)
		}
		modifyLog = rows[0]
		if modifyLog.Result != "ATONE MODIFY DECLINED" {
			t.Fatalf("stored result %q", modifyLog.Result)
		}
		if got := fmt.Sprint(modifyLog.Fields()["amount"]); got != "60500" {
			t.Fatalf("the log says %s円 was tried, not 60500円: %s", got, modifyLog.Data)
		}
		s := settlementOfOrder(t, h, id)
		hs, err := settlement.Histories(context.Background(), h.D.Store.DB, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := hs[len(hs)-1]
		if last.Operation != settlement.OpModify || last.Outcome != "declined" || last.Amount != 60500 || s.Amount != 2000 {
			t.Fatalf("history row %+v of a settlement still at %d円", last, s.Amount)
		}
	})

	t.Run("決済エラーログ: ステータス in Japanese with the reason", func(t *testing.T) {
		purchase(t, h, "8002", 59500, sandbox.OKMemberPhone) // 60,000円: 与信NG
		open(t, ctx, base+"/admin/errorlog", ".errlog-list")
		body := text(t, ctx, ".errlog-list tbody")
		for _, want := range []string{"取引修正NG（金額超過）", "与信NG（金額超過）"} {
			if !strings.Contains(body, want) {
				t.Fatalf("list lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "ATONE") || strings.Contains(body, "DECLINED") {
			t.Fatalf("a stored result shows:\n%s", body)
		}
		admintest.Screenshot(t, ctx, "words-02-errorlog")
	})

	t.Run("詳細: Japanese labels and values, the amount tried", func(t *testing.T) {
		open(t, ctx, fmt.Sprintf("%s/admin/errorlog/%d", base, modifyLog.ID), ".errlog-detail")
		detail := text(t, ctx, ".errlog-detail")
		for _, want := range []string{"処理結果", "取引修正NG（金額超過）", "処理区分", "取引修正", "結果", "NG（決済代行会社が受け付けませんでした）",
			"理由", "1（金額超過）", "金額", "60,500円", "決済ID", "取引番号", "エラーコード", "KESSAI_NG", "メッセージ"} {
			if !strings.Contains(detail, want) {
				t.Fatalf("詳細 lacks %q:\n%s", want, detail)
			}
		}
		for _, english := range []string{"amount", "attempt", "outcome", "provider_id", "declined", "settlement_id", "order_id"} {
			if strings.Contains(detail, english) {
				t.Fatalf("詳細 shows %q:\n%s", english, detail)
			}
		}
		admintest.Screenshot(t, ctx, "words-03-errorlog-detail")
	})

	t.Run("支払方法: the hint says what kessai does with 決済モジュール", func(t *testing.T) {
		open(t, ctx, base+"/admin/paymethods", ".paymethods")
		page := text(t, ctx, "main")
		if strings.Contains(page, "必ず空白にしておいてください") {
			t.Fatal("the hint asks for a blank 決済モジュール, which kessai fills in")
		}
		wantText(t, ctx, "main", "決済モジュールは空白のままで構いません。保存すると、選んだ決済種別のモジュール（atone など）が入ります。")
		module, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(".pm-row .pm-module input")))
		if err != nil {
			t.Fatal(err)
		}
		if module != "atone" {
			t.Fatalf("the atone method's 決済モジュール is %q", module)
		}
		admintest.Screenshot(t, ctx, "words-04-paymethods")
	})
}

func TestErrorLogStatusText(t *testing.T) {
	for _, tc := range []struct {
		acting, result, data, want string
	}{
		{"atone", "ATONE AUTHORIZE NG", `{"code":"KESSAI_NG","reason":"1","message":"atone の与信審査の結果、ご利用いただけませんでした（金額超過）。"}`, "与信NG（金額超過）"},
		{"atone", "ATONE CONTINUATION NG", `{"code":"KESSAI_NG","reason":"9"}`, "継続課金NG（その他）"},
		{"atone", "ATONE CAPTURE DECLINED", `{"code":"EATN1201","message":"売上確定済みです。"}`, "売上計上NG（売上確定済みです。）EATN1201"},
		{"atone", "ATONE CONFIRM DECLINED", `{"code":"EATN0115","message":"お客様の氏名が不正です"}`, "与信確認NG（お客様の氏名が不正です）EATN0115"},
		{"atone", "ATONE MODIFY DECLINED", `{"code":"KESSAI_NG","reason":"1"}`, "取引修正NG（金額超過）"},
		{"atone", "ATONE CANCEL UNDEFINED", `{"code":"KESSAI_TIMEOUT","message":"atone から時間内に応答がありませんでした。"}`, "取消応答なし（atone から時間内に応答がありませんでした。）"},
		{"atone", "ATONE UNRESOLVED", `{"message":"取引の状態を確認できません。"}`, "取引状態不明（取引の状態を確認できません。）"},
		{"atone", "ATONE STRAY TRANSACTION", `{"message":"注文と一致しない取引 tr_1 を取消しました。"}`, "注文と一致しない取引（注文と一致しない取引 tr_1 を取消しました。）"},
		{"atone", "ATONE FOREIGN TRANSACTION", `{}`, "他の注文の取引"},
		{"atone", "ATONE WEBHOOK UNKNOWN", `{}`, "未登録の取引の通知"},
		{"atone", "ATONE CONTINUATION DUPLICATE", `{}`, "継続課金の重複"},
		{"testmodule", "TESTMODULE CAPTURE DECLINED", `{"code":"T42"}`, "売上計上NGT42"},
		{"atone", "ATONE SOMETHING NEW", `{}`, "ATONE SOMETHING NEW"},
	} {
		e := errlog.Entry{Acting: tc.acting, Result: tc.result, Data: tc.data}
		if got := admin.StatusText(e); got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.result, tc.data, got, tc.want)
		}
	}
}

// TestErrorLogDetailsInWords: no English key or value reaches a 詳細 row, the provider's
// state included (「状態: unknown」 reads 状態 不明).
func TestErrorLogDetailsInWords(t *testing.T) {
	e := errlog.Entry{Acting: "atone", Result: "ATONE WEBHOOK UNKNOWN",
		Data: `{"provider_id":"tr_1","shop_transaction_no":"ks1-1","state":"unknown","amount":1000000,"notified_amount":1200,"message":"…","outcome":"undefined"}`}
	got := map[string]string{}
	var order []string
	for _, f := range admin.DetailFields(e) {
		got[f.Key] = f.Value
		order = append(order, f.Key)
	}
	want := map[string]string{"決済ID": "tr_1", "加盟店取引番号": "ks1-1", "状態": "不明", "金額": "1,000,000円",
		"通知された金額": "1,200円", "メッセージ": "…", "結果": "応答なし（処理結果は不明です）"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("details %v, want %v", got, want)
	}
	if order[0] != "結果" || order[1] != "状態" {
		t.Fatalf("rows in order %v", order)
	}
}
