package welcart

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
)

// op is one 決済情報 operation; it returns what the dialog should show next.
type op func(f *facade, c *gin.Context, o *order.Order, s *settlement.Settlement) (outcome, error)

// outcome is an operation's answer before rendering.
type outcome struct {
	ok         bool
	settlement *settlement.Settlement // as it is now; nil means reload
	view       View
}

// ops are the usces_admin_ajax modes by prefix: mode "capture_atone" is op "capture" on a
// settlement of module "atone", as Welcart names module modes. delete is Welcart's name of
// 取消 (cancel, kessai's, is kept); error is what Welcart's script asks instead of get when
// the history row it opens carries an error, and is answered alike.
var ops = map[string]op{
	"get":     (*facade).get,
	"error":   (*facade).get,
	"capture": (*facade).capture,
	"cancel":  (*facade).cancel,
	"delete":  (*facade).cancel,
	"change":  (*facade).change,
}

// settlementAjax is action=usces_admin_ajax: the 決済情報 dialog's operations on one order,
// named by order_id and trans_id as Welcart's scripts post them (see target).
func (f *facade) settlementAjax(c *gin.Context) {
	name, module, _ := strings.Cut(c.PostForm("mode"), "_")
	run, ok := ops[name]
	if !ok || module == "" {
		ng(c, msgUnknownMode)
		return
	}
	o, s, msg, err := f.target(c)
	if err != nil {
		internal(c, err)
		return
	}
	if msg != "" {
		ng(c, msg)
		return
	}
	if module != s.Module {
		ng(c, msgModeModule)
		return
	}
	out, err := run(f, c, o, s)
	if err != nil {
		msg, known := refusal(err)
		if !known {
			internal(c, err)
			return
		}
		out.view.Notice = msg
	}
	f.answerDialog(c, s.ID, out)
}

// answerDialog renders the dialog and the badge of settlement id as it is now.
func (f *facade) answerDialog(c *gin.Context, id int64, out outcome) {
	ctx := c.Request.Context()
	s := out.settlement
	if s == nil {
		var err error
		if s, err = f.d.Settlements.Get(ctx, 0, id); err != nil {
			internal(c, err)
			return
		}
	}
	out.view.Welcart = true
	html, err := Dialog(ctx, f.d.Store.DB, s, out.view)
	if err != nil {
		internal(c, err)
		return
	}
	badge, err := Badge(s.Status)
	if err != nil {
		internal(c, err)
		return
	}
	a := Answer{Status: statusNG, Result: html, ActingStatus: badge}
	if out.ok {
		a.Status = statusOK
	}
	c.JSON(http.StatusOK, a)
}

// target finds the order and settlement that order_id and trans_id name. order_id is
// Welcart's order ID (the order's welcart_order_id) or kessai's id; trans_id is Welcart's link
// key with Welcart's order ID (the order's welcart_trans_id, meaning the order's own
// settlement), or kessai's with either: the
// order's own settlement's, or one of its continuation charges', as Welcart's 継続課金会員情報
// opens the dialog of each history row. Both number from 1000, so an order_id may name one
// order by Welcart's ID and another by kessai's: the link key tells them apart, and Welcart's
// ID is tried first. A non-empty message refuses the call.
//
// The link key is required: it proves the bridge is looking at the same settlement as
// kessai, and a stale or mistyped one must not operate on whatever the order holds now.
func (f *facade) target(c *gin.Context) (*order.Order, *settlement.Settlement, string, error) {
	ctx := c.Request.Context()
	id, err := strconv.ParseInt(strings.TrimSpace(c.PostForm("order_id")), 10, 64)
	if err != nil {
		return nil, nil, msgNoOrder, nil
	}
	orders, err := f.d.Orders.Named(ctx, shopScope(c), id)
	if err != nil {
		return nil, nil, "", err
	}
	if len(orders) == 0 {
		return nil, nil, msgNoOrder, nil
	}
	transID := strings.TrimSpace(c.PostForm("trans_id"))
	for i := range orders {
		o := &orders[i]
		// Welcart's link key goes with Welcart's order ID: an order named by kessai's id is
		// not found by another order's Welcart link key.
		byWelcart := o.WelcartOrderID != nil && *o.WelcartOrderID == id
		var s *settlement.Settlement
		if byWelcart && o.WelcartTransID != nil && *o.WelcartTransID == transID && transID != "" {
			s, err = f.d.Settlements.ForOrder(ctx, o.ID)
		} else {
			s, err = f.d.Settlements.OfOrder(ctx, o.ID, transID)
		}
		if errors.Is(err, settlement.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, "", err
		}
		return o, s, "", nil
	}
	if _, err := f.d.Settlements.ForOrder(ctx, orders[0].ID); errors.Is(err, settlement.ErrNotFound) {
		return nil, nil, msgNoSettlement, nil
	} else if err != nil {
		return nil, nil, "", err
	}
	return nil, nil, msgTransID, nil
}

// get is 取引参照: the provider's current view, recorded in the history.
func (f *facade) get(c *gin.Context, _ *order.Order, s *settlement.Settlement) (outcome, error) {
	r, err := f.d.Settlements.Reference(c.Request.Context(), shopScope(c), s.ID, httpapi.Actor(c))
	out := outcome{settlement: r.Settlement}
	if err != nil && !errors.Is(err, settlement.ErrUnresolved) {
		return out, err
	}
	switch {
	case err != nil:
		out.view.Notice = msgNoAnswer
	case r.Outcome == plugins.Processed:
		out.ok, out.view.Reference = true, &r.Provider
	case r.Outcome == plugins.NotAttempted:
		out.ok, out.view.Notice = true, msgNotReferenced
	default:
		out.view.Notice = providerMessage(r.Provider.Result, msgDeclined)
	}
	return out, nil
}

func (f *facade) capture(c *gin.Context, _ *order.Order, s *settlement.Settlement) (outcome, error) {
	r, err := f.d.Settlements.Capture(c.Request.Context(), shopScope(c), s.ID, httpapi.Actor(c))
	return operated(r, err)
}

func (f *facade) cancel(c *gin.Context, _ *order.Order, s *settlement.Settlement) (outcome, error) {
	r, err := f.d.Settlements.Cancel(c.Request.Context(), shopScope(c), s.ID, httpapi.Actor(c))
	return operated(r, err)
}

// operated turns a money operation's result into the dialog's next state.
func operated(r settlement.Result, err error) (outcome, error) {
	out := outcome{settlement: r.Settlement}
	if err != nil {
		return out, err
	}
	switch r.Outcome {
	case plugins.Processed:
		out.ok, out.view.Reference = true, &r.Provider
	case plugins.Pending:
		out.ok = true
	case plugins.Undefined:
		out.view.Notice = msgNoAnswer
	default:
		out.view.Notice = providerMessage(r.Provider.Result, msgDeclined)
	}
	return out, nil
}

func providerMessage(r plugins.Result, fallback string) string {
	msg := strings.Join(r.Messages, " / ")
	if msg == "" {
		msg = fallback
	}
	if r.Code != "" {
		msg += "（" + r.Code + "）"
	}
	return msg
}

// change is 取引修正 (mode change_<module>). It takes the order edit Welcart's 受注編集
// posts, as JSON in the form fields cart, order, customer and delivery (the shapes of the
// shop API's PATCH /api/v1/orders/{id}), and/or amount, the new 利用金額 in yen:
//
//   - with an edit, amount (if given) must equal the edited order's total_full_price;
//   - amount alone is Welcart's 利用額変更: the difference goes into the order's 値引き
//     (discount), so it can lower the amount, or raise it back by at most the discount.
//
// The edit goes through shopapi.Edit, so the rules are the shop API's: when the order is
// キャンセル or the settlement 取消済み the edit is saved in kessai, as Welcart saves it, but
// atone is not told, and the answer is NG with that notice.
func (f *facade) change(c *gin.Context, o *order.Order, s *settlement.Settlement) (outcome, error) {
	ctx := c.Request.Context()
	if s.ContinuationChargeID != nil {
		// A charge is its period's amount; later periods follow the order's 受注編集.
		return outcome{settlement: s, view: View{Notice: msgChargeChange}}, nil
	}
	e, msg := editOf(c, o)
	if msg != "" {
		return outcome{view: View{Notice: msg}}, nil
	}
	res, err := order.Update(ctx, f.d.Store.DB, f.d.Settlements, o, e, httpapi.Actor(c))
	if err != nil {
		return outcome{}, err
	}
	out := outcome{}
	switch {
	case res.Outcome != nil && res.Outcome.Outcome == plugins.Undefined:
		out.view.Notice = msgNoAnswer
	case res.Outcome != nil:
		out.view.Notice = providerMessage(res.Outcome.Provider.Result, msgDeclined)
	case res.Notice != "":
		out.view.Notice = res.Notice
	case !res.ProviderUpdated:
		out.view.Notice = msgNoChange
	default:
		out.ok = true
	}
	return out, nil
}

// editOf reads change's form fields; a non-empty message refuses them.
func editOf(c *gin.Context, o *order.Order) (order.Edit, string) {
	var e order.Edit
	given := false
	for name, dst := range map[string]any{"cart": &e.Cart, "order": &e.Order, "customer": &e.Customer, "delivery": &e.Delivery} {
		raw := strings.TrimSpace(c.PostForm(name))
		if raw == "" {
			continue
		}
		if err := json.Unmarshal([]byte(raw), dst); err != nil {
			return e, fmt.Sprintf(msgBadJSON, name, err)
		}
		given = true
	}
	rawAmount := strings.TrimSpace(c.PostForm("amount"))
	if rawAmount == "" {
		if !given {
			return e, msgChangeNothing
		}
		return e, ""
	}
	amount, err := strconv.ParseInt(rawAmount, 10, 64)
	if err != nil || amount < 1 {
		return e, msgAmount
	}
	if given {
		n, _, err := e.Apply(*o)
		if err != nil {
			// shopapi.Edit reports the validation errors in full.
			return e, ""
		}
		if n.Total != amount {
			return e, fmt.Sprintf(msgAmountMismatch, amount, n.Total)
		}
		return e, ""
	}
	discount := o.Discount + amount - o.Total
	if discount > 0 {
		return e, msgAmountUp
	}
	e.Order = &order.Totals{TotalItemsPrice: o.ItemTotal, Discount: discount, ShippingCharge: o.ShippingCharge,
		CODFee: o.CODFee, Tax: o.Tax, UsedPoint: o.UsedPoint, GetPoint: o.GetPoint, TotalFullPrice: amount,
		PaymentName: o.PaymentName, Note: o.Note, DeliveryMethod: o.DeliveryMethod}
	return e, ""
}
