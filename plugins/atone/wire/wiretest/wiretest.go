// Package wiretest holds atone payments for tests: one payment atone accepts and a table of
// single-field breakages with the errors atone answers them with, shared by the wire tests and
// the sandbox conformance tests so both check the same table.
package wiretest

import (
	"fmt"
	"strings"
)

// ValidPayment is a server create that atone accepts; cases below break one field each.
func ValidPayment() map[string]any {
	return map[string]any{
		"amount":               12460,
		"shop_transaction_no":  "shop-tran-no-015",
		"sales_settled":        false,
		"description_trans":    "取引備考欄",
		"authentication_token": "tk_Fj2pd6CMEiFp04zcmTOiBLfm",
		"customer": map[string]any{
			"customer_name":             "注文太郎",
			"customer_family_name":      "注文",
			"customer_given_name":       "太郎",
			"customer_name_kana":        "ちゅうもんたろう",
			"customer_family_name_kana": "ちゅうもん",
			"customer_given_name_kana":  "たろう",
			"phone_number":              "090-1111-1111",
			"birthday":                  "1990-01-01",
			"sex_division":              "1",
			"company_name":              "ネットプロテクションズ",
			"department":                "セールス",
			"zip_code":                  "123-4567",
			"address":                   "東京都中央区銀座1-10-6",
			"tel":                       "03-1234-1234",
			"email":                     "no@netprotections.co.jp",
			"total_purchase_count":      8,
			"total_purchase_amount":     2160,
		},
		"dest_customers": []any{map[string]any{
			"dest_customer_name": "銀座太郎", "dest_zip_code": "123-1234",
			"dest_address": "東京都中央区銀座1-1-6", "dest_tel": "0312341234", "dest_email": "",
		}},
		"items": []any{
			map[string]any{"shop_item_id": "item-012", "item_name": "商品012", "item_price": 1500, "item_count": 1, "item_url": "https://atone.be/items/012/"},
			map[string]any{"shop_item_id": "item-056", "item_name": "商品056", "item_price": 9800, "item_count": 1},
			map[string]any{"shop_item_id": "item-077", "item_name": "商品077", "item_price": 580, "item_count": 2},
		},
	}
}

// ValidationCase breaks one field of ValidPayment and names the errors atone answers with,
// as "code:param" (params joined by ","), on each channel; nil means atone accepts it.
type ValidationCase struct {
	Name   string
	Mutate func(p map[string]any)
	Server []string
	Widget []string
}

// Set returns a mutation storing v at a dotted path ("customer.email", "items.0.item_price");
// v == nil deletes the key.
func Set(path string, v any) func(map[string]any) {
	return func(p map[string]any) {
		parts := strings.Split(path, ".")
		var cur any = p
		for i, k := range parts {
			last := i == len(parts)-1
			switch c := cur.(type) {
			case map[string]any:
				if last {
					if v == nil {
						delete(c, k)
					} else {
						c[k] = v
					}
					return
				}
				cur = c[k]
			case []any:
				var idx int
				fmt.Sscan(k, &idx)
				cur = c[idx]
			}
		}
	}
}

// Del returns a mutation deleting the key at path.
func Del(path string) func(map[string]any) { return Set(path, nil) }

// ValidationCases covers every field check of atone's EATN01xx/03xx tables and EATN1102.
var ValidationCases = []ValidationCase{
	{"amount missing", Del("amount"), []string{"EATN0105:amount"}, []string{"EATN0331:amount"}},
	{"amount zero", Set("amount", 0), []string{"EATN0105:amount"}, []string{"EATN0331:amount"}},
	{"amount 8 digits", Set("amount", 10_000_000), []string{"EATN0105:amount"}, []string{"EATN0331:amount"}},
	{"amount not numeric", Set("amount", "12,460"), []string{"EATN0105:amount"}, []string{"EATN0331:amount"}},
	{"shop_transaction_no missing", Del("shop_transaction_no"), []string{"EATN0106:shop_transaction_no"}, []string{"EATN0332:shop_transaction_no"}},
	{"shop_transaction_no 101 chars", Set("shop_transaction_no", strings.Repeat("a", 101)), []string{"EATN0106:shop_transaction_no"}, []string{"EATN0332:shop_transaction_no"}},
	{"shop_transaction_no full-width", Set("shop_transaction_no", "注文１"), []string{"EATN0106:shop_transaction_no"}, []string{"EATN0332:shop_transaction_no"}},
	{"sales_settled not boolean", Set("sales_settled", "yes"), []string{"EATN0108:sales_settled"}, []string{"EATN0333:sales_settled"}},
	{"description_trans 256 chars", Set("description_trans", strings.Repeat("備", 256)), []string{"EATN0109:description_trans"}, []string{"EATN0334:description_trans"}},
	{"description_trans control char", Set("description_trans", "a\tb"), []string{"EATN0109:description_trans"}, []string{"EATN0334:description_trans"}},
	{"token missing", Del("authentication_token"), []string{"EATN0102:authentication_token"}, nil},
	{"token malformed", Set("authentication_token", "tk_!?"), []string{"EATN0102:authentication_token"}, nil},
	{"items missing", Del("items"), []string{"EATN0111:items"}, []string{"EATN0336:items"}},
	{"items empty", Set("items", []any{}), []string{"EATN0111:items"}, []string{"EATN0336:items"}},
	{"shop_item_id missing", Del("items.0.shop_item_id"), []string{"EATN0110:shop_item_id"}, []string{"EATN0335:shop_item_id"}},
	{"item_name 101 chars", Set("items.0.item_name", strings.Repeat("名", 101)), []string{"EATN0113:item_name"}, []string{"EATN0338:item_name"}},
	{"item_price 7 digits", Set("items.0.item_price", 1_000_000), []string{"EATN0114:item_price"}, []string{"EATN0339:item_price"}},
	{"item_count 6 digits", Set("items.0.item_count", 100_000), []string{"EATN0115:item_count"}, []string{"EATN0340:item_count"}},
	{"item_url 1001 chars", Set("items.0.item_url", strings.Repeat("u", 1001)), []string{"EATN0143:item_url"}, []string{"EATN0341:item_url"}},
	{"customer missing", Del("customer"), []string{"EATN0135:customer_name"}, []string{"EATN0342:customer_name"}},
	{"customer_name 101 chars", Set("customer.customer_name", strings.Repeat("氏", 101)), []string{"EATN0135:customer_name"}, []string{"EATN0342:customer_name"}},
	{"customer_name_kana 129 chars", Set("customer.customer_name_kana", strings.Repeat("あ", 129)), []string{"EATN0136:customer_name_kana"}, []string{"EATN0343:customer_name_kana"}},
	{"company_name 101 chars", Set("customer.company_name", strings.Repeat("社", 101)), []string{"EATN0137:company_name"}, []string{"EATN0344:company_name"}},
	{"department 31 chars", Set("customer.department", strings.Repeat("部", 31)), []string{"EATN0138:department"}, []string{"EATN0345:department"}},
	{"zip_code 6 digits", Set("customer.zip_code", "123456"), []string{"EATN0139:zip_code"}, []string{"EATN0346:zip_code"}},
	{"address 256 chars", Set("customer.address", strings.Repeat("住", 256)), []string{"EATN0140:address"}, []string{"EATN0347:address"}},
	{"tel not starting with 0", Set("customer.tel", "3312341234"), []string{"EATN0141:tel"}, []string{"EATN0348:tel"}},
	{"email without at", Set("customer.email", "no.netprotections.co.jp"), []string{"EATN0142:email"}, []string{"EATN0349:email"}},
	{"dest_customers 10", Set("dest_customers", func() []any {
		d := make([]any, 10)
		for i := range d {
			d[i] = map[string]any{"dest_customer_name": "銀座", "dest_zip_code": "1231234", "dest_address": "東京"}
		}
		return d
	}()), []string{"EATN0144:dest_customers"}, []string{"EATN0353:dest_customers"}},
	{"customer_family_name 51 chars", Set("customer.customer_family_name", strings.Repeat("姓", 51)), []string{"EATN0145:customer_family_name"}, []string{"EATN0354:customer_family_name"}},
	{"customer_given_name 51 chars", Set("customer.customer_given_name", strings.Repeat("名", 51)), []string{"EATN0146:customer_given_name"}, []string{"EATN0355:customer_given_name"}},
	{"customer_family_name_kana 65 chars", Set("customer.customer_family_name_kana", strings.Repeat("せ", 65)), []string{"EATN0147:customer_family_name_kana"}, []string{"EATN0356:customer_family_name_kana"}},
	{"customer_given_name_kana 65 chars", Set("customer.customer_given_name_kana", strings.Repeat("な", 65)), []string{"EATN0148:customer_given_name_kana"}, []string{"EATN0357:customer_given_name_kana"}},
	{"phone_number landline", Set("customer.phone_number", "03-1234-1234"), []string{"EATN0149:phone_number"}, []string{"EATN0358:phone_number"}},
	{"birthday not a date", Set("customer.birthday", "1990-02-30"), []string{"EATN0150:birthday"}, []string{"EATN0359:birthday"}},
	{"sex_division 3", Set("customer.sex_division", "3"), []string{"EATN0151:sex_division"}, []string{"EATN0360:sex_division"}},
	{"total_purchase_count negative", Set("customer.total_purchase_count", -1), nil, []string{"EATN0361:total_purchase_count"}},
	{"total_purchase_amount 9 digits", Set("customer.total_purchase_amount", 100_000_000), nil, []string{"EATN0362:total_purchase_amount"}},
	{"dest_zip_code missing", Del("dest_customers.0.dest_zip_code"), []string{"EATN0139:dest_zip_code"}, []string{"EATN0346:dest_zip_code"}},
	{"amount is not the item total", Set("amount", 12461), []string{"EATN1102:"}, []string{"EATN1102:"}},
	{"two errors at once", func(p map[string]any) {
		Set("amount", "x")(p)
		Set("customer.email", "x")(p)
	}, []string{"EATN0105:amount", "EATN0142:email"}, []string{"EATN0331:amount", "EATN0349:email"}},
}
