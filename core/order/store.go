package order

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
)

// Errors callers branch on.
var (
	ErrNotFound  = fault.Sentinel("order: no such order", fault.NotFound, "not_found", msgNotFound)
	ErrDuplicate = fault.Sentinel("order: the shop already has an order with this number",
		fault.Conflict, "duplicate_order_number", "この注文番号の受注はすでに登録されています。").WithField("order_number")
)

// msgNotFound is the answer for an order that does not exist or is another shop's: the same
// words for both, so a shop learns nothing of another's orders.
const msgNotFound = "受注が見つかりません。"

// DuplicateError refuses an order whose Welcart order ID or link key another order of the
// shop holds already: the façade could not tell them apart.
type DuplicateError struct {
	Field   string // welcart_order_id or welcart_trans_id
	Message string
}

func (e *DuplicateError) Error() string { return "order: " + e.Field + ": " + e.Message }

// Fault implements fault.Describer: a conflict with the other order, coded by the key it
// holds (duplicate_welcart_order_id, duplicate_welcart_trans_id).
func (e *DuplicateError) Fault() fault.Detail {
	return fault.Detail{Kind: fault.Conflict, Code: "duplicate_" + e.Field, Message: e.Message, Field: e.Field}
}

var (
	errWelcartOrderTaken = &DuplicateError{Field: "welcart_order_id", Message: "このWelcartの受注IDの受注はすでに登録されています。"}
	errWelcartTransTaken = &DuplicateError{Field: "welcart_trans_id", Message: "このWelcartのリンクキーの受注はすでに登録されています。"}
)

// Orders is the order repository.
type Orders struct{ db *gorm.DB }

// New returns the repository.
func New(db *gorm.DB) *Orders { return &Orders{db: db} }

// Create inserts a validated order in tx. The order date is now. An order number, Welcart
// order ID or link key the shop's other order holds is ErrDuplicate or a *DuplicateError.
func Create(ctx context.Context, tx *gorm.DB, o *Order) error {
	now := tx.NowFunc()
	o.ID, o.Date = 0, now
	err := tx.WithContext(ctx).Create(o).Error
	if store.IsDuplicate(err) {
		// Another order came first; say which of its keys it took.
		if terr := taken(ctx, tx, o); terr != nil {
			return terr
		}
		return ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("create order %s: %w", o.Number, err)
	}
	return nil
}

// Get returns one of a shop's orders; another shop's order is ErrNotFound. shopID 0 means
// any shop (the admin console).
func (r *Orders) Get(ctx context.Context, shopID, id int64) (*Order, error) {
	return Get(ctx, r.db, shopID, id)
}

// Get is Orders.Get inside a transaction.
func Get(ctx context.Context, db *gorm.DB, shopID, id int64) (*Order, error) {
	var o Order
	q := db.WithContext(ctx).Where("id = ?", id)
	if shopID != 0 {
		q = q.Where("shop_id = ?", shopID)
	}
	err := q.First(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("order %d: %w", id, err)
	}
	return &o, nil
}

// Filter narrows a listing. Zero values do not filter.
type Filter struct {
	ShopID      int64
	Number      string
	Name        string // matches 姓 or 名 or カナ
	Email       string
	PaymentName string
	Process     string // 対応状況 token; "new" for 新規受付
	From, To    time.Time
	MemberID    int64
	// IDsIn, when set, is a subquery of order ids the list keeps: another package's answer
	// (the orders whose settlement is in a status) without order reading its tables.
	IDsIn  *gorm.DB
	Limit  int
	Offset int
}

// List returns orders newest first and the total that match. An offset past the last order
// answers none, with the total.
func (r *Orders) List(ctx context.Context, f Filter) ([]Order, int64, error) {
	q := r.db.WithContext(ctx).Model(&Order{})
	if f.ShopID != 0 {
		q = q.Where("shop_id = ?", f.ShopID)
	}
	if f.Number != "" {
		q = q.Where("order_number = ?", f.Number)
	}
	if f.Name != "" {
		q = q.Where(clause.Or(store.Contains("order_name1", f.Name), store.Contains("order_name2", f.Name),
			store.Contains("order_name3", f.Name), store.Contains("order_name4", f.Name)))
	}
	if f.Email != "" {
		q = q.Where("order_email = ?", f.Email)
	}
	if f.PaymentName != "" {
		q = q.Where("order_payment_name = ?", f.PaymentName)
	}
	if f.MemberID != 0 {
		q = q.Where("mem_id = ?", f.MemberID)
	}
	if f.IDsIn != nil {
		q = q.Where("id IN (?)", f.IDsIn)
	}
	switch f.Process {
	case "":
	case "new":
		for tok := range processLabels {
			q = q.Where(clause.Not(store.Contains("order_status", tok+",")))
		}
	default:
		q = q.Where(store.Contains("order_status", f.Process+","))
	}
	if !f.From.IsZero() {
		q = q.Where("order_date >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("order_date < ?", f.To.UTC())
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("list orders: %w", err)
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	if int64(f.Offset) >= total {
		// A page past the last is empty; MySQL is not asked to skip rows that are not there.
		return []Order{}, total, nil
	}
	var out []Order
	if err := q.Order("id DESC").Limit(limit).Offset(f.Offset).Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("list orders: %w", err)
	}
	return out, total, nil
}

// Edit is a change to an order (受注編集). Nil parts are kept.
type Edit struct {
	Customer *CustomerInput `json:"customer"`
	Delivery *Address       `json:"delivery"`
	Cart     []Line         `json:"cart"`
	Order    *Totals        `json:"order"`
	// Process sets the 対応状況 token: "", "duringorder", "completion" or "cancel".
	Process *string `json:"process_status"`
}

// Apply returns the order as the edit makes it, validated, and whether the amount or the
// buyer changed (which is what the provider must be told about: 取引修正).
func (e Edit) Apply(o Order) (Order, bool, error) {
	in := Input{OrderNumber: o.Number, MemberID: o.MemberID, Customer: CustomerInput{Email: o.Email, Address: o.Customer()},
		Delivery: o.Delivery(), Cart: o.Cart(), Order: Totals{
			TotalItemsPrice: o.ItemTotal, Discount: o.Discount, ShippingCharge: o.ShippingCharge, CODFee: o.CODFee,
			Tax: o.Tax, UsedPoint: o.UsedPoint, GetPoint: o.GetPoint, TotalFullPrice: o.Total,
			PaymentName: o.PaymentName, Note: o.Note, DeliveryMethod: o.DeliveryMethod}}
	if e.Customer != nil {
		in.Customer = *e.Customer
	}
	if e.Delivery != nil {
		in.Delivery = e.Delivery
	}
	if e.Cart != nil {
		in.Cart = e.Cart
	}
	if e.Order != nil {
		pay := in.Order.PaymentName
		in.Order = *e.Order
		if in.Order.PaymentName == "" {
			in.Order.PaymentName = pay
		}
	}
	if e.Process != nil {
		ok := false
		for _, t := range ProcessTokens {
			ok = ok || t == *e.Process
		}
		if !ok {
			return o, false, ValidationError{{Field: "process_status", Code: "invalid", Message: "対応状況が不正です。"}}
		}
	}
	if err := in.Validate(); err != nil {
		return o, false, err
	}
	n := in.Row(o.ShopID)
	n.ID, n.Date, n.Status, n.CreatedAt, n.Modified = o.ID, o.Date, o.Status, o.CreatedAt, o.Modified
	n.WelcartOrderID, n.WelcartTransID = o.WelcartOrderID, o.WelcartTransID
	if e.Process != nil {
		n.Status = WithProcess(o.Status, *e.Process)
	}
	buyer := n.Customer() != o.Customer() || n.Email != o.Email || n.DeliveryJSON != o.DeliveryJSON
	changed := n.Total != o.Total || n.CartJSON != o.CartJSON || buyer ||
		n.Discount != o.Discount || n.ShippingCharge != o.ShippingCharge || n.CODFee != o.CODFee || n.Tax != o.Tax || n.UsedPoint != o.UsedPoint
	return n, changed, nil
}

// Save writes every column of o in tx.
func Save(ctx context.Context, tx *gorm.DB, o *Order) error {
	if err := tx.WithContext(ctx).Save(o).Error; err != nil {
		return fmt.Errorf("save order %d: %w", o.ID, err)
	}
	return nil
}

// Plugin is the provider-neutral order an adapter receives, for the given attempt id.
func (o Order) Plugin(attempt string) plugins.Order {
	c := o.Customer()
	po := plugins.Order{
		ID: o.ID, Number: o.DecoID(), Attempt: attempt, Amount: o.Total, Customer: customer(c, o.Email),
		Recurring: o.Recurring(),
	}
	if o.MemberID != 0 {
		po.MemberID = fmt.Sprint(o.MemberID)
	}
	if d := o.Delivery(); d != nil {
		pc := customer(*d, "")
		po.Delivery = &pc
	}
	for _, l := range o.Cart() {
		name := l.ItemName
		po.Lines = append(po.Lines, plugins.Line{Kind: plugins.LineItem, SKU: l.SKU, Name: name, Price: l.Price, Quantity: l.Quantity})
	}
	extra := []struct {
		kind  plugins.LineKind
		name  string
		price int64
	}{
		{plugins.LineDiscount, "値引き", o.Discount},
		{plugins.LinePoint, "ポイント利用", -o.UsedPoint},
		{plugins.LineShipping, "送料", o.ShippingCharge},
		{plugins.LineFee, "手数料", o.CODFee},
		{plugins.LineTax, "消費税", o.Tax},
	}
	for _, x := range extra {
		if x.price != 0 {
			po.Lines = append(po.Lines, plugins.Line{Kind: x.kind, Name: x.name, Price: x.price, Quantity: 1})
		}
	}
	return po
}

func customer(a Address, email string) plugins.Customer {
	return plugins.Customer{FamilyName: a.Name1, GivenName: a.Name2, FamilyKana: a.Name3, GivenKana: a.Name4,
		Zip: a.Zipcode, Pref: a.Pref, Address1: a.Address1, Address2: a.Address2, Address3: a.Address3, Tel: a.Tel, Email: email}
}

// Taken returns ErrDuplicate or a *DuplicateError when the shop's other order holds o's order
// number, Welcart order ID or link key; nil when o may be created.
func (r *Orders) Taken(ctx context.Context, o *Order) error { return taken(ctx, r.db, o) }

func taken(ctx context.Context, db *gorm.DB, o *Order) error {
	type key struct {
		column string
		value  any
		err    error
	}
	keys := []key{{"order_number", o.Number, ErrDuplicate}}
	if o.WelcartOrderID != nil {
		keys = append(keys, key{"welcart_order_id", *o.WelcartOrderID, errWelcartOrderTaken})
	}
	if o.WelcartTransID != nil {
		keys = append(keys, key{"welcart_trans_id", *o.WelcartTransID, errWelcartTransTaken})
	}
	for _, k := range keys {
		var n int64
		err := db.WithContext(ctx).Model(&Order{}).Where("shop_id = ? AND "+k.column+" = ?", o.ShopID, k.value).Count(&n).Error
		if err != nil {
			return fmt.Errorf("order keys of shop %d: %w", o.ShopID, err)
		}
		if n > 0 {
			return k.err
		}
	}
	return nil
}

// Named returns the orders the Welcart façade's order_id may name in a shop (0: every shop):
// Welcart posts its own order ID there, and a bridge may post kessai's. Orders whose Welcart
// order ID is id come first, then the order whose id is id; the link key tells them apart.
func (r *Orders) Named(ctx context.Context, shopID, id int64) ([]Order, error) {
	q := r.db.WithContext(ctx).Where("(welcart_order_id = ? OR id = ?)", id, id)
	if shopID != 0 {
		q = q.Where("shop_id = ?", shopID)
	}
	var out []Order
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("orders named %d: %w", id, err)
	}
	slices.SortStableFunc(out, func(a, b Order) int {
		return cmp.Compare(rank(a, id), rank(b, id))
	})
	return out, nil
}

// rank puts an order found by its Welcart order ID before one found by kessai's id.
func rank(o Order, id int64) int {
	if o.WelcartOrderID != nil && *o.WelcartOrderID == id {
		return 0
	}
	return 1
}
