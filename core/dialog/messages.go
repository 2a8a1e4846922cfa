package dialog

// Messages the dialog shows, wherever it is opened. Welcart's own wording is used where Welcart
// has one (usces-ja.po, the atone module manual); the rest is kessai's.
const (
	// MsgNoSettlement is ErrNoSettlement's.
	MsgNoSettlement  = "この受注には決済代行会社の決済がありません。"
	MsgUnavailable   = "決済モジュールが利用できません。しばらくしてから再度お試しください。"
	MsgNoAnswer      = "決済代行会社から応答がありませんでした。取引の状態を確認中です。重複して処理しないよう、状態が確定するまでお待ちください。"
	MsgConflict      = "決済の状態が変わったため処理できません。状態を確認してください。"
	MsgDeclined      = "決済代行会社が処理を受け付けませんでした。"
	MsgNotReferenced = "まだ決済代行会社の取引がありません。"
	MsgRefMismatch   = "決済代行会社の取引状態（%s）とkessaiの記録（%s）が一致しません。取引を確認してください。"
	MsgNoChange      = "金額・明細・購入者情報に変更がないため、取引修正は行いませんでした。"
	// The atone manual's 取引修正（継続課金）.
	MsgChargeChange = "自動継続課金の課金処理実行後は、金額変更は出来ません。必要な場合は atone 管理画面よりご変更ください。次回以降の課金金額は受注編集で変更できます。"

	// Welcart's confirmations ('Are you sure you want to execute sales accounting
	// processing?' and its 取消 twin, usces-ja.po).
	confirmCapture = "売上計上処理を実行します。よろしいですか？"
	confirmCancel  = "取消処理を実行します。よろしいですか？"
	confirmChange  = "利用額を変更します。よろしいですか？" // kessai's
)
