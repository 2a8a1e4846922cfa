package admin_test

import (
	"fmt"
	"testing"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/errlog"
)

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
