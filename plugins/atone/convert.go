package atone

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// paymentOptions are the parts of a payment that do not come from the order.
type paymentOptions struct {
	settled bool // sales_settled
	// token, updated and related are the server-only fields; empty for the widget.
	token   string
	updated []string
	related string
}

// buildPayment turns a host order into atone's payment object. It never fails: whatever atone
// would refuse is left for wire's validation to report in atone's own words.
func buildPayment(o plugins.Order, opt paymentOptions) wire.Payment {
	settled := opt.settled
	p := wire.Payment{
		Amount:              o.Amount,
		ShopTransactionNo:   o.Attempt,
		SalesSettled:        &settled,
		UserNo:              o.MemberID,
		Customer:            buildCustomer(o.Customer),
		Items:               buildItems(o.Lines),
		AuthenticationToken: opt.token,
		UpdatedTransactions: opt.updated,
		RelatedTransaction:  opt.related,
	}
	if o.Number != "" {
		// Not shown to the buyer; lets shop staff find the order from atone's portal.
		p.DescriptionTrans = truncate("注文番号 "+o.Number, 255)
	}
	if o.Recurring {
		p.TransactionOptions = []int{wire.OptionRecurring}
	}
	dest := o.Customer
	if o.Delivery != nil {
		dest = *o.Delivery
	}
	// dest_customers is optional but its zip and address are required when present: a
	// download-only order without an address sends none rather than an invalid one.
	if d := buildDest(dest); d.DestZipCode != "" && d.DestAddress != "" && d.DestCustomerName != "" {
		p.DestCustomers = []wire.DestCustomer{d}
	}
	return p
}

func buildCustomer(c plugins.Customer) wire.Customer {
	w := wire.Customer{
		CustomerName:           joinName(c.FamilyName, c.GivenName),
		CustomerFamilyName:     strings.TrimSpace(c.FamilyName),
		CustomerGivenName:      strings.TrimSpace(c.GivenName),
		CustomerNameKana:       joinName(hiragana(c.FamilyKana), hiragana(c.GivenKana)),
		CustomerFamilyNameKana: hiragana(c.FamilyKana),
		CustomerGivenNameKana:  hiragana(c.GivenKana),
		ZipCode:                zip(c.Zip),
		Address:                address(c),
		Email:                  strings.TrimSpace(c.Email),
	}
	if wire.NormalizePhone(c.Tel) != "" {
		w.SetPhone(c.Tel) // mobile numbers go to phone_number, the rest to tel
	}
	return w
}

func buildDest(c plugins.Customer) wire.DestCustomer {
	return wire.DestCustomer{
		DestCustomerName:     joinName(c.FamilyName, c.GivenName),
		DestCustomerNameKana: joinName(hiragana(c.FamilyKana), hiragana(c.GivenKana)),
		DestZipCode:          zip(c.Zip),
		DestAddress:          address(c),
		DestTel:              wire.NormalizePhone(c.Tel),
		DestEmail:            strings.TrimSpace(c.Email),
	}
}

// Default names and ids of the lines that are not products. atone has no item types, so
// discounts, points, shipping and fees travel as ordinary lines (negative for discounts and
// points), which is what keeps amount equal to the item total (EATN1102).
var lineDefaults = map[plugins.LineKind]struct{ id, name string }{
	plugins.LineItem:     {"item", "商品"},
	plugins.LineDiscount: {"discount", "値引き"},
	plugins.LinePoint:    {"point", "ポイント利用"},
	plugins.LineShipping: {"shipping", "送料"},
	plugins.LineFee:      {"fee", "決済手数料"},
	plugins.LineTax:      {"tax", "消費税"},
}

var reItemID = regexp.MustCompile(`^[\x21-\x7e]{1,100}$`)

func buildItems(lines []plugins.Line) []wire.Item {
	items := make([]wire.Item, 0, len(lines))
	for i, l := range lines {
		def, ok := lineDefaults[l.Kind]
		if !ok {
			def = lineDefaults[plugins.LineItem]
		}
		// A zero line that is not a product (free shipping, no fee) says nothing to the buyer.
		if l.Kind != plugins.LineItem && l.Kind != "" && l.Price == 0 {
			continue
		}
		id := strings.TrimSpace(l.SKU)
		if !reItemID.MatchString(id) {
			// atone takes only half-width ids; Welcart SKUs may be Japanese. The line's
			// position keeps ids distinct.
			id = fmt.Sprintf("%s-%d", def.id, i+1)
		}
		name := strings.TrimSpace(l.Name)
		if name == "" {
			name = def.name
		}
		items = append(items, wire.Item{
			ShopItemID: id,
			// A long product name must not stop the payment; atone keeps 100 characters.
			ItemName:  truncate(name, 100),
			ItemPrice: l.Price,
			ItemCount: l.Quantity,
		})
	}
	return items
}

// joinName joins family and given name with an ideographic space, as Japanese forms print
// a full name.
func joinName(family, given string) string {
	family, given = strings.TrimSpace(family), strings.TrimSpace(given)
	switch {
	case family == "":
		return given
	case given == "":
		return family
	}
	return family + "\u3000" + given
}

// hiragana turns katakana (full- or half-width) into hiragana: atone asks for ひらがな, and
// Welcart stores フリガナ as the buyer typed it.
func hiragana(s string) string {
	s = width.Widen.String(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		if r >= 'ァ' && r <= 'ヶ' {
			return r - 0x60
		}
		return r
	}, s)
}

// zip writes a postal code as NNN-NNNN when it has seven digits, whatever the buyer typed
// (full-width digits, 〒, other dashes); anything else is sent as typed for atone to judge.
func zip(s string) string {
	d := wire.NormalizePhone(s) // digits only, half-width
	if len(d) == 7 {
		return d[:3] + "-" + d[3:]
	}
	return strings.TrimSpace(s)
}

// address joins Welcart's address parts; the building name is set apart by a space.
func address(c plugins.Customer) string {
	a := strings.TrimSpace(c.Pref) + strings.TrimSpace(c.Address1) + strings.TrimSpace(c.Address2)
	if b := strings.TrimSpace(c.Address3); b != "" {
		if a != "" {
			a += "\u3000"
		}
		a += b
	}
	return a
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
