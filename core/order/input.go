package order

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kessai/kessai/core/fault"
)

// Input is an order as a shop front end posts it: Welcart's own cart entry, so a Welcart
// bridge can pass its data through unchanged.
type Input struct {
	OrderNumber string `json:"order_number"`
	// WelcartOrderID and WelcartTransID are the order's ID and link key in the shop's Welcart
	// (optional; each unique in the shop).
	WelcartOrderID *int64        `json:"welcart_order_id"`
	WelcartTransID string        `json:"welcart_trans_id"`
	MemberID       int64         `json:"member_id"`
	Customer       CustomerInput `json:"customer"`
	Delivery       *Address      `json:"delivery"`
	Cart           []Line        `json:"cart"`
	Order          Totals        `json:"order"`
}

// CustomerInput is the buyer: an Address plus Welcart's mailaddress1.
type CustomerInput struct {
	Email string `json:"mailaddress1"`
	Address
}

// Totals are Welcart's order money fields. Discount is zero or negative, as Welcart stores it.
type Totals struct {
	TotalItemsPrice int64  `json:"total_items_price"`
	Discount        int64  `json:"discount"`
	ShippingCharge  int64  `json:"shipping_charge"`
	CODFee          int64  `json:"cod_fee"`
	Tax             int64  `json:"tax"`
	UsedPoint       int64  `json:"usedpoint"`
	GetPoint        int64  `json:"getpoint"`
	TotalFullPrice  int64  `json:"total_full_price"`
	PaymentName     string `json:"payment_name"`
	Note            string `json:"note"`
	DeliveryMethod  string `json:"delivery_method"`
}

// FieldError is one refusal: the JSON path of the field, a stable code, and a message.
type FieldError = fault.Field

// ValidationError holds every refusal of one request, first one first: invalid input, which
// every interface answers with all of its fields.
type ValidationError = fault.Fields

// Validate checks the order's own rules: every stored field against its column (Limits, in
// that order), every amount and quantity within its bounds (Amounts), and that the totals add
// up the way Welcart adds them:
//
//	total_items_price = Σ price × quantity
//	total_full_price  = total_items_price − usedpoint + discount + shipping_charge + cod_fee + tax
//
// The sums are only taken of bounded numbers, so none of them can overflow.
func (in *Input) Validate() error {
	var errs ValidationError
	add := func(field, code, msg string, args ...any) {
		errs = append(errs, FieldError{Field: field, Code: code, Message: fmt.Sprintf(msg, args...)})
	}
	in.OrderNumber = strings.TrimSpace(in.OrderNumber)
	for _, l := range limits {
		l.check(in, add)
	}
	in.WelcartTransID = strings.TrimSpace(in.WelcartTransID)
	if in.MemberID < 0 {
		add("member_id", "invalid", "会員Noが不正です。")
	}
	if in.WelcartOrderID != nil && *in.WelcartOrderID < 1 {
		add("welcart_order_id", "invalid", "Welcartの受注IDは1以上の整数で指定してください。")
	}
	var sum int64
	linesOK := len(in.Cart) <= maxLines // cartRule refused the rest
	for i, l := range in.Cart {
		f := linePath(i)
		if l.Price < 0 || l.Price > MaxAmount {
			add(f+".price", "out_of_range", "単価は0円以上%s円以下で指定してください。", itoa(MaxAmount))
			linesOK = false
		}
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			add(f+".quantity", "out_of_range", "数量は1以上%s以下で指定してください。", itoa(MaxQuantity))
			linesOK = false
		}
		if ct := l.Continuation; ct != nil {
			if ct.Frequency != 1 && ct.Frequency != 6 && ct.Frequency != 12 {
				add(f+".continuation.frequency", "invalid", "課金間隔は1（毎月）、6（半年毎）、12（毎年）のいずれかです。")
			}
			if !(ct.ChargingDay >= 1 && ct.ChargingDay <= 28) && ct.ChargingDay != 99 {
				add(f+".continuation.chargingday", "invalid", "課金日は1〜28、または99（受注日）で指定してください。")
			}
			if ct.Interval < 0 || ct.Interval > 120 {
				add(f+".continuation.interval", "invalid", "契約期間（月数）は0〜120で指定してください。")
			}
			if in.MemberID == 0 {
				add("member_id", "member_required", "継続課金商品は会員のみ購入できます。")
			}
		}
		if linesOK {
			sum += l.Price * l.Quantity // ≤ MaxAmount × MaxQuantity × maxLines in all
		}
	}
	amountsOK := true
	for _, a := range amounts {
		if v := a.get(in.Order); v < a.Min || v > a.Max {
			add(a.Field, "out_of_range", "%sは%s以上%s以下で指定してください%s。", a.Label, a.unit(a.Min), a.unit(a.Max), a.note)
			amountsOK = false
		}
	}
	if !amountsOK || !linesOK {
		return result(errs)
	}
	t := in.Order
	if len(in.Cart) > 0 && t.TotalItemsPrice != sum {
		add("order.total_items_price", "mismatch", "商品合計が明細と一致しません（明細の合計は%s円）。", itoa(sum))
	}
	gross := t.TotalItemsPrice + t.ShippingCharge + t.CODFee + t.Tax
	switch {
	case t.UsedPoint > gross:
		add("order.usedpoint", "exceeds_total", "使用ポイント（%s）が支払う金額（%s円）を超えています。", itoa(t.UsedPoint), itoa(gross))
	case -t.Discount > gross-t.UsedPoint:
		add("order.discount", "exceeds_total", "値引き（%s円）が値引き前の金額（%s円）を超えています。", itoa(-t.Discount), itoa(gross-t.UsedPoint))
	}
	want := gross - t.UsedPoint + t.Discount
	if t.TotalFullPrice != want {
		add("order.total_full_price", "mismatch", "総合計金額が一致しません（商品合計 − 使用ポイント + 値引き + 送料 + 手数料 + 消費税 = %s円）。", itoa(want))
	}
	return result(errs)
}

func result(errs ValidationError) error {
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// cartRule refuses an empty cart and one of more than maxLines lines.
func cartRule(in *Input, add addFunc) {
	if len(in.Cart) == 0 {
		add("cart", "required", "カートが空です。")
	}
	if len(in.Cart) > maxLines {
		add("cart", "too_many", "カートの明細は%d行までです。", maxLines)
	}
}

// Row builds the orders row for a validated input.
func (in Input) Row(shopID int64) Order {
	c := in.Customer
	o := Order{
		ShopID: shopID, Number: in.OrderNumber, MemberID: in.MemberID, Email: strings.TrimSpace(c.Email),
		Name1: c.Name1, Name2: c.Name2, Name3: c.Name3, Name4: c.Name4, Zip: c.Zipcode, Pref: c.Pref,
		Address1: c.Address1, Address2: c.Address2, Address3: c.Address3, Tel: c.Tel, Fax: c.Fax,
		Note: in.Order.Note, PaymentName: strings.TrimSpace(in.Order.PaymentName),
		ItemTotal: in.Order.TotalItemsPrice, GetPoint: in.Order.GetPoint, UsedPoint: in.Order.UsedPoint,
		Discount: in.Order.Discount, ShippingCharge: in.Order.ShippingCharge, CODFee: in.Order.CODFee,
		Tax: in.Order.Tax, Total: in.Order.TotalFullPrice, DeliveryMethod: in.Order.DeliveryMethod,
	}
	o.WelcartOrderID = in.WelcartOrderID
	if in.WelcartTransID != "" {
		o.WelcartTransID = &in.WelcartTransID
	}
	cart, _ := json.Marshal(in.Cart)
	o.CartJSON = string(cart)
	if in.Delivery != nil {
		d, _ := json.Marshal(in.Delivery)
		o.DeliveryJSON = string(d)
	}
	return o
}

// Recurring reports whether any cart line is a continuation item.
func (o Order) Recurring() bool {
	for _, l := range o.Cart() {
		if l.Continuation != nil {
			return true
		}
	}
	return false
}
