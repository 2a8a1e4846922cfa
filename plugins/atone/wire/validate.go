package wire

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Channel is where a payment is going; atone validates the same fields on both, with 01xx
// codes on the server API and 03xx codes in the widget.
type Channel int

const (
	// Server is POST /v1/transactions (codes EATN01xx, EATN11xx).
	Server Channel = iota
	// Widget is Atone.config({payment}) (codes EATN03xx).
	Widget
)

func (c Channel) String() string {
	if c == Widget {
		return "widget"
	}
	return "server"
}

// rule checks one field. A code left empty means atone has no such check on that channel,
// so none is made ([I]: e.g. the server table has no purchase-count code).
type rule struct {
	key      string
	server   string
	widget   string
	required bool
	check    func(v any) bool
}

func (r rule) code(ch Channel) string {
	if ch == Widget {
		return r.widget
	}
	return r.server
}

var (
	reASCII     = regexp.MustCompile(`^[\x21-\x7e]+$`)
	reZip       = regexp.MustCompile(`^(\d{7}|\d{3}-\d{4})$`)
	reTel       = regexp.MustCompile(`^(0\d{9,10}|\d{2,3}-\d{4}-\d{4})$`)
	reMobile    = regexp.MustCompile(`^(0[789]0\d{7,8}|0[789]0-\d{4}-\d{4})$`)
	reEmail     = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s.]+$`)
	reToken     = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)
	reDigits    = regexp.MustCompile(`^-?\d+$`)
	reSexNumber = regexp.MustCompile(`^[12]$`)
)

// Field checks. "全角" and "ひらがな" in atone's messages are not enforced, only lengths:
// atone's own SDK test data sends katakana as customer_name_kana and Welcart shops send
// half-width names, so enforcing them would reject real traffic [I].
func text(max int) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return ok && utf8.ValidString(s) && utf8.RuneCountInString(s) <= max
	}
}

func ascii(max int) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return ok && len(s) <= max && reASCII.MatchString(s)
	}
}

func match(re *regexp.Regexp) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return ok && re.MatchString(s)
	}
}

func email(v any) bool {
	s, ok := v.(string)
	return ok && len(s) <= 255 && reEmail.MatchString(s)
}

func date(v any) bool {
	s, ok := v.(string)
	if !ok || len(s) != 10 {
		return false
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// remark allows newlines but no other control characters (EATN0334).
func remark(v any) bool {
	s, ok := v.(string)
	if !ok || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 255 {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

func integer(min, max int64) func(any) bool {
	return func(v any) bool {
		n, ok := intValue(v)
		return ok && n >= min && n <= max
	}
}

func boolean(v any) bool {
	_, ok := v.(bool)
	return ok
}

func sex(v any) bool {
	switch t := v.(type) {
	case string:
		return reSexNumber.MatchString(t)
	case json.Number:
		return reSexNumber.MatchString(t.String())
	}
	return false
}

// intValue reads a JSON integer. Numeric strings are accepted because production clients
// (w2Commerce) send them and atone takes them.
func intValue(v any) (int64, bool) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = t.String()
	case string:
		s = strings.TrimSpace(t)
	default:
		return 0, false
	}
	if !reDigits.MatchString(s) || len(s) > 12 {
		return 0, false
	}
	var n int64
	_, err := fmt.Sscan(s, &n)
	return n, err == nil
}

var topRules = []rule{
	{"amount", "EATN0105", "EATN0331", true, integer(1, 9_999_999)},
	{"shop_transaction_no", "EATN0106", "EATN0332", true, ascii(100)},
	{"sales_settled", "EATN0108", "EATN0333", false, boolean},
	{"description_trans", "EATN0109", "EATN0334", false, remark},
}

var customerRules = []rule{
	{"customer_name", "EATN0135", "EATN0342", true, text(100)},
	{"customer_family_name", "EATN0145", "EATN0354", false, text(50)},
	{"customer_given_name", "EATN0146", "EATN0355", false, text(50)},
	{"customer_name_kana", "EATN0136", "EATN0343", false, text(128)},
	{"customer_family_name_kana", "EATN0147", "EATN0356", false, text(64)},
	{"customer_given_name_kana", "EATN0148", "EATN0357", false, text(64)},
	{"phone_number", "EATN0149", "EATN0358", false, match(reMobile)},
	{"birthday", "EATN0150", "EATN0359", false, date},
	{"sex_division", "EATN0151", "EATN0360", false, sex},
	{"company_name", "EATN0137", "EATN0344", false, text(100)},
	{"department", "EATN0138", "EATN0345", false, text(30)},
	{"zip_code", "EATN0139", "EATN0346", false, match(reZip)},
	{"address", "EATN0140", "EATN0347", false, text(255)},
	{"tel", "EATN0141", "EATN0348", false, match(reTel)},
	{"email", "EATN0142", "EATN0349", false, email},
	{"total_purchase_count", "", "EATN0361", false, integer(0, 9_999_999)},
	{"total_purchase_amount", "", "EATN0362", false, integer(0, 99_999_999)},
}

// destRules reuse the buyer's codes with the dest_ field as param: atone publishes no codes
// of their own for service destinations [I].
var destRules = []rule{
	{"dest_customer_name", "EATN0135", "EATN0342", true, text(100)},
	{"dest_customer_name_kana", "EATN0136", "EATN0343", false, text(128)},
	{"dest_company_name", "EATN0137", "EATN0344", false, text(100)},
	{"dest_department", "EATN0138", "EATN0345", false, text(30)},
	{"dest_zip_code", "EATN0139", "EATN0346", true, match(reZip)},
	{"dest_address", "EATN0140", "EATN0347", true, text(255)},
	{"dest_tel", "EATN0141", "EATN0348", false, match(reTel)},
	{"dest_email", "EATN0142", "EATN0349", false, email},
}

// itemRules: item_price is signed because discounts are sent as negative lines; a count
// of zero is refused [I].
var itemRules = []rule{
	{"shop_item_id", "EATN0110", "EATN0335", true, ascii(100)},
	{"item_name", "EATN0113", "EATN0338", true, text(100)},
	{"item_price", "EATN0114", "EATN0339", true, integer(-999_999, 999_999)},
	{"item_count", "EATN0115", "EATN0340", true, integer(1, 99_999)},
	{"item_url", "EATN0143", "EATN0341", false, text(1000)},
}

// collector keeps one error per code and param, in the order found.
type collector struct {
	ch   Channel
	seen map[string]bool
	out  []ErrorDetail
}

func (c *collector) add(code, param string) {
	if code == "" {
		return
	}
	key := code + "\x00" + param
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	if param == "" {
		c.out = append(c.out, Lookup(code).Detail())
		return
	}
	c.out = append(c.out, Lookup(code).Detail(param))
}

// apply checks obj against rules. Empty strings count as absent: atone's own samples send
// "dest_email": "".
func (c *collector) apply(obj map[string]any, rules []rule) bool {
	ok := true
	for _, r := range rules {
		v, present := obj[r.key]
		if s, isStr := v.(string); v == nil || (isStr && s == "") {
			present = false
		}
		if !present {
			if r.required {
				c.add(r.code(c.ch), r.key)
				ok = false
			}
			continue
		}
		if !r.check(v) {
			c.add(r.code(c.ch), r.key)
			ok = false
		}
	}
	return ok
}

// Validate checks p as atone would before registering it, returning atone's errors (nil when
// the payment is acceptable). The adapter calls it before sending; the sandbox answers with it.
func (p *Payment) Validate(ch Channel) []ErrorDetail {
	raw, err := rawObject(p)
	if err != nil { // a Payment always encodes; this guards future field types
		return []ErrorDetail{Lookup(CodeSystemError).Detail()}
	}
	return ValidateRaw(raw.(map[string]any), ch)
}

// ValidateRaw checks a decoded payment (numbers as json.Number) without first forcing it into
// Go types, so that a wrong type is reported with atone's code for the field, not as a
// decoding failure.
func ValidateRaw(obj map[string]any, ch Channel) []ErrorDetail {
	c := &collector{ch: ch, seen: map[string]bool{}}
	amountOK := c.apply(obj, topRules)

	if ch == Server {
		if tok, present := obj["authentication_token"]; present && tok != nil && tok != "" {
			if !match(reToken)(tok) {
				c.add(CodeTokenFormat, "authentication_token")
			}
		} else {
			// Every server create found sends a token; it is how atone knows the buyer [I, strong].
			c.add(CodeTokenFormat, "authentication_token")
		}
	}

	switch cust := obj["customer"].(type) {
	case map[string]any:
		c.apply(cust, customerRules)
	default:
		c.add(rule{server: "EATN0135", widget: "EATN0342"}.code(ch), "customer_name")
	}

	if d, present := obj["dest_customers"]; present && d != nil {
		list, ok := d.([]any)
		switch {
		case !ok || len(list) > 9:
			c.add(rule{server: "EATN0144", widget: "EATN0353"}.code(ch), "dest_customers")
		default:
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					c.apply(m, destRules)
				} else {
					c.add(rule{server: "EATN0135", widget: "EATN0342"}.code(ch), "dest_customer_name")
				}
			}
		}
	}

	itemsOK := false
	var total int64
	list, isList := obj["items"].([]any)
	switch {
	case !isList || len(list) == 0:
		c.add(rule{server: "EATN0111", widget: "EATN0336"}.code(ch), "items")
	case len(list) > 9999:
		c.add(rule{server: "EATN0112", widget: "EATN0337"}.code(ch), "items")
	default:
		itemsOK = true
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				c.add(rule{server: "EATN0111", widget: "EATN0336"}.code(ch), "items")
				itemsOK = false
				continue
			}
			if !c.apply(m, itemRules) {
				itemsOK = false
				continue
			}
			price, _ := intValue(m["item_price"])
			count, _ := intValue(m["item_count"])
			total += price * count
		}
	}

	// The widget table has no code of its own for this; atone registers the transaction with
	// the same rules either way [I].
	if amountOK && itemsOK {
		if amount, _ := intValue(obj["amount"]); amount != total {
			c.add(CodeAmountMismatch, "")
		}
	}
	return c.out
}

// ParsePayment reads a payment as atone does: numbers may come as numeric strings,
// sales_settled as "true"/"false". It returns atone's validation errors, or an error when the
// body is not JSON at all (atone's EATN0397).
func ParsePayment(body []byte, ch Channel) (Payment, []ErrorDetail, error) {
	v, err := rawObject(body)
	if err != nil {
		return Payment{}, nil, fmt.Errorf("parse payment: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Payment{}, nil, fmt.Errorf("parse payment: body is %T, not a JSON object", v)
	}
	Normalize(obj)
	if details := ValidateRaw(obj, ch); len(details) > 0 {
		return Payment{}, details, nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return Payment{}, nil, fmt.Errorf("parse payment: re-encode: %w", err)
	}
	var p Payment
	if err := json.Unmarshal(b, &p); err != nil {
		// A field atone does not check had the wrong type (e.g. transaction_options: "1").
		return Payment{}, []ErrorDetail{Lookup(CodeWidgetBadRequest).Detail()}, nil
	}
	return p, nil, nil
}

// Normalize rewrites, in place, the lenient forms atone accepts into their strict ones:
// numeric strings in number fields become numbers and "true"/"false" become booleans.
// Values that do not parse are left alone so that validation reports them.
func Normalize(obj map[string]any) {
	numbers(obj, "amount")
	if s, ok := obj["sales_settled"].(string); ok {
		switch strings.TrimSpace(s) {
		case "true":
			obj["sales_settled"] = true
		case "false":
			obj["sales_settled"] = false
		}
	}
	if c, ok := obj["customer"].(map[string]any); ok {
		numbers(c, "total_purchase_count", "total_purchase_amount", "membership_period")
		if n, ok := c["sex_division"].(json.Number); ok {
			c["sex_division"] = n.String()
		}
	}
	if items, ok := obj["items"].([]any); ok {
		for _, e := range items {
			if m, ok := e.(map[string]any); ok {
				numbers(m, "item_price", "item_count")
			}
		}
	}
	if opts, ok := obj["transaction_options"].([]any); ok {
		for i, e := range opts {
			if n, ok := intValue(e); ok {
				opts[i] = json.Number(fmt.Sprint(n))
			}
		}
	}
}

func numbers(m map[string]any, keys ...string) {
	for _, k := range keys {
		if s, ok := m[k].(string); ok {
			if n, ok := intValue(s); ok {
				m[k] = json.Number(fmt.Sprint(n))
			}
		}
	}
}
