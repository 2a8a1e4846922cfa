package wire

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrorDetail is one entry of an error body's errors array.
type ErrorDetail struct {
	Code     string   `json:"code"`
	Messages []string `json:"messages"`
	Params   []string `json:"params"`
}

// ErrorBody is atone's error answer: {name, message, errors:[{code, messages, params}]}.
// It is also the argument list of the widget's error(name, message, errors) callback.
//
// name is the Type column of atone's error tables and message repeats the first error's
// message [I: the top-level wording is not published].
type ErrorBody struct {
	Name    string        `json:"name"`
	Message string        `json:"message"`
	Errors  []ErrorDetail `json:"errors"`
}

// Error lets an adapter return the body as an error; callers branch with HasCode, never on
// the text.
func (e *ErrorBody) Error() string {
	codes := make([]string, 0, len(e.Errors))
	for _, d := range e.Errors {
		codes = append(codes, d.Code)
	}
	return fmt.Sprintf("atone %s: %s [%s]", e.Name, e.Message, strings.Join(codes, ","))
}

// HasCode reports whether any error of the body carries code.
func (e *ErrorBody) HasCode(code string) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// Status is the HTTP status atone answers this body with, taken from the first code.
func (e *ErrorBody) Status() int {
	if len(e.Errors) == 0 {
		return http.StatusBadRequest
	}
	return Lookup(e.Errors[0].Code).Status
}

// Error types: the Type column of atone's tables, sent as the error body's name.
const (
	TypeInvalidRequest      = "InvalidRequest"
	TypeUnauthorized        = "Unauthorized"
	TypeForbidden           = "Forbidden"
	TypeNotFound            = "NotFound"
	TypeServiceUnavailable  = "ServiceUnavailable"
	TypeInternalServerError = "InternalServerError"
)

// Codes that callers branch on. The rest are only in the table.
const (
	CodeTokenFormat         = "EATN0102" // 決済認証トークンの形式が不正です。
	CodeTokenInvalid        = "EATN0103" // 不正な決済認証トークンです。
	CodeTokenRevoked        = "EATN0104" // 決済認証トークンが無効化されています。
	CodeBadRequest          = "EATN0126" // wrong URL path
	CodeUnauthorized        = "EATN0129" // bad secret key
	CodeNoContract          = "EATN0130"
	CodeNotFound            = "EATN0133" // no such transaction for this shop
	CodeDuplicateShopNo     = "EATN1101" // shop_transaction_no already used by an OK transaction
	CodeAmountMismatch      = "EATN1102" // amount is not the item total
	CodeNotTestMember       = "EATN1104"
	CodeUpdateTarget        = "EATN1105" // [I] invented
	CodeRelatedTarget       = "EATN1106" // [I] invented
	CodeAlreadySettled      = "EATN1201" // [I] meaning inferred
	CodeSettleNotAllowed    = "EATN1202" // [I] invented
	CodeAuthorizationLapsed = "EATN1203" // [I] invented
	CodeRefundNotAllowed    = "EATN1301" // [I] invented
	CodeRefundAmount        = "EATN1302" // [I] invented
	CodeWidgetNoToken       = "EATN0301"
	CodeWidgetTokenFormat   = "EATN0302"
	CodeWidgetTokenInvalid  = "EATN0303"
	CodeWidgetPublicKey     = "EATN0304"
	CodeWidgetAuthFailed    = "EATN0306"
	CodeWidgetChecksum      = "EATN0351"
	CodeWidgetContentType   = "EATN0352"
	CodeWidgetJSON          = "EATN0397"
	CodeWidgetBadRequest    = "EATN0398"
	CodeWidgetUnavailable   = "EATN0399"
	CodeMaintenance         = "EATN9901"
	CodeSystemError         = "EATN9999"
)

// ErrorCode is one row of atone's error tables.
type ErrorCode struct {
	Code    string
	Status  int
	Type    string
	Message string
	// Param is the params entry atone sends; "" means params is null.
	Param string
	// Source tells how sure the row is: "C-doc" rows are atone's published tables,
	// "I" rows are inferred or invented for behaviour atone does not document.
	Source string
}

// Detail is the row as one error of an error body. params overrides the table's param, for
// rules that reuse a code for another field [I].
func (c ErrorCode) Detail(params ...string) ErrorDetail {
	d := ErrorDetail{Code: c.Code, Messages: []string{c.Message}}
	switch {
	case len(params) > 0:
		d.Params = params
	case c.Param != "":
		d.Params = []string{c.Param}
	}
	return d
}

// Table is every error code atone is known to send, with the exact Japanese message.
//
// The server rows come from atone's official 2017 table, whose copy shows Kangxi-radical
// characters (⾦, ⾓, ⽂, ⽒, ⼀, ⽇, ⼥, ⽤, ⼊) where 金, 角, 文, 氏, 一, 日, 女, 用, 入 belong; those are
// copy artifacts of the document, so the messages use the ordinary characters. Truncated
// server messages are completed from the widget table, which words them the same.
var Table = []ErrorCode{
	// Server API, transaction registration.
	{"EATN0102", 400, TypeInvalidRequest, "決済認証トークンの形式が不正です。", "authentication_token", "C-doc"},
	{"EATN0103", 400, TypeInvalidRequest, "不正な決済認証トークンです。", "authentication_token", "C-doc"},
	{"EATN0104", 400, TypeInvalidRequest, "決済認証トークンが無効化されています。", "authentication_token", "C-doc"},
	{"EATN0105", 400, TypeInvalidRequest, "課金額は7桁以内の半角数値で設定して下さい。", "amount", "C-doc"},
	{"EATN0106", 400, TypeInvalidRequest, "加盟店取引番号は100文字以内の半角英数字記号で設定して下さい。", "shop_transaction_no", "C-doc"},
	{"EATN0108", 400, TypeInvalidRequest, "売上確定はtrueまたはfalseのいずれかを設定して下さい。", "sales_settled", "C-doc"},
	{"EATN0109", 400, TypeInvalidRequest, "加盟店取引備考は255文字以内で設定して下さい。", "description_trans", "C-doc"},
	{"EATN0110", 400, TypeInvalidRequest, "加盟店商品IDは100文字以内の半角英数字記号で設定して下さい。", "shop_item_id", "C-doc"},
	{"EATN0111", 400, TypeInvalidRequest, "商品明細に値が設定されていません。", "items", "C-doc"},
	{"EATN0112", 400, TypeInvalidRequest, "商品明細数は9999以下で設定して下さい。", "items", "C-doc"},
	{"EATN0113", 400, TypeInvalidRequest, "商品名は100文字以内で設定して下さい。", "item_name", "C-doc"},
	{"EATN0114", 400, TypeInvalidRequest, "商品単価は6桁以内の半角数値で設定して下さい。", "item_price", "C-doc"},
	{"EATN0115", 400, TypeInvalidRequest, "個数は5桁以内の半角数値で設定して下さい。", "item_count", "C-doc"},
	{"EATN0135", 400, TypeInvalidRequest, "氏名は100文字以内の全角で設定してください。", "customer_name", "C-doc"},
	{"EATN0136", 400, TypeInvalidRequest, "ひらがな氏名は128文字以内の全角で設定してください。", "customer_name_kana", "C-doc"},
	{"EATN0137", 400, TypeInvalidRequest, "会社名は100文字以内の全角で設定してください。", "company_name", "C-doc"},
	// The official table has no final "。" on this one row.
	{"EATN0138", 400, TypeInvalidRequest, "部署名は30文字以内の全角で設定してください", "department", "C-doc"},
	{"EATN0139", 400, TypeInvalidRequest, `郵便番号は半角数字7桁または半角数字3桁+"-"+半角数字4桁で設定してください。`, "zip_code", "C-doc"},
	{"EATN0140", 400, TypeInvalidRequest, "住所は255文字以内で設定してください。", "address", "C-doc"},
	{"EATN0141", 400, TypeInvalidRequest, `電話番号は0から始まる半角数字10,11桁または半角数字2,3桁+"-"+半角数字4桁+"-"+半角数字4桁で設定してください。`, "tel", "C-doc"},
	{"EATN0142", 400, TypeInvalidRequest, "メールアドレスは255文字以内の正しい形式で設定してください。", "email", "C-doc"},
	// atone's table labels the item_url check with the address message; kept as atone sends it.
	{"EATN0143", 400, TypeInvalidRequest, "住所は255文字以内で設定してください。", "item_url", "C-doc"},
	// The table leaves the param empty; dest_customers is the only field it can be [I].
	{"EATN0144", 400, TypeInvalidRequest, "サービス提供先数は9以下で設定して下さい。", "dest_customers", "C-doc"},
	{"EATN0145", 400, TypeInvalidRequest, "姓は50文字以内の全角で設定してください。", "customer_family_name", "C-doc"},
	{"EATN0146", 400, TypeInvalidRequest, "名は50文字以内の全角で設定してください。", "customer_given_name", "C-doc"},
	{"EATN0147", 400, TypeInvalidRequest, "ひらがな姓は64文字以内の全角で設定してください。", "customer_family_name_kana", "C-doc"},
	{"EATN0148", 400, TypeInvalidRequest, "ひらがな名は64文字以内の全角で設定してください。", "customer_given_name_kana", "C-doc"},
	{"EATN0149", 400, TypeInvalidRequest, `携帯電話番号は070,080,090始まりの半角数字10,11桁または半角数字2,3桁+"-"+半角数字4桁+"-"+半角数字4桁で設定してください。`, "phone_number", "C-doc"},
	{"EATN0150", 400, TypeInvalidRequest, "生年月日はYYYY-MM-DD形式の日付を設定してください。", "birthday", "C-doc"},
	{"EATN0151", 400, TypeInvalidRequest, "性別は男性:1, 女性:2で設定してください。", "sex_division", "C-doc"},
	{"EATN1101", 400, TypeInvalidRequest, "同じ加盟店取引番号が既に登録されています。", "shop_transaction_no", "C-doc"},
	{"EATN1102", 400, TypeInvalidRequest, "課金額と商品明細金額の合計が一致していません。", "", "C-doc"},
	{"EATN1104", 400, TypeInvalidRequest, "加盟店検証用以外の会員情報が指定されています。", "", "C-doc"},

	// Not in atone's tables: what the sandbox answers where atone's behaviour is unknown.
	{"EATN1105", 400, TypeInvalidRequest, "更新対象の取引が存在しないか、更新できない状態です。", "updated_transactions", "I"},
	{"EATN1106", 400, TypeInvalidRequest, "関連取引が存在しないか、利用できない状態です。", "related_transaction", "I"},
	// CSCART tolerates EATN1201 on settle; "already settled" is the likely meaning.
	{"EATN1201", 400, TypeInvalidRequest, "既に売上確定済みの取引です。", "", "I"},
	{"EATN1202", 400, TypeInvalidRequest, "キャンセル済みまたは与信NGの取引は売上確定できません。", "", "I"},
	{"EATN1203", 400, TypeInvalidRequest, "仮売上の有効期限(90日)を過ぎているため売上確定できません。", "", "I"},
	{"EATN1301", 400, TypeInvalidRequest, "キャンセル済みまたは与信NGの取引は払戻できません。", "", "I"},
	{"EATN1302", 400, TypeInvalidRequest, "払戻金額は1以上かつ払戻可能な金額以内の半角数値で設定して下さい。", "amount_refund", "I"},

	// Authentication, authorisation, routing.
	{"EATN0126", 404, TypeNotFound, "不正なリクエストです。", "", "C-doc"},
	{"EATN0129", 401, TypeUnauthorized, "認証に失敗しました。", "", "C-doc"},
	{"EATN0130", 403, TypeForbidden, "有効なサービス利用契約が無いため処理できません。", "", "C-doc"},
	{"EATN0133", 404, TypeNotFound, "該当の取引が存在しません。", "", "C-doc"},

	// Widget (modal); all 400 InvalidRequest in atone's table.
	{"EATN0301", 400, TypeInvalidRequest, "決済認証トークンが指定されていません。", "NP_Token", "C-doc"},
	{"EATN0302", 400, TypeInvalidRequest, "決済認証トークンの形式が不正です。", "", "C-doc"},
	{"EATN0303", 400, TypeInvalidRequest, "決済認証トークンは有効ではありません。", "", "C-doc"},
	{"EATN0304", 400, TypeInvalidRequest, "店舗公開可能鍵のデータが存在しません。", "shop_public_key", "C-doc"},
	{"EATN0305", 400, TypeInvalidRequest, "携帯番号のデータが存在しません。", "", "C-doc"},
	{"EATN0306", 400, TypeInvalidRequest, "認証に失敗しました。", "", "C-doc"},
	{"EATN0307", 400, TypeInvalidRequest, "追跡トークンの形式が不正です。", "track_token", "C-doc"},
	{"EATN0308", 400, TypeInvalidRequest, "会員追跡のデータが存在しません。", "", "C-doc"},
	{"EATN0309", 400, TypeInvalidRequest, "SMSを規定回数以上送信しています。明日以降に再度お試しください。", "", "C-doc"},
	{"EATN0310", 400, TypeInvalidRequest, "SMS認証のデータが存在しません。", "sms_token", "C-doc"},
	{"EATN0311", 400, TypeInvalidRequest, "SMS認証に5回以上失敗しました。明日以降に再度お試しください。", "", "C-doc"},
	{"EATN0312", 400, TypeInvalidRequest, "利用ポイント数がポイント残高を超過しています。", "", "C-doc"},
	{"EATN0313", 400, TypeInvalidRequest, "SMSの再送信ができません。", "", "C-doc"},
	{"EATN0331", 400, TypeInvalidRequest, "課金額は1以上の7桁以内の半角数値で設定して下さい。", "amount", "C-doc"},
	{"EATN0332", 400, TypeInvalidRequest, "加盟店取引IDは100文字以内の半角英数字記号で設定して下さい。", "shop_transaction_no", "C-doc"},
	{"EATN0333", 400, TypeInvalidRequest, "売上確定はtrueまたはfalseのいずれかを設定して下さい。", "sales_settled", "C-doc"},
	{"EATN0334", 400, TypeInvalidRequest, "加盟店取引備考は改行以外の制御文字を除く255文字以内で設定して下さい。", "description_trans", "C-doc"},
	{"EATN0335", 400, TypeInvalidRequest, "加盟店商品IDは100文字以内の半角英数字記号で設定して下さい。", "shop_item_id", "C-doc"},
	{"EATN0336", 400, TypeInvalidRequest, "商品明細に値が設定されていません。", "items", "C-doc"},
	{"EATN0337", 400, TypeInvalidRequest, "商品明細数は9999以下で設定して下さい。", "items", "C-doc"},
	{"EATN0338", 400, TypeInvalidRequest, "商品名は100文字以内で設定して下さい。", "item_name", "C-doc"},
	{"EATN0339", 400, TypeInvalidRequest, "商品単価は6桁以内の半角数値で設定して下さい。", "item_price", "C-doc"},
	{"EATN0340", 400, TypeInvalidRequest, "個数は5桁以内の半角数値で設定して下さい。", "item_count", "C-doc"},
	{"EATN0341", 400, TypeInvalidRequest, "商品URLは1000文字以内で設定して下さい。", "item_url", "C-doc"},
	{"EATN0342", 400, TypeInvalidRequest, "氏名は100文字以内の全角で設定してください。", "customer_name", "C-doc"},
	{"EATN0343", 400, TypeInvalidRequest, "ひらがな氏名は128文字以内の全角で設定してください。", "customer_name_kana", "C-doc"},
	{"EATN0344", 400, TypeInvalidRequest, "会社名は100文字以内で設定してください。", "company_name", "C-doc"},
	{"EATN0345", 400, TypeInvalidRequest, "部署名は30文字以内で設定してください。", "department", "C-doc"},
	{"EATN0346", 400, TypeInvalidRequest, `郵便番号は半角数字7桁または半角数字3桁+"-"+半角数字4桁で設定してください。`, "zip_code", "C-doc"},
	{"EATN0347", 400, TypeInvalidRequest, "住所は255文字以内で設定してください。", "address", "C-doc"},
	{"EATN0348", 400, TypeInvalidRequest, `電話番号は0から始まる半角数字10,11桁または半角数字2,3桁+"-"+半角数字4桁+"-"+半角数字4桁で設定してください。`, "tel", "C-doc"},
	{"EATN0349", 400, TypeInvalidRequest, "メールアドレスは255文字以内の正しい形式で設定してください。", "email", "C-doc"},
	{"EATN0350", 400, TypeInvalidRequest, "利用ポイント数は7桁以内の半角数値で設定してください。", "subtract_point", "C-doc"},
	{"EATN0351", 400, TypeInvalidRequest, "不正なチェックサムです。", "checksum", "C-doc"},
	{"EATN0352", 400, TypeInvalidRequest, "HTTPリクエストのContent-Typeにはapplication/jsonを指定して下さい。", "", "C-doc"},
	{"EATN0353", 400, TypeInvalidRequest, "サービス提供先数は9以下で設定して下さい。", "dest_customers", "C-doc"},
	{"EATN0354", 400, TypeInvalidRequest, "姓は50文字以内の全角で設定してください。", "customer_family_name", "C-doc"},
	{"EATN0355", 400, TypeInvalidRequest, "名は50文字以内の全角で設定してください。", "customer_given_name", "C-doc"},
	{"EATN0356", 400, TypeInvalidRequest, "ひらがな姓は64文字以内の全角で設定してください。", "customer_family_name_kana", "C-doc"},
	{"EATN0357", 400, TypeInvalidRequest, "ひらがな名は64文字以内の全角で設定してください。", "customer_given_name_kana", "C-doc"},
	{"EATN0358", 400, TypeInvalidRequest, `携帯電話番号は070,080,090始まりの半角数字10,11桁または半角数字2,3桁+"-"+半角数字4桁+"-"+半角数字4桁で設定してください。`, "phone_number", "C-doc"},
	{"EATN0359", 400, TypeInvalidRequest, "生年月日はYYYY-MM-DD形式の日付を設定してください。", "birthday", "C-doc"},
	// atone's table also reuses EATN0360 for "有効なサービス利用契約が無いため処理できません。";
	// the sex_division meaning is the one validation needs.
	{"EATN0360", 400, TypeInvalidRequest, "性別は男性:1, 女性:2で設定してください。", "sex_division", "C-doc"},
	{"EATN0361", 400, TypeInvalidRequest, "累計購入回数は0以上の7桁以内の半角数値で設定して下さい。", "total_purchase_count", "C-doc"},
	{"EATN0362", 400, TypeInvalidRequest, "累計購入金額は0以上の8桁以内の半角数値で設定して下さい。", "total_purchase_amount", "C-doc"},
	{"EATN0363", 400, TypeInvalidRequest, "有効な電話番号が会員に設定されていないため処理できません。", "", "C-doc"},
	{"EATN0397", 400, TypeInvalidRequest, "HTTPリクエストに含まれるJSONの形式が不正です。", "", "C-doc"},
	{"EATN0398", 400, TypeInvalidRequest, "不正なリクエストです。", "", "C-doc"},
	{"EATN0399", 400, TypeInvalidRequest, "現在サービスを利用できません。恐れ入りますが、時間を空けて再度お試し下さい。", "", "C-doc"},

	// Platform.
	{"EATN9901", 503, TypeServiceUnavailable, "現在メンテナンス中のためサービスが利用できません。恐れ入りますが、時間を空けて再度お試し下さい。", "", "C-doc"},
	{"EATN9999", 500, TypeInternalServerError, "現在サービスを利用できません。恐れ入りますが、時間を空けて再度お試し下さい。", "", "C-doc"},
}

var tableByCode = func() map[string]ErrorCode {
	m := make(map[string]ErrorCode, len(Table))
	for _, c := range Table {
		if _, dup := m[c.Code]; dup {
			panic("wire: duplicate error code " + c.Code)
		}
		m[c.Code] = c
	}
	return m
}()

// Lookup returns the table row of code. An unknown code reads as a system error, so that a
// typo never turns into a 200.
func Lookup(code string) ErrorCode {
	if c, ok := tableByCode[code]; ok {
		return c
	}
	c := tableByCode[CodeSystemError]
	c.Code = code
	return c
}

// Known reports whether code is in the table.
func Known(code string) bool {
	_, ok := tableByCode[code]
	return ok
}

// NewError builds the error body for one code.
func NewError(code string, params ...string) *ErrorBody {
	return NewErrorBody(Lookup(code).Detail(params...))
}

// NewErrorBody wraps details in an error body named after the first detail's type.
func NewErrorBody(details ...ErrorDetail) *ErrorBody {
	if len(details) == 0 {
		details = []ErrorDetail{Lookup(CodeSystemError).Detail()}
	}
	first := Lookup(details[0].Code)
	msg := first.Message
	if len(details[0].Messages) > 0 {
		msg = details[0].Messages[0]
	}
	return &ErrorBody{Name: first.Type, Message: msg, Errors: details}
}

var errTrailingData = errors.New("trailing data after JSON value")
