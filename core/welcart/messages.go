package welcart

// Messages shown to people through the Welcart admin screens. Welcart's own wording is used
// where Welcart has one (usces-ja.po, the atone module manual); the rest is kessai's.
const (
	msgUnknownAction      = "不明な処理です（action）。"
	msgUnknownMode        = "不明な処理です（mode）。"
	msgUnknownOrderAction = "不明な処理です（order_action）。"
	msgTransID            = "決済情報が一致しません。受注の決済IDを確認してください。"
	msgModeModule         = "この受注の決済モジュールでは実行できない処理です。"
	msgInternal           = "処理中にエラーが発生しました。（request id %s）"
	msgAmount             = "利用金額は1円以上の整数で指定してください。"
	msgAmountMismatch     = "利用金額（%d円）が受注の総合計金額（%d円）と一致しません。"
	msgAmountUp           = "値引きの調整では利用金額を増やせません。受注明細（cart / order）を指定してください。"
	msgChangeNothing      = "変更内容（amount、または cart / order / customer / delivery）を指定してください。"
	msgBadJSON            = "%s のJSONが正しくありません: %s"
	msgBadID              = "IDが正しくありません。"
	msgAdminRequired      = "支払方法の変更には管理者の認証が必要です。ショップのAPIキーではなく、管理者APIトークン（kessaid admin token create）で送信してください。"
)
