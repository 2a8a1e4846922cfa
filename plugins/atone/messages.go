package atone

import (
	"fmt"

	"github.com/kessai/kessai/plugins"
)

// Codes this adapter puts in Result.Code when atone gave none of its own. atone's codes
// (EATNxxxx) are passed through unchanged; these never collide with them.
const (
	// CodeMismatch: the transaction atone holds does not match the order (Confirm). It is the
	// contract's code, so the host can tell a stray transaction from atone's own refusals.
	CodeMismatch = plugins.CodeMismatch
	// CodeNG: atone answered authorization_result 2 (与信NG); Result.Reason says why.
	CodeNG = "KESSAI_NG"
	// CodeConnect: no connection to atone could be made (DNS, refused, TLS): nothing was sent.
	CodeConnect = "KESSAI_CONNECT"
	// CodeTimeout: the call was sent and no answer came in time.
	CodeTimeout = "KESSAI_TIMEOUT"
	// CodeNetwork: the connection broke after the call was sent.
	CodeNetwork = "KESSAI_NETWORK"
	// CodeBadResponse: atone answered something this adapter cannot read.
	CodeBadResponse = "KESSAI_BAD_RESPONSE"
)

// msg names one of the adapter's own texts.
type msg int

const (
	msgNG msg = iota
	msgNGReasonExceeded
	msgNGReasonOther
	msgNGReasonUnknown
	msgMismatchAttempt
	msgMismatchAmount
	msgMismatchResult
	msgConnect
	msgTimeout
	msgNetwork
	msgBadResponse
	msgHTTPStatus
	msgRequired
	msgChoice
	msgURL
	msgURLPlain
)

// messages are the Japanese texts this adapter shows to people: shop staff in the admin
// console and, through the shop, buyers. atone's own messages are not here; they come from
// atone's answers and from wire.Table. Placeholders are filled with fmt.
var messages = map[msg]string{
	msgNG:               "atone の与信審査の結果、ご利用いただけませんでした（%s）。",
	msgNGReasonExceeded: "金額超過",
	msgNGReasonOther:    "その他",
	msgNGReasonUnknown:  "理由不明: %s",

	msgMismatchAttempt: "atone の取引 %s の加盟店取引番号（%s）がこの注文の決済番号（%s）と一致しません。",
	msgMismatchAmount:  "atone の取引 %s の金額（%s円）がこの注文の金額（%s円）と一致しません。",
	msgMismatchResult:  "atone の取引 %s の与信結果（%d）が画面から届いた結果（%d）と一致しません。",

	msgConnect:     "atone に接続できませんでした。決済処理は行われていません。時間を置いて再度お試しください。",
	msgTimeout:     "atone から時間内に応答がありませんでした。処理結果は不明のため、取引参照で確認します。",
	msgNetwork:     "atone との通信が途中で切断されました。処理結果は不明のため、取引参照で確認します。",
	msgBadResponse: "atone の応答を読み取れませんでした（HTTP %d）。処理結果は不明のため、取引参照で確認します。",
	msgHTTPStatus:  "atone がエラーを返しました（HTTP %d）。",

	msgRequired: "%sを入力してください。",
	msgChoice:   "%sは「%s」から選んでください。",
	msgURL:      "%sは http:// または https:// で始まる URL を入力してください。",
	msgURLPlain: "本番環境では%sに https:// の URL を指定してください。",
}

// text renders message m with args.
func text(m msg, args ...any) string {
	if len(args) == 0 {
		return messages[m]
	}
	return fmt.Sprintf(messages[m], args...)
}

// ngReasonLabel is atone's label for authorization_result_ng_reason (1 金額超過, 9 その他).
func ngReasonLabel(reason int) string {
	switch reason {
	case 1:
		return text(msgNGReasonExceeded)
	case 9:
		return text(msgNGReasonOther)
	}
	return text(msgNGReasonUnknown, fmt.Sprint(reason))
}

// yen renders an amount with thousands separators, as shop staff read amounts.
func yen(n int64) string {
	s := fmt.Sprint(n)
	neg := false
	if n < 0 {
		neg, s = true, s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}
