// Package order owns the shop's orders in Welcart's shape: numbered from 1000, the buyer and
// delivery address, the cart, the totals and the order status tokens. Orders and their
// settlements are separate: an order's status never changes a settlement's, nor the reverse.
package order

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Order is one row of the orders table, with Welcart's column names.
type Order struct {
	ID             int64  `gorm:"primaryKey"`
	ShopID         int64  `gorm:"column:shop_id"`
	Number         string `gorm:"column:order_number"`
	MemberID       int64  `gorm:"column:mem_id"`
	Email          string `gorm:"column:order_email"`
	Name1          string `gorm:"column:order_name1"`
	Name2          string `gorm:"column:order_name2"`
	Name3          string `gorm:"column:order_name3"`
	Name4          string `gorm:"column:order_name4"`
	Zip            string `gorm:"column:order_zip"`
	Pref           string `gorm:"column:order_pref"`
	Address1       string `gorm:"column:order_address1"`
	Address2       string `gorm:"column:order_address2"`
	Address3       string `gorm:"column:order_address3"`
	Tel            string `gorm:"column:order_tel"`
	Fax            string `gorm:"column:order_fax"`
	DeliveryJSON   string `gorm:"column:order_delivery"`
	CartJSON       string `gorm:"column:order_cart"`
	Note           string `gorm:"column:order_note"`
	PaymentName    string `gorm:"column:order_payment_name"`
	ItemTotal      int64  `gorm:"column:order_item_total_price"`
	GetPoint       int64  `gorm:"column:order_getpoint"`
	UsedPoint      int64  `gorm:"column:order_usedpoint"`
	Discount       int64  `gorm:"column:order_discount"`
	ShippingCharge int64  `gorm:"column:order_shipping_charge"`
	CODFee         int64  `gorm:"column:order_cod_fee"`
	Tax            int64  `gorm:"column:order_tax"`
	Total          int64  `gorm:"column:order_total_full_price"`
	// Status is Welcart's comma-terminated token list ("cancel,", "completion,receipted,").
	Status         string     `gorm:"column:order_status"`
	DeliveryMethod string     `gorm:"column:order_delivery_method"`
	Date           time.Time  `gorm:"column:order_date"`
	Modified       *time.Time `gorm:"column:order_modified"`
	// WelcartOrderID and WelcartTransID are the order's ID and link key (trans_id) in the
	// shop's Welcart, when a Welcart bridge sent them: each unique in the shop, so that the
	// Welcart façade finds the order by the ids Welcart's own screens post.
	WelcartOrderID *int64  `gorm:"column:welcart_order_id"`
	WelcartTransID *string `gorm:"column:welcart_trans_id"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// TableName is the orders table.
func (Order) TableName() string { return "orders" }

// DecoID is the 注文番号 as Welcart shows it: the shop's order number, or the id zero-padded to
// seven digits when the shop sent none.
func (o Order) DecoID() string {
	if o.Number != "" {
		return o.Number
	}
	return fmt.Sprintf("%07d", o.ID)
}

// Address is the customer or delivery person and address (Welcart's name1..4, zipcode, pref,
// address1..3, tel, fax).
type Address struct {
	Name1    string `json:"name1"`
	Name2    string `json:"name2"`
	Name3    string `json:"name3,omitempty"`
	Name4    string `json:"name4,omitempty"`
	Zipcode  string `json:"zipcode"`
	Pref     string `json:"pref"`
	Address1 string `json:"address1"`
	Address2 string `json:"address2"`
	Address3 string `json:"address3"`
	Tel      string `json:"tel"`
	Fax      string `json:"fax,omitempty"`
	Country  string `json:"country,omitempty"`
}

// Line is one cart line, Welcart's cart entry.
type Line struct {
	SKU      string            `json:"sku"`
	ItemName string            `json:"item_name"`
	Price    int64             `json:"price"`
	Quantity int64             `json:"quantity"`
	Options  map[string]string `json:"options,omitempty"`
	PostID   int64             `json:"post_id,omitempty"`
	// Continuation makes the line a 継続課金 item (frequency months, chargingday 1–28 or 99 for
	// the order day, interval = contract months).
	Continuation *Continuation `json:"continuation,omitempty"`
}

// Continuation is a continuation item's schedule, as WCEX DL Seller configures it.
type Continuation struct {
	Frequency   int `json:"frequency"`
	ChargingDay int `json:"chargingday"`
	Interval    int `json:"interval"`
}

// Cart decodes the stored cart.
func (o Order) Cart() []Line {
	var l []Line
	_ = json.Unmarshal([]byte(o.CartJSON), &l)
	return l
}

// Delivery decodes the stored delivery address; nil when none was given.
func (o Order) Delivery() *Address {
	if o.DeliveryJSON == "" || o.DeliveryJSON == "null" {
		return nil
	}
	var a Address
	if json.Unmarshal([]byte(o.DeliveryJSON), &a) != nil {
		return nil
	}
	return &a
}

// Customer returns the buyer as an Address.
func (o Order) Customer() Address {
	return Address{Name1: o.Name1, Name2: o.Name2, Name3: o.Name3, Name4: o.Name4, Zipcode: o.Zip, Pref: o.Pref,
		Address1: o.Address1, Address2: o.Address2, Address3: o.Address3, Tel: o.Tel, Fax: o.Fax}
}

// Status tokens (Welcart's usces_management_status).
const (
	StatusCancel     = "cancel"     // キャンセル
	StatusCompletion = "completion" // 発送済み
	StatusDuring     = "duringorder"
	StatusNoReceipt  = "noreceipt" // 未入金
	StatusReceipted  = "receipted" // 入金済み
	StatusPending    = "pending"   // 保留
)

var processLabels = map[string]string{StatusCancel: "キャンセル", StatusCompletion: "発送済み", StatusDuring: "取り寄せ中"}

// Has reports whether the status token list holds tok.
func (o Order) Has(tok string) bool {
	for _, t := range strings.Split(o.Status, ",") {
		if t == tok {
			return true
		}
	}
	return false
}

// Cancelled reports キャンセル.
func (o Order) Cancelled() bool { return o.Has(StatusCancel) }

// ProcessLabel is the 対応状況 column: 新規受付 unless a process token is set.
func (o Order) ProcessLabel() string {
	for _, t := range strings.Split(o.Status, ",") {
		if l, ok := processLabels[t]; ok {
			return l
		}
	}
	return "新規受付"
}

// ProcessTokens are the 対応状況 choices an admin may set (empty = 新規受付).
var ProcessTokens = []string{"", StatusDuring, StatusCompletion, StatusCancel}

// WithProcess returns the status list with the 対応状況 token replaced by tok ("" = 新規受付),
// keeping the other groups' tokens (入金状況 and so on).
func WithProcess(status, tok string) string {
	var keep []string
	for _, t := range strings.Split(status, ",") {
		if t == "" {
			continue
		}
		if _, isProcess := processLabels[t]; isProcess {
			continue
		}
		keep = append(keep, t)
	}
	if tok != "" {
		keep = append([]string{tok}, keep...)
	}
	if len(keep) == 0 {
		return ""
	}
	return strings.Join(keep, ",") + ","
}
