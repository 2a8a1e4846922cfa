package admin

import (
	"fmt"

	"github.com/kessai/kessai/core/module"
)

// Messages the console shows, in one place. Welcart's own wording is used where Welcart has
// one (更新しました。, the module selection refusals come from package module).
const (
	msgUpdated         = module.MsgUpdated // 更新しました。
	msgSignInRequired  = "ログインしてください。"
	msgInternal        = "処理中にエラーが発生しました。時間をおいてもう一度お試しください。（request id %s）"
	msgSignedOut       = "ログアウトしました。"
	msgCrossOrigin     = "他のサイトからの操作は受け付けません。管理画面を開き直してからもう一度操作してください。"
	msgTooManyAttempts = "ログインの試行が多すぎます。しばらくしてからもう一度お試しください。"
	msgCSRF            = "セキュリティトークンが正しくありません。画面を再読み込みしてからもう一度操作してください。"
	msgSettingsFailed  = "入力内容に誤りがあります。各項目のメッセージを確認してください。"
	msgReenabled       = "モジュールを再有効化しました。"
	msgReenableFailed  = "モジュールを再有効化できませんでした。モジュールの状態とエラー内容を確認してください。"
	msgAdded           = "支払方法を追加しました。"
	msgDeleted         = "支払方法を削除しました。"
	msgSorted          = "並び順を更新しました。"

	// The manual's caution for 削除, asked before a payment method is deleted.
	msgDeleteCaution = "過去にこの支払方法で購入された受注が有る場合、削除してしまいますとその受注の支払方法が分からなくなってしまいます。この様な場合は削除せずに「停止」で更新します。\n\n削除してよろしいですか？"

	// 受注編集 and its 決済情報 dialog.
	msgNotNumber      = "%sは半角数字で入力してください。"
	msgModified       = "%sの取引を修正しました（取引修正）。新しい決済ID: %s"
	msgModifyUnknown  = "決済代行会社から取引修正の応答がありませんでした。取引の状態を確認中です。"
	msgModifyDeclined = "決済代行会社が取引修正を受け付けなかったため、受注は更新していません。"
	msgStaleDialog    = "決済情報が一致しません。画面を再読み込みしてください。"
	// The manual's notes, with the module's name where it says atone.
	msgNotLinked = "対応状況が「キャンセル」もしくは決済状況が「取消済み」の場合は、更新した内容は %s と連携されません。"
	msgNoModify  = "%s の決済モジュールは取引修正に対応していないため、更新した内容は連携されません。"
	msgSeparate  = "%s の「決済取消」と受注データの「キャンセル」は連動しません。それぞれ設定を行う必要があります。また、取り消した決済を元に戻すことはできませんので、ご注意ください。"

	// 決済エラーログ. The confirmation is Welcart's ('Are you sure you want to delete all log ?').
	msgDeleteAllLogs = "全てのログを削除します。よろしいですか ?"
	msgSelectLogs    = "削除するログを選択してください。"
	msgLogsDeleted   = "ログを%d件削除しました。"

	// Asked in the browser before a settings form switches an adapter to its production
	// environment (動作環境 本番環境): from then on orders are charged for real.
	msgConfirmProduction = "動作環境を「本番環境」に切り替えます。本番環境では実際の決済が行われます。よろしいですか？"
)

// msgBadCredentials answers every refused sign-in, a locked account's too, so that it says
// nothing about which logins exist; it says what a locked-out admin needs to know.
var msgBadCredentials = fmt.Sprintf("ユーザー名またはパスワードが正しくありません。ログインに%d回続けて失敗したアカウントは%d分間ロックされます。",
	MaxFailures, int(LockoutPeriod.Minutes()))

// stateLabels are the module states as the admin reads them.
var stateLabels = map[module.State]string{
	module.Registered: "未使用",
	module.Starting:   "起動中",
	module.Running:    "稼働中",
	module.Restarting: "再起動中",
	module.Failed:     "停止（エラー）",
	module.Stopped:    "停止",
}

// actionLabels name audit actions on the 監査ログ page; an action missing here shows its code.
var actionLabels = map[string]string{
	"continuation.update":   "継続課金会員情報の更新",
	"continuation.retry":    "再決済（継続課金）",
	"continuation.capture":  "売上計上（継続課金）",
	"continuation.cancel":   "取消（継続課金）",
	"continuation.settings": "継続課金設定の更新",
	"admin.signin":          "ログイン",
	"admin.signin.failed":   "ログイン失敗",
	"admin.locked":          "アカウントロック",
	"admin.signout":         "ログアウト",
	"admin.user.create":     "管理者の作成",
	"admin.user.passwd":     "パスワードの変更",
	"admin.token.create":    "管理者APIトークンの発行",
	"admin.token.revoke":    "管理者APIトークンの失効",
	"module.selection":      "クレジット決済モジュール選択の更新",
	"module.settings":       "決済モジュール設定の更新",
	"module.reenable":       "決済モジュールの再有効化",
	"module.register":       "決済モジュールの登録",
	"paymethod.add":         "支払方法の追加",
	"paymethod.update":      "支払方法の更新",
	"paymethod.delete":      "支払方法の削除",
	"paymethod.sort":        "支払方法の並べ替え",
	"order.edit":            "受注編集（設定を更新）",
	"settlement.reference":  "取引参照",
	"settlement.capture":    "売上計上",
	"settlement.cancel":     "取消",
	"errlog.export":         "決済エラーログのログ出力",
	"errlog.delete":         "決済エラーログのログ削除",
}

// 決済エラーログ in the manual's words. The stored ステータス ("ATONE AUTHORIZE NG") and detail
// keys ("provider_id") stay as core/settlement, core/continuation and the webhook receiver wrote
// them, for ログ出力 and support; the console translates them when it shows them.

// resultLabels name a stored result by what follows the module's name. Results of the form
// "<OPERATION> <OUTCOME>" ("CAPTURE DECLINED") not listed here are named from the operation's
// label and outcomeLabels.
var resultLabels = map[string]string{
	"AUTHORIZE NG":           "与信NG",
	"CONFIRM DECLINED":       "与信確認NG",
	"CONTINUATION NG":        "継続課金NG",
	"CONTINUATION DUPLICATE": "継続課金の重複",
	"UNRESOLVED":             "取引状態不明",
	"STRAY TRANSACTION":      "注文と一致しない取引",
	"FOREIGN TRANSACTION":    "他の注文の取引",
	"WEBHOOK UNKNOWN":        "未登録の取引の通知",
}

// resultOutcomes are the outcome words of a result ("DECLINED" in "CAPTURE DECLINED").
var resultOutcomes = map[string]string{
	"DECLINED":      "NG",
	"NOT_ATTEMPTED": "未送信",
	"UNDEFINED":     "応答なし",
	"PENDING":       "保留",
	"PROCESSED":     "完了",
}

// outcomeLabels are a provider call's outcomes (plugins.Outcome) as 結果.
var outcomeLabels = map[string]string{
	"processed":     "処理済み",
	"pending":       "保留（決済代行会社の判断待ち）",
	"declined":      "NG（決済代行会社が受け付けませんでした）",
	"not_attempted": "未送信（決済代行会社に送られていません）",
	"undefined":     "応答なし（処理結果は不明です）",
}

// stateLabels are a provider transaction's states (plugins.State) as 状態.
var providerStateLabels = map[string]string{
	"authorized": "仮売上",
	"captured":   "売上計上",
	"cancelled":  "取消済み",
	"declined":   "与信NG",
	"unknown":    "不明",
}

// ngReasons are the providers' numbered reasons for a refused authorization.
var ngReasons = map[string]map[string]string{
	"atone": {"1": "金額超過", "9": "その他"},
}

// detailLabels are the 詳細 rows' labels, in the order the rows are shown; keys not listed
// follow in their own order under their own names.
var detailLabels = []struct{ key, label string }{
	{"operation", "処理区分"},
	{"outcome", "結果"},
	{"status", "決済状況"},
	{"state", "状態"},
	{"reason", "理由"},
	{"code", "エラーコード"},
	{"message", "メッセージ"},
	{"field", "項目"},
	{"amount", "金額"},
	{"notified_amount", "通知された金額"},
	{"provider_id", "決済ID"},
	{"attempt", "取引番号"},
	{"shop_transaction_no", "加盟店取引番号"},
	{"settlement_id", "決済管理番号"},
	{"order_id", "受注ID"},
	{"continuation_id", "継続課金契約ID"},
	{"period", "課金期間"},
	{"last_error", "最後のエラー"},
}
