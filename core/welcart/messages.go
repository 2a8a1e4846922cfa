package welcart

// Messages shown to people through the Welcart admin screens. Welcart's own wording is used
// where Welcart has one (usces-ja.po, the atone module manual); the rest is kessai's.
const (
	msgUnknownAction      = "不明な処理です（action）。"
	msgUnknownMode        = "不明な処理です（mode）。"
	msgUnknownOrderAction = "不明な処理です（order_action）。"
	msgNoOrder            = "受注が見つかりません。"
	msgNoSettlement       = "この受注には決済代行会社の決済がありません。"
	msgTransID            = "決済情報が一致しません。受注の決済IDを確認してください。"
	msgModeModule         = "この受注の決済モジュールでは実行できない処理です。"
	msgUnavailable        = "決済モジュールが利用できません。しばらくしてから再度お試しください。"
	msgNoAnswer           = "決済代行会社から応答がありませんでした。取引の状態を確認中です。重複して処理しないよう、状態が確定するまでお待ちください。"
	msgConflict           = "決済の状態が変わったため処理できません。状態を確認してください。"
	msgDeclined           = "決済代行会社が処理を受け付けませんでした。"
	msgNotReferenced      = "まだ決済代行会社の取引がありません。"
	msgRefMismatch        = "決済代行会社の取引状態（%s）とkessaiの記録（%s）が一致しません。取引を確認してください。"
	msgInternal           = "処理中にエラーが発生しました。（request id %s）"
	msgAmount             = "利用金額は1円以上の整数で指定してください。"
	msgAmountMismatch     = "利用金額（%d円）が受注の総合計金額（%d円）と一致しません。"
	msgAmountUp           = "値引きの調整では利用金額を増やせません。受注明細（cart / order）を指定してください。"
	msgChangeNothing      = "変更内容（amount、または cart / order / customer / delivery）を指定してください。"
	msgNoChange           = "金額・明細・購入者情報に変更がないため、取引修正は行いませんでした。"
	// The atone manual's 取引修正（継続課金）.
	msgChargeChange   = "自動継続課金の課金処理実行後は、金額変更は出来ません。必要な場合は atone 管理画面よりご変更ください。次回以降の課金金額は受注編集で変更できます。"
	msgBadJSON        = "%s のJSONが正しくありません: %s"
	msgBadID          = "IDが正しくありません。"
	msgMethodNotFound = "支払方法が見つかりません。"
	msgLogNotFound    = "ログが見つかりません。"
	msgAdminRequired  = "支払方法の変更には管理者の認証が必要です。ショップのAPIキーではなく、管理者APIトークン（kessaid admin token create）で送信してください。"

	// Welcart's confirmations ('Are you sure you want to execute sales accounting
	// processing?' and its 取消 twin, usces-ja.po).
	confirmCapture = "売上計上処理を実行します。よろしいですか？"
	confirmCancel  = "取消処理を実行します。よろしいですか？"
	confirmChange  = "利用額を変更します。よろしいですか？" // kessai's
)
