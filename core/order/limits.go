package order

import (
	"encoding/json"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Column types as the migrations declare them, and the one for a value kept inside a JSON
// column.
const (
	VarChar  = "VARCHAR"  // Max is in characters: MySQL counts VARCHAR(n) in characters in utf8mb4
	LongText = "LONGTEXT" // Max is in bytes: MySQL counts TEXT types in bytes
	InJSON   = "JSON"     // a value inside a JSON-encoded column; Max is in characters, kessai's own
)

// Bounds of the order's numbers. With every amount and quantity bounded, Σ price × quantity
// over maxLines lines and the total's formula stay far inside int64 (200 × 99,999,999 × 9,999
// < 2^63), so no sum Validate takes can overflow.
const (
	// MaxAmount is the largest amount of any money field, in yen (eight digits).
	MaxAmount = 99_999_999
	// MaxQuantity is the largest quantity of a cart line.
	MaxQuantity = 9_999
	// maxLines is the most lines a cart may have.
	maxLines = 200
)

// maxLongText is LONGTEXT's size in bytes.
const maxLongText = 1<<32 - 1

// Limit is one stored order field: the input field, the orders column it is written to, and
// what fits there. Validate checks every Limit, in the table's order, before anything is
// written or sent to a provider, so a value that does not fit is a 422 naming its field and
// never a strict-mode error from MySQL.
type Limit struct {
	Field  string // JSON path in the input ("customer.pref", "cart[].item_name")
	Column string // the orders column
	Type   string // VarChar, LongText or InJSON
	Max    int64  // characters (VarChar, InJSON) or bytes (LongText)
	Text   Text   // the characters the field accepts
	Label  string // the field's name in messages, as Welcart's screens call it

	required bool
	values   func(in *Input) []value      // the field's values with their paths; nil: kessai writes the column itself
	format   func(s string) bool          // a further rule on a value (an e-mail address)
	rule     func(in *Input, add addFunc) // a rule on the field as a whole (the cart's lines)
}

type value struct{ path, s string }

type addFunc func(field, code, msg string, args ...any)

// addressField is one of Welcart's address fields and the orders column that stores the
// customer's. The delivery address, kept as JSON in order_delivery, has the same fields and
// the same limits: it is the same form in Welcart and goes to the provider the same way.
type addressField struct {
	key, column, label string
	max                int64
	required           bool
	get                func(Address) string
}

var addressFields = []addressField{
	{"name1", "order_name1", "姓", 191, true, func(a Address) string { return a.Name1 }},
	{"name2", "order_name2", "名", 191, false, func(a Address) string { return a.Name2 }},
	{"name3", "order_name3", "フリガナ（姓）", 191, false, func(a Address) string { return a.Name3 }},
	{"name4", "order_name4", "フリガナ（名）", 191, false, func(a Address) string { return a.Name4 }},
	{"zipcode", "order_zip", "郵便番号", 32, false, func(a Address) string { return a.Zipcode }},
	{"pref", "order_pref", "都道府県", 32, false, func(a Address) string { return a.Pref }},
	{"address1", "order_address1", "市区郡町村", 255, false, func(a Address) string { return a.Address1 }},
	{"address2", "order_address2", "番地", 255, false, func(a Address) string { return a.Address2 }},
	{"address3", "order_address3", "マンション・ビル名", 255, false, func(a Address) string { return a.Address3 }},
	{"tel", "order_tel", "電話番号", 32, false, func(a Address) string { return a.Tel }},
	{"fax", "order_fax", "FAX番号", 32, false, func(a Address) string { return a.Fax }},
}

// limits is the table, in Welcart's form order: the first refusal Validate names is always
// the same one for the same input.
var limits = slices.Concat(
	[]Limit{
		{Field: "order_number", Column: "order_number", Type: VarChar, Max: 64, Label: "注文番号", required: true,
			values: scalar("order_number", func(in *Input) string { return in.OrderNumber })},
		{Field: "welcart_trans_id", Column: "welcart_trans_id", Type: VarChar, Max: 64, Label: "Welcartのリンクキー",
			values: scalar("welcart_trans_id", func(in *Input) string { return in.WelcartTransID })},
		{Field: "customer.mailaddress1", Column: "order_email", Type: VarChar, Max: 191, Label: "メールアドレス", required: true,
			values: scalar("customer.mailaddress1", func(in *Input) string { return in.Customer.Email }), format: isEmail},
	},
	customerLimits(),
	deliveryLimits(),
	[]Limit{
		{Field: "delivery", Column: "order_delivery", Type: LongText, Max: maxLongText, Text: Encoded, Label: "配送先",
			values: encoded("delivery", func(in *Input) any {
				if in.Delivery == nil {
					return nil
				}
				return in.Delivery
			})},
		{Field: "cart[].sku", Column: "order_cart", Type: InJSON, Max: 191, Label: "SKUコード",
			values: lines(func(l Line) string { return l.SKU }, "sku")},
		{Field: "cart[].item_name", Column: "order_cart", Type: InJSON, Max: 255, Label: "商品名", required: true,
			values: lines(func(l Line) string { return l.ItemName }, "item_name")},
		{Field: "cart[].options", Column: "order_cart", Type: InJSON, Max: 191, Label: "商品オプション名",
			values: optionNames},
		{Field: "cart[].options.*", Column: "order_cart", Type: InJSON, Max: 1000, Text: FreeText, Label: "商品オプション",
			values: optionValues},
		{Field: "cart", Column: "order_cart", Type: LongText, Max: maxLongText, Text: Encoded, Label: "カート",
			values: encoded("cart", func(in *Input) any { return in.Cart }), rule: cartRule},
		{Field: "order.note", Column: "order_note", Type: LongText, Max: maxLongText, Text: FreeText, Label: "備考",
			values: scalar("order.note", func(in *Input) string { return in.Order.Note })},
		{Field: "order.payment_name", Column: "order_payment_name", Type: VarChar, Max: 191, Label: "支払方法", required: true,
			values: scalar("order.payment_name", func(in *Input) string { return in.Order.PaymentName })},
		{Field: "order.delivery_method", Column: "order_delivery_method", Type: VarChar, Max: 191, Label: "配送方法",
			values: scalar("order.delivery_method", func(in *Input) string { return in.Order.DeliveryMethod })},
		// Written by kessai from ProcessTokens, never from the input.
		{Field: "process_status", Column: "order_status", Type: VarChar, Max: 255, Label: "対応状況"},
	},
)

// Amount is one money column of the orders table and its bounds. Discount is zero or
// negative, as Welcart stores it; usedpoint is positive and subtracted.
type Amount struct {
	Field    string // JSON path in the input
	Column   string // the orders column
	Min, Max int64
	Label    string

	points bool   // counted in points, not yen
	note   string // said after the bounds
	get    func(Totals) int64
}

func (a Amount) unit(n int64) string {
	if a.points {
		return itoa(n) + "ポイント"
	}
	return itoa(n) + "円"
}

// amounts is the money table, in Welcart's order of the totals.
var amounts = []Amount{
	{Field: "order.total_items_price", Column: "order_item_total_price", Min: 0, Max: MaxAmount, Label: "商品合計",
		get: func(t Totals) int64 { return t.TotalItemsPrice }},
	{Field: "order.usedpoint", Column: "order_usedpoint", Min: 0, Max: MaxAmount, Label: "使用ポイント", points: true,
		get: func(t Totals) int64 { return t.UsedPoint }},
	{Field: "order.discount", Column: "order_discount", Min: -MaxAmount, Max: 0, Label: "値引き", note: "（Welcartと同じく負の値）",
		get: func(t Totals) int64 { return t.Discount }},
	{Field: "order.shipping_charge", Column: "order_shipping_charge", Min: 0, Max: MaxAmount, Label: "送料",
		get: func(t Totals) int64 { return t.ShippingCharge }},
	{Field: "order.cod_fee", Column: "order_cod_fee", Min: 0, Max: MaxAmount, Label: "手数料",
		get: func(t Totals) int64 { return t.CODFee }},
	{Field: "order.tax", Column: "order_tax", Min: 0, Max: MaxAmount, Label: "消費税",
		get: func(t Totals) int64 { return t.Tax }},
	{Field: "order.total_full_price", Column: "order_total_full_price", Min: 1, Max: MaxAmount, Label: "総合計金額",
		get: func(t Totals) int64 { return t.TotalFullPrice }},
	{Field: "order.getpoint", Column: "order_getpoint", Min: 0, Max: MaxAmount, Label: "獲得ポイント", points: true,
		get: func(t Totals) int64 { return t.GetPoint }},
}

// Amounts returns the money table, in the order Validate checks it.
func Amounts() []Amount { return slices.Clone(amounts) }

// Limits returns the table of stored order fields, in the order Validate checks them.
func Limits() []Limit { return slices.Clone(limits) }

// LimitOf returns the limit of an input field ("customer.pref", "cart[].item_name").
func LimitOf(field string) (Limit, bool) {
	i := slices.IndexFunc(limits, func(l Limit) bool { return l.Field == field })
	if i < 0 {
		return Limit{}, false
	}
	return limits[i], true
}

func customerLimits() []Limit {
	out := make([]Limit, len(addressFields))
	for i, f := range addressFields {
		path := "customer." + f.key
		out[i] = Limit{Field: path, Column: f.column, Type: VarChar, Max: f.max, Label: f.label, required: f.required,
			values: scalar(path, func(in *Input) string { return f.get(in.Customer.Address) })}
	}
	return out
}

func deliveryLimits() []Limit {
	out := make([]Limit, 0, len(addressFields)+1)
	for _, f := range addressFields {
		path := "delivery." + f.key
		out = append(out, Limit{Field: path, Column: "order_delivery", Type: InJSON, Max: f.max, Label: "配送先の" + f.label,
			required: f.required, values: func(in *Input) []value {
				if in.Delivery == nil {
					return nil
				}
				return []value{{path, f.get(*in.Delivery)}}
			}})
	}
	// Welcart's country code ("JP"); the customer's is not stored.
	return append(out, Limit{Field: "delivery.country", Column: "order_delivery", Type: InJSON, Max: 32, Label: "配送先の国",
		values: func(in *Input) []value {
			if in.Delivery == nil {
				return nil
			}
			return []value{{"delivery.country", in.Delivery.Country}}
		}})
}

func scalar(path string, get func(in *Input) string) func(in *Input) []value {
	return func(in *Input) []value { return []value{{path, get(in)}} }
}

func encoded(path string, get func(in *Input) any) func(in *Input) []value {
	return func(in *Input) []value {
		v := get(in)
		if v == nil {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil // nothing in Input fails to encode
		}
		return []value{{path, string(b)}}
	}
}

func lines(get func(Line) string, key string) func(in *Input) []value {
	return func(in *Input) []value {
		out := make([]value, len(in.Cart))
		for i, l := range in.Cart {
			out[i] = value{linePath(i) + "." + key, get(l)}
		}
		return out
	}
}

func linePath(i int) string { return "cart[" + strconv.Itoa(i) + "]" }

func optionNames(in *Input) []value {
	var out []value
	for i, l := range in.Cart {
		for _, k := range sortedKeys(l.Options) {
			out = append(out, value{linePath(i) + ".options", k})
		}
	}
	return out
}

func optionValues(in *Input) []value {
	var out []value
	for i, l := range in.Cart {
		for _, k := range sortedKeys(l.Options) {
			out = append(out, value{linePath(i) + ".options." + k, l.Options[k]})
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isEmail(s string) bool {
	_, err := mail.ParseAddress(s)
	return err == nil
}

// check refuses the field's values that are missing, hold a character the field does not
// accept, or do not fit its column: one refusal per value, that of the first rule it fails.
func (l Limit) check(in *Input, add addFunc) {
	if l.values == nil {
		return
	}
	for _, v := range l.values(in) {
		switch r, bad := l.Text.Refused(v.s); {
		case l.required && strings.TrimSpace(v.s) == "":
			add(v.path, "required", "%sを入力してください。", l.Label)
		case bad:
			add(v.path, "invalid_character", "%sに使用できない文字（%s）が含まれています。", l.Label, Describe(r))
		case l.Type == LongText && int64(len(v.s)) > l.Max:
			add(v.path, "too_long", "%sが長すぎます（%sバイトまで）。", l.Label, itoa(l.Max))
		case l.Type != LongText && int64(utf8.RuneCountInString(v.s)) > l.Max:
			add(v.path, "too_long", "%sは%s文字以内で入力してください。", l.Label, itoa(l.Max))
		case l.format != nil && !l.format(v.s):
			add(v.path, "invalid", "%sが不正です。", l.Label)
		}
	}
	if l.rule != nil {
		l.rule(in, add)
	}
}

// itoa writes n with thousands separators, as amounts are written on Welcart's screens.
func itoa(n int64) string {
	digits := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}
