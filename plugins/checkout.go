package plugins

import (
	"encoding/json"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// Order is the provider-neutral order the host sends to an adapter: what the shop sold, to
// whom, for how much. Amounts are integer yen.
type Order struct {
	// ID is the host's order id.
	ID int64

	// Number is the shop's order number, shown to the buyer.
	Number string

	// Attempt identifies this payment attempt and is unique per attempt (a retry after a
	// decline gets a new one). Adapters send it as the provider's merchant reference
	// (atone's shop_transaction_no) so that a transaction can be found by Reference even when
	// its provider id was lost.
	Attempt string

	// Amount is the total to charge, in yen; it equals the sum of Lines' Price × Quantity.
	Amount int64

	Customer Customer

	// Delivery is the shipping address when it differs from the customer's; nil otherwise.
	Delivery *Customer

	Lines []Line

	// Recurring is set on the first order of a continuation (継続課金): the adapter asks the
	// provider for a reusable token and returns it as TransactionResult.AuthToken.
	Recurring bool

	// MemberID is the shop's member id, empty for guests.
	MemberID string

	// Properties carry provider-specific extras the shop passed through; adapters ignore
	// keys they do not know.
	Properties map[string]string
}

// Customer is a person and address, split the way Welcart stores it (order_name1..4,
// order_zip, order_pref, order_address1..3).
type Customer struct {
	FamilyName string // 姓 (Welcart name1)
	GivenName  string // 名 (Welcart name2)
	FamilyKana string // セイ (Welcart name3)
	GivenKana  string // メイ (Welcart name4)
	Zip        string // 郵便番号, as entered ("100-0001")
	Pref       string // 都道府県 ("東京都")
	Address1   string // 市区郡町村
	Address2   string // 番地
	Address3   string // ビル名
	Tel        string
	Email      string
}

// LineKind says what an order line is, so adapters can map it to the provider's item types.
type LineKind string

// Line kinds.
const (
	LineItem     LineKind = "item"     // a product
	LineDiscount LineKind = "discount" // a discount, with a negative Price
	LinePoint    LineKind = "point"    // points used, with a negative Price
	LineShipping LineKind = "shipping" // 送料
	LineFee      LineKind = "fee"      // 決済手数料 and other charges
	LineTax      LineKind = "tax"      // tax shown separately (外税)
)

// Line is one line of the cart.
type Line struct {
	Kind LineKind
	SKU  string
	Name string

	// Price is the unit price in yen; negative for discounts and points.
	Price int64

	Quantity int64
}

// CheckoutRequest asks the adapter for what the shop's checkout page needs to run the
// provider's widget.
type CheckoutRequest struct {
	Order Order

	// AuthToken is the member's token from an earlier authentication (atone's
	// authentication_token), letting the widget skip the login; empty if none.
	AuthToken string
}

// CheckoutResult is the widget configuration the shop page uses. Outcome Processed means the
// widget can be shown; Declined means the order cannot be paid this way (Code and Messages
// say why).
type CheckoutResult struct {
	Result
	Widget Widget
}

// Widget is the provider widget's configuration, passed to the shop page unchanged.
type Widget struct {
	// ScriptURL is the provider's script to load (atone.js).
	ScriptURL string

	// PublicKey is the shop's public key for the widget (atone's pub_key).
	PublicKey string

	// PreToken lets the widget skip the buyer's login (atone's pre_token).
	PreToken string

	// Payment is the provider's payment object, already signed (atone: with checksum).
	Payment json.RawMessage
}

// ConfirmRequest hands the adapter what the widget returned on the shop page. The host never
// trusts that payload: the adapter must verify it with the provider and check it against
// Order (amount, Attempt) before answering Processed.
type ConfirmRequest struct {
	// Payload is the widget's result as the shop page posted it.
	Payload json.RawMessage

	// Order is the order the payment must match.
	Order Order
}

func toProtoOrder(o Order) *pb.Order {
	p := &pb.Order{
		Id:         o.ID,
		Number:     o.Number,
		Attempt:    o.Attempt,
		Amount:     o.Amount,
		Customer:   toProtoCustomer(o.Customer),
		Recurring:  o.Recurring,
		MemberId:   o.MemberID,
		Properties: o.Properties,
	}
	if o.Delivery != nil {
		p.Delivery = toProtoCustomer(*o.Delivery)
	}
	for _, l := range o.Lines {
		p.Lines = append(p.Lines, &pb.Line{
			Kind:     string(l.Kind),
			Sku:      l.SKU,
			Name:     l.Name,
			Price:    l.Price,
			Quantity: l.Quantity,
		})
	}
	return p
}

func fromProtoOrder(p *pb.Order) Order {
	o := Order{
		ID:         p.GetId(),
		Number:     p.GetNumber(),
		Attempt:    p.GetAttempt(),
		Amount:     p.GetAmount(),
		Customer:   fromProtoCustomer(p.GetCustomer()),
		Recurring:  p.GetRecurring(),
		MemberID:   p.GetMemberId(),
		Properties: p.GetProperties(),
	}
	if p.GetDelivery() != nil {
		d := fromProtoCustomer(p.GetDelivery())
		o.Delivery = &d
	}
	for _, l := range p.GetLines() {
		o.Lines = append(o.Lines, Line{
			Kind:     LineKind(l.GetKind()),
			SKU:      l.GetSku(),
			Name:     l.GetName(),
			Price:    l.GetPrice(),
			Quantity: l.GetQuantity(),
		})
	}
	return o
}

func toProtoCustomer(c Customer) *pb.Customer {
	return &pb.Customer{
		FamilyName: c.FamilyName,
		GivenName:  c.GivenName,
		FamilyKana: c.FamilyKana,
		GivenKana:  c.GivenKana,
		Zip:        c.Zip,
		Pref:       c.Pref,
		Address1:   c.Address1,
		Address2:   c.Address2,
		Address3:   c.Address3,
		Tel:        c.Tel,
		Email:      c.Email,
	}
}

func fromProtoCustomer(p *pb.Customer) Customer {
	return Customer{
		FamilyName: p.GetFamilyName(),
		GivenName:  p.GetGivenName(),
		FamilyKana: p.GetFamilyKana(),
		GivenKana:  p.GetGivenKana(),
		Zip:        p.GetZip(),
		Pref:       p.GetPref(),
		Address1:   p.GetAddress1(),
		Address2:   p.GetAddress2(),
		Address3:   p.GetAddress3(),
		Tel:        p.GetTel(),
		Email:      p.GetEmail(),
	}
}

func toProtoCheckoutRequest(r CheckoutRequest) *pb.CheckoutRequest {
	return &pb.CheckoutRequest{Order: toProtoOrder(r.Order), AuthToken: r.AuthToken}
}

func fromProtoCheckoutRequest(p *pb.CheckoutRequest) CheckoutRequest {
	return CheckoutRequest{Order: fromProtoOrder(p.GetOrder()), AuthToken: p.GetAuthToken()}
}

func toProtoCheckoutResult(r CheckoutResult) *pb.CheckoutResult {
	return &pb.CheckoutResult{
		Result: toProtoResult(r.Result),
		Widget: &pb.Widget{
			ScriptUrl: r.Widget.ScriptURL,
			PublicKey: r.Widget.PublicKey,
			PreToken:  r.Widget.PreToken,
			Payment:   r.Widget.Payment,
		},
	}
}

func fromProtoCheckoutResult(p *pb.CheckoutResult) CheckoutResult {
	w := p.GetWidget()
	return CheckoutResult{
		Result: fromProtoResult(p.GetResult()),
		Widget: Widget{
			ScriptURL: w.GetScriptUrl(),
			PublicKey: w.GetPublicKey(),
			PreToken:  w.GetPreToken(),
			Payment:   rawJSON(w.GetPayment()),
		},
	}
}

func toProtoConfirmRequest(r ConfirmRequest) *pb.ConfirmRequest {
	return &pb.ConfirmRequest{Payload: r.Payload, Order: toProtoOrder(r.Order)}
}

func fromProtoConfirmRequest(p *pb.ConfirmRequest) ConfirmRequest {
	return ConfirmRequest{Payload: rawJSON(p.GetPayload()), Order: fromProtoOrder(p.GetOrder())}
}
