package order_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/order"
)

func TestTextRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s          string
		line, free bool // refused as a one-line field, as free text
	}{
		{"注文　太郎 ✓ 😀", false, false},
		{"ｶﾀｶﾅ and ASCII ~!@#", false, false},
		{"\uFFFD", false, false}, // the replacement character itself is text
		{"a\x00b", true, true},
		{"a\tb", true, false},
		{"a\nb", true, false},
		{"a\r\nb", true, false},
		{"a\x1bb", true, true},
		{"a\x7fb", true, true},
		{"a\u0085b", true, true},
		{"a\u009fb", true, true},
		{"a\u2028b", true, false},
		{"a\u202eb", true, true},
		{"a\u202ab", true, true},
		{"a\u2066b", true, true},
		{"a\u2069b", true, true},
		{"a\ufeffb", true, true},
		{"a\xffb", true, true}, // not UTF-8
	} {
		if _, got := order.OneLine.Refused(tc.s); got != tc.line {
			t.Errorf("OneLine.Refused(%q) = %v", tc.s, got)
		}
		if _, got := order.FreeText.Refused(tc.s); got != tc.free {
			t.Errorf("FreeText.Refused(%q) = %v", tc.s, got)
		}
	}
	if r, _ := order.OneLine.Refused("田中\u202e太郎"); order.Describe(r) != "U+202E 書式制御文字" {
		t.Errorf("described as %q", order.Describe(r))
	}
}

func TestValidateCharacters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*order.Input)
		field  string // "" when the order is accepted
	}{
		{"CR/LF in a name", func(i *order.Input) { i.Customer.Name1 = "注文\r\nBcc: x@example.com" }, "customer.name1"},
		{"a tab in a name", func(i *order.Input) { i.Customer.Name2 = "太\t郎" }, "customer.name2"},
		{"NUL in a kana name", func(i *order.Input) { i.Customer.Name3 = "ちゅう\x00もん" }, "customer.name3"},
		{"a right-to-left override in an address", func(i *order.Input) { i.Customer.Address2 = "銀座\u202e6-01-1" }, "customer.address2"},
		{"a BOM in the zip", func(i *order.Input) { i.Customer.Zipcode = "\ufeff123-4567" }, "customer.zipcode"},
		{"C1 NEL in the pref", func(i *order.Input) { i.Customer.Pref = "東京\u0085都" }, "customer.pref"},
		{"DEL in the tel", func(i *order.Input) { i.Customer.Tel = "090\x7f0000" }, "customer.tel"},
		{"LF in the e-mail", func(i *order.Input) { i.Customer.Email = "taro@example.jp\nBcc: x@example.com" }, "customer.mailaddress1"},
		{"an isolate in the delivery name", func(i *order.Input) { i.Delivery.Name1 = "注文\u2066" }, "delivery.name1"},
		{"a line separator in the delivery address", func(i *order.Input) { i.Delivery.Address1 = "中央区\u2028" }, "delivery.address1"},
		{"an override in an item name", func(i *order.Input) { i.Cart[0].ItemName = "商品\u202dgpj.exe" }, "cart[0].item_name"},
		{"LF in a SKU", func(i *order.Input) { i.Cart[0].SKU = "item\n012" }, "cart[0].sku"},
		{"an escape in the order number", func(i *order.Input) { i.OrderNumber = "10\x1b01" }, "order_number"},
		{"LF in the payment name", func(i *order.Input) { i.Order.PaymentName = "後払い\n（atone）" }, "order.payment_name"},
		{"a tab in the delivery method", func(i *order.Input) { i.Order.DeliveryMethod = "宅配便\t" }, "order.delivery_method"},
		{"LF in an option name", func(i *order.Input) { i.Cart[0].Options = map[string]string{"色\n": "赤"} }, "cart[0].options"},
		{"NUL in an option's text", func(i *order.Input) { i.Cart[0].Options = map[string]string{"刻印": "A\x00"} }, "cart[0].options.刻印"},
		{"NUL in the note", func(i *order.Input) { i.Order.Note = "午前中\x00" }, "order.note"},
		{"an override in the note", func(i *order.Input) { i.Order.Note = "\u202e午前中" }, "order.note"},
		{"tabs and line breaks in the note, as Welcart's textarea sends them", func(i *order.Input) { i.Order.Note = "午前中\r\n\t置き配" }, ""},
		{"line breaks in an option's text", func(i *order.Input) { i.Cart[0].Options = map[string]string{"刻印": "一行目\n二行目"} }, ""},
		{"full-width spaces, emoji and half-width kana in names", func(i *order.Input) { i.Customer.Name1 = "注文　😀ｶﾅ" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := parse(t, welcartOrder)
			tc.change(&in)
			err := in.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve order.ValidationError
			if !errors.As(err, &ve) || ve[0].Field != tc.field || ve[0].Code != "invalid_character" || !strings.Contains(ve[0].Message, "U+") {
				t.Fatalf("Validate() = %v, want invalid_character on %s first", err, tc.field)
			}
		})
	}
}
