package welcart

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
)

// ops are the usces_admin_ajax modes by prefix: mode "capture_atone" is 売上計上 on a
// settlement of module "atone", as Welcart names module modes. delete is Welcart's name of
// 取消 (cancel, kessai's, is kept); get is 取引参照, and error is what Welcart's script asks
// instead of get when the history row it opens carries an error, and is answered alike;
// change is 利用額変更.
var ops = map[string]settlement.Operation{
	"get":     settlement.OpReference,
	"error":   settlement.OpReference,
	"capture": settlement.OpCapture,
	"cancel":  settlement.OpCancel,
	"delete":  settlement.OpCancel,
	"change":  settlement.OpModify,
}

// settlementAjax is action=usces_admin_ajax: the 決済情報 dialog's operations on one order,
// named by order_id and trans_id as Welcart's scripts post them (see target).
func (f *facade) settlementAjax(c *gin.Context) {
	ctx := c.Request.Context()
	name, module, _ := strings.Cut(c.PostForm("mode"), "_")
	op, ok := ops[name]
	if !ok || module == "" {
		ng(c, msgUnknownMode)
		return
	}
	o, s, err := f.target(c)
	if err != nil {
		fail(c, err)
		return
	}
	if module != s.Module {
		ng(c, msgModeModule)
		return
	}
	var d dialog.Dialog
	if op == settlement.OpModify {
		e, msg := editOf(c, o)
		if msg != "" && s.ContinuationChargeID == nil {
			d, err = f.dialogs.Show(ctx, s, msg)
		} else {
			d, err = f.dialogs.Change(ctx, o, s, e, httpapi.Actor(c))
		}
		if fault.KindOf(err) != fault.Internal {
			// The edit itself is refused (a field breaks the order's rules): the dialog says
			// which, with kessai's record.
			d, err = f.dialogs.Show(ctx, s, said(fault.Of(err)))
		}
	} else {
		d, err = f.dialogs.Operate(ctx, shopScope(c), s, op, httpapi.Actor(c))
	}
	if err != nil {
		fail(c, err)
		return
	}
	html, err := d.HTML(dialog.Welcart)
	if err != nil {
		fail(c, err)
		return
	}
	badge, err := dialog.Badge(d.Settlement.Status)
	if err != nil {
		fail(c, err)
		return
	}
	a := Answer{Status: statusNG, Result: html, ActingStatus: badge}
	if d.OK {
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
// ID is tried first. An error that describes itself refuses the call.
//
// The link key is required: it proves the bridge is looking at the same settlement as
// kessai, and a stale or mistyped one must not operate on whatever the order holds now.
func (f *facade) target(c *gin.Context) (*order.Order, *settlement.Settlement, error) {
	ctx := c.Request.Context()
	id, err := strconv.ParseInt(strings.TrimSpace(c.PostForm("order_id")), 10, 64)
	if err != nil {
		return nil, nil, order.ErrNotFound.WithField("order_id")
	}
	orders, err := f.d.Orders.Named(ctx, shopScope(c), id)
	if err != nil {
		return nil, nil, err
	}
	if len(orders) == 0 {
		return nil, nil, order.ErrNotFound.WithField("order_id")
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
			return nil, nil, err
		}
		return o, s, nil
	}
	if _, err := f.d.Settlements.ForOrder(ctx, orders[0].ID); errors.Is(err, settlement.ErrNotFound) {
		// The order is there; what it lacks is a settlement with a provider.
		return nil, nil, errNoSettlement
	} else if err != nil {
		return nil, nil, err
	}
	return nil, nil, errTransID
}

// The façade's own refusals of a dialog call, described as the domain's are.
var (
	errNoSettlement = dialog.ErrNoSettlement.WithField("order_id")
	errTransID      = fault.New(fault.Conflict, "trans_id_mismatch", msgTransID).WithField("trans_id")
)

// editOf reads the form fields of 取引修正 (mode change_<module>): the order edit Welcart's
// 受注編集 posts, as JSON in the form fields cart, order, customer and delivery (the shapes of
// the shop API's PATCH /api/v1/orders/{id}), and/or amount, the new 利用金額 in yen:
//
//   - with an edit, amount (if given) must equal the edited order's total_full_price;
//   - amount alone is Welcart's 利用額変更: the difference goes into the order's 値引き
//     (discount), so it can lower the amount, or raise it back by at most the discount.
//
// The edit goes through order.Update, so the rules are every 受注編集's: when the order is
// キャンセル or the settlement 取消済み the edit is saved in kessai, as Welcart saves it, but
// atone is not told, and the answer is NG with that notice. A non-empty message refuses the
// fields.
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
			// order.Update reports the validation errors in full.
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
