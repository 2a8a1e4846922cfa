// Package wire is atone v1's wire format, shared by the adapter and the sandbox: the payment
// object a shop sends, the transaction object atone answers with, atone's error body and error
// table, the widget checksum, and the validation atone applies to a payment before it is sent.
//
// Field names follow atone's JSON exactly. Where the public record of atone is thin, a comment
// marks the behaviour as inferred ([I]); everything else is backed by atone's SDKs, its error
// tables or production integrations.
package wire

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/kessai/kessai/plugins/jst"
)

// Payment is the payment object of Atone.config({payment}) and of POST /v1/transactions.
//
// The server-only fields (AuthenticationToken, UpdatedTransactions, RelatedTransaction) are
// omitted when empty so the same type serves the widget, whose checksum must not see them.
type Payment struct {
	Amount             int64            `json:"amount"`
	ShopTransactionNo  string           `json:"shop_transaction_no"`
	SalesSettled       *bool            `json:"sales_settled,omitempty"`
	DescriptionTrans   string           `json:"description_trans,omitempty"`
	Checksum           string           `json:"checksum,omitempty"`
	UserNo             string           `json:"user_no,omitempty"`
	TransactionOptions []int            `json:"transaction_options,omitempty"`
	Customer           Customer         `json:"customer"`
	DestCustomers      []DestCustomer   `json:"dest_customers,omitempty"`
	Items              []Item           `json:"items"`
	ServiceSupplier    *ServiceSupplier `json:"service_supplier,omitempty"`

	// Server create only.
	AuthenticationToken string   `json:"authentication_token,omitempty"`
	UpdatedTransactions []string `json:"updated_transactions,omitempty"`
	RelatedTransaction  string   `json:"related_transaction,omitempty"`
}

// Customer is the buyer (購入者). Object and UserNo appear only in atone's answers.
type Customer struct {
	Object                 string `json:"object,omitempty"`
	UserNo                 string `json:"user_no,omitempty"`
	CustomerName           string `json:"customer_name"`
	CustomerFamilyName     string `json:"customer_family_name,omitempty"`
	CustomerGivenName      string `json:"customer_given_name,omitempty"`
	CustomerNameKana       string `json:"customer_name_kana,omitempty"`
	CustomerFamilyNameKana string `json:"customer_family_name_kana,omitempty"`
	CustomerGivenNameKana  string `json:"customer_given_name_kana,omitempty"`
	PhoneNumber            string `json:"phone_number,omitempty"`
	Birthday               string `json:"birthday,omitempty"`
	SexDivision            string `json:"sex_division,omitempty"`
	CompanyName            string `json:"company_name,omitempty"`
	Department             string `json:"department,omitempty"`
	ZipCode                string `json:"zip_code,omitempty"`
	Address                string `json:"address,omitempty"`
	Tel                    string `json:"tel,omitempty"`
	Email                  string `json:"email,omitempty"`
	TotalPurchaseCount     *int64 `json:"total_purchase_count,omitempty"`
	TotalPurchaseAmount    *int64 `json:"total_purchase_amount,omitempty"`

	// Risk-scoring hints of the newer SDKs.
	ShopCustomerID          string     `json:"shop_customer_id,omitempty"`
	MembershipPeriod        *int64     `json:"membership_period,omitempty"`
	IdentificationStatus    []int      `json:"identification_status,omitempty"`
	PastMerchandiseCategory [][]string `json:"past_merchandise_category,omitempty"`
	PastBrandName           []string   `json:"past_brand_name,omitempty"`
	PastPaymentWay          []int      `json:"past_payment_way,omitempty"`
	TerminalID              string     `json:"terminal_id,omitempty"`
}

// DestCustomer is a service destination (サービス提供先, usually the shipping address).
type DestCustomer struct {
	Object               string `json:"object,omitempty"`
	DestCustomerName     string `json:"dest_customer_name"`
	DestCustomerNameKana string `json:"dest_customer_name_kana,omitempty"`
	DestCompanyName      string `json:"dest_company_name,omitempty"`
	DestDepartment       string `json:"dest_department,omitempty"`
	DestZipCode          string `json:"dest_zip_code"`
	DestAddress          string `json:"dest_address"`
	DestTel              string `json:"dest_tel,omitempty"`
	DestEmail            string `json:"dest_email,omitempty"`
}

// Item is one line of the order. ItemPrice may be negative: production integrations send
// discounts and used points as negative lines.
type Item struct {
	Object              string   `json:"object,omitempty"`
	ShopItemID          string   `json:"shop_item_id"`
	ItemName            string   `json:"item_name"`
	ItemPrice           int64    `json:"item_price"`
	ItemCount           int64    `json:"item_count"`
	ItemURL             string   `json:"item_url,omitempty"`
	BrandName           string   `json:"brand_name,omitempty"`
	MerchandiseCategory []string `json:"merchandise_category,omitempty"`
}

// ServiceSupplier describes a marketplace seller (2020 SDKs).
type ServiceSupplier struct {
	ShopCustomerID          string     `json:"shop_customer_id,omitempty"`
	MembershipPeriod        *int64     `json:"membership_period,omitempty"`
	IdentificationStatus    []int      `json:"identification_status,omitempty"`
	TotalSalesCount         *int64     `json:"total_sales_count,omitempty"`
	TotalSalesAmount        *int64     `json:"total_sales_amount,omitempty"`
	PastMerchandiseCategory [][]string `json:"past_merchandise_category,omitempty"`
}

// ItemTotal is Σ item_price × item_count, which atone requires to equal Amount (EATN1102).
func (p *Payment) ItemTotal() int64 {
	var sum int64
	for _, it := range p.Items {
		sum += it.ItemPrice * it.ItemCount
	}
	return sum
}

// Transaction options (transaction_options). Each needs its own contract with atone.
const (
	OptionRecurring    = 1 // 定期登録: later charges through the API with the buyer's token
	OptionAmountUpdate = 2 // 金額更新
	OptionProvisional  = 3 // 仮登録: promoted to 本登録 by a modification without option 3
)

// Authorization results and NG reasons.
const (
	AuthorizationOK = 1
	AuthorizationNG = 2

	NGReasonAmountExceeded = 1 // 金額超過: above the buyer's limit
	NGReasonOther          = 9 // その他
)

// Transaction is atone's transaction object, the answer to create, reference, settle and
// refund, and the body of the payment webhook.
//
// Nullable fields are pointers or nil slices so that null and absent survive a round trip:
// clients read "sales_settled_datetime is null" as "not settled". Every field atone documents
// is answered, an empty text as "" (description_trans, shop_name, a refund's refund_reason and
// description_refund), as atone answers them.
type Transaction struct {
	ID                          string         `json:"id"`
	Object                      string         `json:"object"`
	Livemode                    bool           `json:"livemode"`
	AuthenticationToken         string         `json:"authentication_token"`
	ShopTransactionNo           string         `json:"shop_transaction_no"`
	Amount                      int64          `json:"amount"`
	AuthorizationResult         int            `json:"authorization_result"`
	AuthorizationResultNGReason *int           `json:"authorization_result_ng_reason"`
	AmountRefundTotal           int64          `json:"amount_refund_total"`
	DiscountAmount              int64          `json:"discount_amount"`
	SubtractPoint               int64          `json:"subtract_point"`
	RegistrationDatetime        string         `json:"registration_datetime"`
	SalesSettledDatetime        *string        `json:"sales_settled_datetime"`
	TransactionOptions          []int          `json:"transaction_options"`
	RelatedTransaction          *string        `json:"related_transaction"`
	UpdatedTransactions         []string       `json:"updated_transactions"`
	DescriptionTrans            string         `json:"description_trans"`
	ShopName                    string         `json:"shop_name"`
	Customer                    *Customer      `json:"customer"`
	DestCustomers               []DestCustomer `json:"dest_customers"`
	Items                       []Item         `json:"items"`
	Refunds                     []Refund       `json:"refunds"`
}

// ObjectTransaction and friends are the values of the "object" field [I: the value is not
// published; these follow the Stripe-like style of the field].
const (
	ObjectTransaction  = "transaction"
	ObjectCustomer     = "customer"
	ObjectDestCustomer = "dest_customer"
	ObjectItem         = "item"
	ObjectRefund       = "refund"
)

// Settled reports whether the transaction is settled (売上確定).
func (t *Transaction) Settled() bool { return t.SalesSettledDatetime != nil }

// Cancelled reports whether the whole amount was refunded, which is how atone shows a
// cancelled (取消済み) transaction.
func (t *Transaction) Cancelled() bool {
	return len(t.Refunds) > 0 && t.AmountRefundTotal >= t.Amount
}

// Refund is one entry of Transaction.Refunds.
type Refund struct {
	Object            string `json:"object"`
	AmountRefund      int64  `json:"amount_refund"`
	RefundDatetime    string `json:"refund_datetime"`
	RefundReason      string `json:"refund_reason"`
	DescriptionRefund string `json:"description_refund"`
}

// RefundRequest is the body of PATCH /v1/transactions/{id}/refund. A nil AmountRefund
// refunds everything left, which is atone's cancel (取消).
type RefundRequest struct {
	ID                string `json:"id,omitempty"`
	AmountRefund      *int64 `json:"amount_refund,omitempty"`
	RefundReason      string `json:"refund_reason,omitempty"`
	DescriptionRefund string `json:"description_refund,omitempty"`
}

// WidgetResult is the argument of the widget's succeeded and failed callbacks.
type WidgetResult struct {
	ID                          string `json:"id"`
	AuthorizationResult         int    `json:"authorization_result"`
	AuthorizationResultNGReason *int   `json:"authorization_result_ng_reason,omitempty"`
	SubtractPoint               int64  `json:"subtract_point"`
}

// DatetimeLayout is the layout of registration_datetime and its siblings, in Japan time
// [I: AFTEE shows "2020/07/06 15:07"; seconds are not shown there].
const DatetimeLayout = "2006/01/02 15:04"

// FormatDatetime renders t as atone does.
func FormatDatetime(t time.Time) string { return t.In(jst.Tokyo).Format(DatetimeLayout) }

// ParseDatetime reads a datetime written by atone.
func ParseDatetime(s string) (time.Time, error) {
	return time.ParseInLocation(DatetimeLayout, strings.TrimSpace(s), jst.Tokyo)
}

// rawObject turns any JSON-encodable value into its decoded form, with numbers kept as
// json.Number so that 12460 stays "12460" rather than 1.246e+04.
func rawObject(v any) (any, error) {
	var b []byte
	switch t := v.(type) {
	case []byte:
		b = t
	case json.RawMessage:
		b = t
	case string:
		b = []byte(t)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailingData
	}
	return out, nil
}
