package admin

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/jst"
)

// orderEditView is the 受注編集 page.
type orderEditView struct {
	Form       orderForm
	Processes  []choiceView
	Payments   []choiceView
	Settlement *settlement.Settlement
	Badge      template.HTML
	Dialog     template.HTML // the 決済情報 dialog as kessai last recorded it; opening asks the provider
	Acting     string        // 支払情報's acting row: "atone決済"
	NotLinked  string        // the manual's note under 設定を更新
	Separate   string        // the manual's note that 取消 and キャンセル are separate
}

// orderForm is the 受注編集 form: the order's fields as the admin sees and types them. Amounts
// stay text until the update parses them, so that a typo comes back as typed.
type orderForm struct {
	ID             int64
	DecoID, Date   string
	MemberID       int64
	Email          string
	Customer       order.Address
	Delivery       order.Address
	Lines          []lineForm
	New            lineForm // 商品追加
	Discount       string
	ShippingCharge string
	CODFee         string
	Tax            string
	UsedPoint      string
	PaymentName    string
	DeliveryMethod string
	Note           string
	Process        string

	ItemTotal, Total int64 // as last saved or computed
	bad              map[string]bool
}

type lineForm struct {
	No       int
	SKU      string
	ItemName string
	Price    string
	Quantity string
	Amount   int64
	Delete   bool
}

// Bad reports whether the input named key was refused, for its highlight.
func (f orderForm) Bad(key string) bool { return f.bad[key] }

// ItemTotalText is 商品合計 with Welcart's digit grouping.
func (f orderForm) ItemTotalText() string { return comma(f.ItemTotal) }

// TotalText is 総合計金額.
func (f orderForm) TotalText() string { return comma(f.Total) }

// AmountText is a line's 金額（円）.
func (l lineForm) AmountText() string { return comma(l.Amount) }

// formOf is the form showing the stored order o.
func formOf(o order.Order) orderForm {
	f := orderForm{ID: o.ID, DecoID: o.DecoID(), MemberID: o.MemberID, Email: o.Email, Customer: o.Customer(),
		Discount: itoa(o.Discount), ShippingCharge: itoa(o.ShippingCharge), CODFee: itoa(o.CODFee), Tax: itoa(o.Tax),
		UsedPoint: itoa(o.UsedPoint), PaymentName: o.PaymentName, DeliveryMethod: o.DeliveryMethod, Note: o.Note,
		Process: processOf(o), ItemTotal: o.ItemTotal, Total: o.Total}
	if d := o.Delivery(); d != nil {
		f.Delivery = *d
	}
	for i, l := range o.Cart() {
		f.Lines = append(f.Lines, lineForm{No: i + 1, SKU: l.SKU, ItemName: l.ItemName, Price: itoa(l.Price), Quantity: itoa(l.Quantity), Amount: l.Price * l.Quantity})
	}
	return f
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var addressFields = []string{"name1", "name2", "name3", "name4", "zipcode", "pref", "address1", "address2", "address3", "tel", "fax"}

func addressOf(ctx *gin.Context, prefix string) order.Address {
	v := map[string]string{}
	for _, k := range addressFields {
		v[k] = strings.TrimSpace(ctx.PostForm(prefix + k))
	}
	return order.Address{Name1: v["name1"], Name2: v["name2"], Name3: v["name3"], Name4: v["name4"], Zipcode: v["zipcode"],
		Pref: v["pref"], Address1: v["address1"], Address2: v["address2"], Address3: v["address3"], Tel: v["tel"], Fax: v["fax"]}
}

// readForm reads a posted 受注編集 over the stored order o (whose number, date and member
// the form does not change).
func readForm(ctx *gin.Context, o order.Order) orderForm {
	f := orderForm{ID: o.ID, DecoID: o.DecoID(), MemberID: o.MemberID, Email: strings.TrimSpace(ctx.PostForm("email")),
		Customer: addressOf(ctx, ""), Delivery: addressOf(ctx, "delivery_"),
		Discount: ctx.PostForm("discount"), ShippingCharge: ctx.PostForm("shipping_charge"), CODFee: ctx.PostForm("cod_fee"),
		Tax: ctx.PostForm("tax"), UsedPoint: ctx.PostForm("usedpoint"), PaymentName: strings.TrimSpace(ctx.PostForm("payment_name")),
		DeliveryMethod: strings.TrimSpace(ctx.PostForm("delivery_method")), Note: ctx.PostForm("note"),
		Process: ctx.PostForm("process_status"), bad: map[string]bool{}}
	// The form has no country field: keep what the shop sent.
	f.Customer.Country = o.Customer().Country
	if d := o.Delivery(); d != nil {
		f.Delivery.Country = d.Country
	}
	skus, names := ctx.PostFormArray("line_sku"), ctx.PostFormArray("line_name")
	prices, qtys := ctx.PostFormArray("line_price"), ctx.PostFormArray("line_qty")
	del := map[string]bool{}
	for _, d := range ctx.PostFormArray("line_delete") {
		del[d] = true
	}
	for i := range names {
		l := lineForm{No: i + 1, ItemName: strings.TrimSpace(names[i]), Delete: del[strconv.Itoa(i)]}
		if i < len(skus) {
			l.SKU = strings.TrimSpace(skus[i])
		}
		if i < len(prices) {
			l.Price = strings.TrimSpace(prices[i])
		}
		if i < len(qtys) {
			l.Quantity = strings.TrimSpace(qtys[i])
		}
		f.Lines = append(f.Lines, l)
	}
	f.New = lineForm{SKU: strings.TrimSpace(ctx.PostForm("new_sku")), ItemName: strings.TrimSpace(ctx.PostForm("new_name")),
		Price: strings.TrimSpace(ctx.PostForm("new_price")), Quantity: strings.TrimSpace(ctx.PostForm("new_qty"))}
	return f
}

// edit turns the form into an order.Edit, adding up the totals the way Welcart's edit screen
// does; problems are refusals of the form itself (a number that is not one).
func (f *orderForm) edit(o order.Order) (order.Edit, []string) {
	var problems []string
	num := func(key, label, s string) int64 {
		s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.bad[key] = true
			problems = append(problems, fmt.Sprintf(msgNotNumber, label))
		}
		return n
	}
	orig := o.Cart()
	var cart []order.Line
	var items int64
	for i := range f.Lines {
		l := &f.Lines[i]
		var base order.Line
		if i < len(orig) {
			base = orig[i] // keeps what the form does not show: options, post id, continuation
		}
		base.SKU, base.ItemName = l.SKU, l.ItemName
		base.Price = num(fmt.Sprintf("line_price_%d", i), "単価", l.Price)
		base.Quantity = num(fmt.Sprintf("line_qty_%d", i), "数量", l.Quantity)
		l.Amount = base.Price * base.Quantity
		if l.Delete {
			continue
		}
		cart = append(cart, base)
		items += l.Amount
	}
	if f.New.ItemName != "" {
		n := order.Line{SKU: f.New.SKU, ItemName: f.New.ItemName, Price: num("new_price", "単価", f.New.Price), Quantity: num("new_qty", "数量", f.New.Quantity)}
		if f.New.Quantity == "" {
			n.Quantity = 1
		}
		cart = append(cart, n)
		items += n.Price * n.Quantity
	}
	t := order.Totals{TotalItemsPrice: items, Discount: num("discount", "値引き", f.Discount),
		ShippingCharge: num("shipping_charge", "送料", f.ShippingCharge), CODFee: num("cod_fee", "手数料", f.CODFee),
		Tax: num("tax", "消費税", f.Tax), UsedPoint: num("usedpoint", "使用ポイント", f.UsedPoint), GetPoint: o.GetPoint,
		PaymentName: f.PaymentName, Note: f.Note, DeliveryMethod: f.DeliveryMethod}
	t.TotalFullPrice = t.TotalItemsPrice - t.UsedPoint + t.Discount + t.ShippingCharge + t.CODFee + t.Tax
	f.ItemTotal, f.Total = t.TotalItemsPrice, t.TotalFullPrice
	e := order.Edit{Customer: &order.CustomerInput{Email: f.Email, Address: f.Customer}, Cart: cart, Order: &t, Process: &f.Process}
	if cart == nil {
		e.Cart = []order.Line{} // an emptied cart is refused by validation, not kept
	}
	// An order without a 発送先 keeps none unless the admin fills one in.
	if o.Delivery() != nil || f.Delivery != (order.Address{Country: f.Delivery.Country}) {
		d := f.Delivery
		e.Delivery = &d
	}
	return e, problems
}

var cartField = regexp.MustCompile(`^cart\[(\d+)\]\.(price|quantity|item_name)$`)

// fieldKey maps a validation error's JSON path to the form input it concerns.
func fieldKey(path string) string {
	if m := cartField.FindStringSubmatch(path); m != nil {
		return map[string]string{"price": "line_price_", "quantity": "line_qty_", "item_name": "line_name_"}[m[2]] + m[1]
	}
	if k, ok := strings.CutPrefix(path, "customer."); ok {
		if k == "mailaddress1" {
			return "email"
		}
		return k
	}
	if k, ok := strings.CutPrefix(path, "delivery."); ok {
		return "delivery_" + k
	}
	return strings.TrimPrefix(path, "order.")
}

func (c *Console) loadOrder(ctx *gin.Context) (*order.Order, bool) {
	var o *order.Order
	var err error = order.ErrNotFound
	if id, ok := pathID(ctx); ok {
		o, err = c.commerce.Orders.Get(ctx.Request.Context(), 0, id)
	}
	if err != nil {
		c.failPage(ctx, View{Title: "受注編集", Path: PathOrders}, err)
		return nil, false
	}
	return o, true
}

func (c *Console) orderEdit(ctx *gin.Context) {
	o, ok := c.loadOrder(ctx)
	if !ok {
		return
	}
	c.showOrder(ctx, http.StatusOK, o, formOf(*o), "")
}

// showOrder renders 受注編集 with form f (the stored order, or what the admin posted).
func (c *Console) showOrder(ctx *gin.Context, status int, o *order.Order, f orderForm, errMsg string) {
	rc := ctx.Request.Context()
	f.Date = o.Date.In(jst.Tokyo).Format("2006-01-02 15:04:05")
	v := orderEditView{Form: f, Processes: processChoices(f.Process)}
	methods, err := c.methods.List(rc, false)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	found := false
	for _, m := range methods {
		found = found || m.Name == f.PaymentName
		v.Payments = append(v.Payments, choiceView{Value: m.Name, Label: m.Name, Checked: m.Name == f.PaymentName})
	}
	if !found {
		// A method deleted since the purchase still names this order's payment.
		v.Payments = append(v.Payments, choiceView{Value: f.PaymentName, Label: f.PaymentName, Checked: true})
	}
	provider := "決済代行会社"
	s, err := c.commerce.Settlements.ForOrder(rc, o.ID)
	switch {
	case errors.Is(err, settlement.ErrNotFound):
	case err != nil:
		c.fail(ctx, err)
		return
	default:
		v.Settlement, provider = s, s.Module
		v.Acting = s.Module + "決済"
		if v.Badge, err = dialog.Badge(s.Status); err != nil {
			c.fail(ctx, err)
			return
		}
		d, err := c.dialogs.Show(rc, s, "")
		if err != nil {
			c.fail(ctx, err)
			return
		}
		if v.Dialog, err = d.HTML(dialog.Console); err != nil {
			c.fail(ctx, err)
			return
		}
	}
	v.NotLinked = fmt.Sprintf(msgNotLinked, provider)
	if v.Settlement != nil && !c.offers(rc, v.Settlement.Module, settlement.OpModify) {
		v.NotLinked = fmt.Sprintf(msgNoModify, provider)
	}
	v.Separate = fmt.Sprintf(msgSeparate, provider)
	c.render(ctx, status, c.pages["order_edit.html"], View{Title: "受注編集", Path: PathOrders, Error: errMsg, Data: v})
}

// updateOrder is 設定を更新: the edit goes through order.Update, the rules the shop API
// follows too, so that a 取引修正 is sent exactly when the amount or the buyer changed and
// never for a キャンセル order or a 取消済み settlement.
func (c *Console) updateOrder(ctx *gin.Context) {
	o, ok := c.loadOrder(ctx)
	if !ok {
		return
	}
	rc := ctx.Request.Context()
	f := readForm(ctx, *o)
	e, problems := f.edit(*o)
	if len(problems) > 0 {
		c.showOrder(ctx, http.StatusUnprocessableEntity, o, f, strings.Join(problems, " "))
		return
	}
	login := current(ctx).Login
	res, err := order.Update(rc, c.deps.Store.DB, c.commerce.Settlements, o, e, settlementActor(login))
	if err != nil {
		d := fault.Of(err)
		if d.Kind == fault.Internal {
			c.fail(ctx, err)
			return
		}
		// Refused: the edit breaks the order's rules (each field is marked, every message
		// shown), or the settlement or its module does not allow it now. Nothing was saved,
		// so the form comes back as the admin typed it.
		msg := c.said(ctx, err)
		if len(d.Fields) > 0 {
			msgs := make([]string, len(d.Fields))
			for i, fe := range d.Fields {
				f.bad[fieldKey(fe.Field)] = true
				msgs[i] = fe.Message
			}
			msg = strings.Join(msgs, " ")
		}
		c.showOrder(ctx, httpapi.Status(err), o, f, msg)
		return
	}
	detail := map[string]any{"total": res.Order.Total, "process": res.Order.ProcessLabel(), "provider_updated": res.ProviderUpdated}
	if res.Notice != "" {
		detail["notice"] = res.Notice
	}
	if r := res.Outcome; r != nil {
		detail["outcome"] = r.Outcome.String()
	}
	c.audit(ctx, "order.edit", o.ID, detail)
	back := fmt.Sprintf("%s/%d", PathOrders, o.ID)
	var cont string
	if res.Outcome == nil {
		cont = c.priceNotice(rc, o, &res.Order)
	}
	switch {
	case res.Outcome != nil && res.Outcome.Outcome == plugins.Undefined:
		// The edit is saved; whether the provider took the 取引修正 is for the janitor to find out.
		c.redirectError(ctx, back, msgUpdated+msgModifyUnknown)
	case res.Outcome != nil:
		// Declined: nothing was saved, so the form comes back as the admin typed it.
		c.showOrder(ctx, http.StatusUnprocessableEntity, o, f, msgModifyDeclined+dialog.ProviderMessage(res.Outcome.Provider.Result))
	case res.Notice != "":
		c.redirectWarning(ctx, back, msgUpdated+res.Notice+cont)
	case res.ProviderUpdated:
		s, err := c.commerce.Settlements.ForOrder(rc, o.ID)
		if err != nil {
			c.fail(ctx, err)
			return
		}
		c.redirectFlash(ctx, back, msgUpdated+fmt.Sprintf(msgModified, s.Module, s.WcTransID)+cont)
	default:
		c.redirectFlash(ctx, back, msgUpdated+cont)
	}
}

// offers reports whether module's adapter offers op, for the buttons the console shows. When
// that cannot be told (the module is down) it says yes: the button stays, and the engine says
// why if it is pressed.
func (c *Console) offers(ctx context.Context, module string, op settlement.Operation) bool {
	if c.commerce == nil {
		return true
	}
	ok, err := c.commerce.Settlements.Offers(ctx, module, op)
	return ok || err != nil
}

// settlementActor names the admin in settlement history rows, beside "shop:3" and "janitor".
func settlementActor(login string) string { return "admin:" + login }

// dialogAnswer is the JSON of a 決済情報 operation, in the shape of Welcart's usces_admin_ajax:
// the dialog's new content (#settlement-response) and the status badge (#settlement-status).
type dialogAnswer struct {
	Status       string        `json:"status"` // OK or NG
	Result       template.HTML `json:"result"`
	ActingStatus template.HTML `json:"acting_status"`
}

// settlementOps are the dialog's operations: opening it is 取引参照, then its buttons.
var settlementOps = map[string]settlement.Operation{
	"reference": settlement.OpReference,
	"capture":   settlement.OpCapture,
	"cancel":    settlement.OpCancel,
}

// settlementOp runs one 決済情報 operation for the order and answers the refreshed dialog.
// The body names the settlement's link key ({"trans_id": …}): a dialog left open on a stale
// page must not operate on whatever the order holds now.
func (c *Console) settlementOp(ctx *gin.Context) {
	rc := ctx.Request.Context()
	opName := ctx.Param("op")
	op, known := settlementOps[opName]
	id, ok := pathID(ctx)
	if !known || !ok {
		httpapi.Error(ctx, order.ErrNotFound)
		return
	}
	var req struct {
		TransID string `json:"trans_id"`
		// Amount is the dialog's #settlement-amount as the admin typed it: "" is the whole.
		Amount string `json:"amount"`
	}
	if err := ctx.ShouldBindJSON(&req); err != nil {
		// The console's own script sends the body: a malformed one is no business refusal.
		httpapi.Fail(ctx, http.StatusBadRequest, "invalid", `body must be {"trans_id": "…"}`, "trans_id")
		return
	}
	amount, err := amountOf(req.Amount)
	if err != nil {
		httpapi.Error(ctx, err)
		return
	}
	o, err := c.commerce.Orders.Get(rc, 0, id)
	if err != nil {
		httpapi.Error(ctx, err)
		return
	}
	s, err := c.commerce.Settlements.ForOrder(rc, o.ID)
	if errors.Is(err, settlement.ErrNotFound) {
		// The order is there; what it lacks is a settlement with a provider.
		err = dialog.ErrNoSettlement
	}
	if err != nil {
		httpapi.Error(ctx, err)
		return
	}
	if req.TransID != s.TransID {
		httpapi.Error(ctx, errStaleDialog)
		return
	}
	d, err := c.dialogs.OperateAmount(rc, 0, s, op, amount, settlementActor(current(ctx).Login))
	if err != nil {
		httpapi.Error(ctx, err)
		return
	}
	// 取引参照 is audited too: it is a call to the provider on the admin's behalf.
	detail := map[string]any{"trans_id": s.TransID, "outcome": d.Outcome.String(), "status": d.Settlement.Status.Label()}
	if d.Notice != "" {
		detail["notice"] = d.Notice
	}
	if amount != 0 {
		detail["amount"] = amount
	}
	c.audit(ctx, "settlement."+opName, o.ID, detail)
	a := dialogAnswer{Status: "NG"}
	if d.OK {
		a.Status = "OK"
	}
	if a.Result, err = d.HTML(dialog.Console); err != nil {
		httpapi.Error(ctx, err)
		return
	}
	if a.ActingStatus, err = dialog.Badge(d.Settlement.Status); err != nil {
		httpapi.Error(ctx, err)
		return
	}
	ctx.JSON(http.StatusOK, a)
}

// errAmountFormat refuses a dialog amount that is not a whole number of yen.
var errAmountFormat = fault.New(fault.Invalid, "invalid_amount", fmt.Sprintf(msgNotNumber, "金額")).WithField("amount")

// amountOf reads the dialog's amount ("" is the whole, thousands separators allowed); the
// engine says whether the settlement takes it.
func amountOf(in string) (int64, error) {
	in = strings.ReplaceAll(strings.TrimSpace(in), ",", "")
	if in == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(in, 10, 64)
	if err != nil {
		return 0, errAmountFormat
	}
	return n, nil
}

// errStaleDialog refuses an operation from a dialog whose link key is no longer the order's.
var errStaleDialog = fault.New(fault.Conflict, "stale", msgStaleDialog).WithField("trans_id")
