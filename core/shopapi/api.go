// Package shopapi is the shop-facing JSON API under /api/v1: payment methods, orders and their
// checkout through the provider's widget, and the settlement operations a shop's back end
// performs on its own orders. Every answer uses httpapi's error shape; answers carry buyers'
// personal data and are never cached.
package shopapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/idempotency"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/jst"
)

// Funnel counts checkouts per payment method (prepared, succeeded, ng, cancelled); nil
// counts nothing.
type Funnel interface {
	Checkout(method, stage string)
}

// API is the shop API's dependencies.
type API struct {
	Store       *store.Store
	Shops       *shop.Shops
	Methods     *paymethod.Methods
	Orders      *order.Orders
	Settlements *settlement.Service
	Funnel      Funnel
}

// Mount adds the shop API to r (normally the engine's /api/v1 group).
func (a *API) Mount(r gin.IRouter) {
	r.GET("/openapi.json", serveOpenAPI)
	g := r.Group("", httpapi.ShopAuth(a.Shops))
	// A new order is one transaction, which its Idempotency-Key joins; every other POST and
	// PATCH may call the provider, which no transaction can include, so its key holds a lease.
	once := idempotency.Once(a.Store.DB, httpapi.ShopID, idempotency.Options{Clock: a.Store.Clock})
	lease := idempotency.Middleware(a.Store.DB, httpapi.ShopID, idempotency.Options{Clock: a.Store.Clock})
	g.GET("/payment-methods", a.listMethods)
	g.POST("/orders", once, a.createOrder)
	g.GET("/orders", a.listOrders)
	g.GET("/orders/:id", a.getOrder)
	g.PATCH("/orders/:id", lease, a.editOrder)
	g.POST("/orders/:id/settlement/checkout", lease, a.checkout)
	g.POST("/orders/:id/settlement/result", lease, a.result)
	g.POST("/orders/:id/settlement/cancelled", lease, a.cancelled)
	g.POST("/orders/:id/settlement/capture", lease, a.capture)
	g.POST("/orders/:id/settlement/cancel", lease, a.cancel)
	g.POST("/orders/:id/settlement/reference", lease, a.reference)
	g.GET("/stats/conversion", a.conversion)
}

func actor(c *gin.Context) string { return httpapi.Actor(c) }

func (a *API) listMethods(c *gin.Context) {
	ms, err := a.Methods.List(c.Request.Context(), true)
	if err != nil {
		fail(c, err)
		return
	}
	if ms == nil {
		ms = []paymethod.Method{}
	}
	c.JSON(http.StatusOK, gin.H{"payment_methods": ms})
}

// decode reads a JSON body strictly: malformed JSON and unknown types are 400 with the place.
func decode(c *gin.Context, v any) bool {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if httpapi.IsBodyTooLarge(err) {
			httpapi.Fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "リクエストが大きすぎます（1 MiBまで）。", "")
			return false
		}
		httpapi.Fail(c, http.StatusBadRequest, "bad_body", "リクエスト本文を読めません。", "")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			httpapi.Fail(c, http.StatusBadRequest, "invalid_type", fmt.Sprintf("%s の型が正しくありません（%s が必要です）。", te.Field, te.Type), te.Field)
			return false
		}
		httpapi.Fail(c, http.StatusBadRequest, "malformed_json", "JSONの形式が正しくありません: "+err.Error(), "")
		return false
	}
	return true
}

// fail answers an error: the domain describes it (kind, code, message, fields) and httpapi
// maps it, a caller that went away included.
func fail(c *gin.Context, err error) { httpapi.Error(c, err) }

// errNoSettlement refuses an operation on an order that has no settlement with a provider.
var errNoSettlement = fault.New(fault.Conflict, "no_settlement", "この受注には決済代行会社の決済がありません。")

// failResult answers a provider outcome that is not success.
func failResult(c *gin.Context, status int, code string, res plugins.Result, fallback string, extra gin.H) {
	msg := strings.Join(res.Messages, " / ")
	if msg == "" {
		msg = fallback
	}
	if res.Code != "" {
		code = res.Code
	}
	body := gin.H{"error": httpapi.ErrorDetail{Code: code, Message: msg, Field: res.Field}}
	for k, v := range extra {
		body[k] = v
	}
	c.AbortWithStatusJSON(status, body)
}

func (a *API) createOrder(c *gin.Context) {
	ctx := c.Request.Context()
	var in order.Input
	if !decode(c, &in) {
		return
	}
	if err := in.Validate(); err != nil {
		fail(c, err)
		return
	}
	pm, err := a.Methods.ByName(ctx, strings.TrimSpace(in.Order.PaymentName))
	if errors.Is(err, paymethod.ErrNotFound) {
		httpapi.Fail(c, http.StatusUnprocessableEntity, "unknown_payment_method", "支払方法「"+in.Order.PaymentName+"」は登録されていません。", "order.payment_name")
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	if !pm.Active() {
		httpapi.Fail(c, http.StatusUnprocessableEntity, "payment_method_stopped", "支払方法「"+pm.Name+"」は停止中です。", "order.payment_name")
		return
	}
	sid := httpapi.ShopID(c)
	// A number the shop has used already is refused by the orders' unique keys when the order
	// is written, in the same transaction: asking first would cost every checkout a query.
	row := in.Row(sid)
	var st *settlement.Settlement
	var widget *plugins.Widget
	if pm.Module != "" {
		// Ask the adapter for the widget before anything is written: if the module is down or
		// refuses the order (atone's own field rules), the shop learns why and nothing remains.
		st = settlement.New(0, sid, row.Total, pm.Module, pm.Settlement)
		res, err := a.Settlements.Prepare(ctx, st, row.Plugin(st.Attempt), "", actor(c))
		if err != nil {
			fail(c, err)
			return
		}
		if res.Outcome != plugins.Processed {
			failResult(c, http.StatusUnprocessableEntity, "checkout_refused", res.Result, "決済代行会社がこの注文を受け付けませんでした。", nil)
			return
		}
		widget = &res.Widget
	}
	// The order, its settlement and the answer under the Idempotency-Key are one commit. A
	// number used before, or a key stored before, is told by the unique keys, not asked first.
	var body []byte
	err = a.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := order.Create(ctx, tx, &row); err != nil {
			return err
		}
		if st != nil {
			st.OrderID = row.ID
			if err := settlement.Create(ctx, tx, st, settlement.History{Operation: settlement.OpCheckout, Actor: actor(c)}); err != nil {
				return err
			}
		}
		v := createdView{OrderView: orderView(&row)}
		v.Settlement = settlementView(st, nil)
		if widget != nil {
			v.Config = widgetView(widget)
		}
		var err error
		if body, err = json.Marshal(v); err != nil {
			return err
		}
		return idempotency.Save(c, tx, http.StatusCreated, body)
	})
	if (errors.Is(err, order.ErrDuplicate) || errors.Is(err, idempotency.ErrSeen)) && idempotency.Repeat(c) {
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	if a.Funnel != nil && st != nil {
		a.Funnel.Checkout(pm.Name, "prepared")
	}
	c.Data(http.StatusCreated, jsonType, body)
}

// createdView is the answer to a new order: the order, its settlement and, for a module with
// a widget, the widget's configuration.
type createdView struct {
	OrderView
	Config gin.H `json:"config,omitempty"`
}

const jsonType = "application/json; charset=utf-8"

func widgetView(w *plugins.Widget) gin.H {
	return gin.H{"script_url": w.ScriptURL, "pub_key": w.PublicKey, "pre_token": w.PreToken, "payment": w.Payment}
}

func (a *API) loadOrder(c *gin.Context) (*order.Order, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		fail(c, order.ErrNotFound)
		return nil, false
	}
	o, err := a.Orders.Get(c.Request.Context(), httpapi.ShopID(c), id)
	if err != nil {
		fail(c, err)
		return nil, false
	}
	return o, true
}

// view is the order with its settlement and the settlement's history. s is the order's
// settlement as the operation left it, or nil to read it.
func (a *API) view(ctx context.Context, o *order.Order, s *settlement.Settlement) (OrderView, error) {
	if s == nil {
		var err error
		s, err = a.Settlements.ForOrder(ctx, o.ID)
		if errors.Is(err, settlement.ErrNotFound) {
			return orderView(o), nil
		}
		if err != nil {
			return orderView(o), err
		}
	}
	hs, err := settlement.Histories(ctx, a.Store.DB, s.ID)
	if err != nil {
		return orderView(o), err
	}
	return viewWith(o, s, hs), nil
}

// viewWith is the order with its settlement s and s's history hs, read by the caller.
func viewWith(o *order.Order, s *settlement.Settlement, hs []settlement.History) OrderView {
	v := orderView(o)
	v.Settlement = settlementView(s, hs)
	return v
}

// answer gives the order with its settlement s (nil: read it) and extra's members.
func (a *API) answer(c *gin.Context, status int, o *order.Order, s *settlement.Settlement, extra gin.H) {
	// The answer is built even if the client hung up: an operation that ran is answered and
	// stored under its Idempotency-Key, so the retry is told what happened.
	v, err := a.view(context.WithoutCancel(c.Request.Context()), o, s)
	if err != nil {
		fail(c, err)
		return
	}
	body, err := withMembers(v, extra)
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(status, jsonType, body)
}

// withMembers encodes v, a struct, with extra's members added beside its own, each value
// encoded once. extra's names are not v's.
func withMembers(v any, extra gin.H) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return body, err
	}
	body = body[:len(body)-1] // the closing brace
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		x, err := json.Marshal(extra[k])
		if err != nil {
			return nil, err
		}
		if len(body) > 1 {
			body = append(body, ',')
		}
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		body = append(body, name...)
		body = append(body, ':')
		body = append(body, x...)
	}
	return append(body, '}'), nil
}

func (a *API) getOrder(c *gin.Context) {
	if o, ok := a.loadOrder(c); ok {
		a.answer(c, http.StatusOK, o, nil, nil)
	}
}

func (a *API) listOrders(c *gin.Context) {
	f := order.Filter{ShopID: httpapi.ShopID(c), Number: c.Query("order_number"), Name: c.Query("name"), Email: c.Query("email"),
		PaymentName: c.Query("payment_name"), Process: c.Query("process_status")}
	var ok bool
	if f.Limit, ok = pageParam(c, "per_page", defaultPerPage, maxPerPage); !ok {
		return
	}
	page, ok := pageParam(c, "page", 1, maxPage)
	if !ok {
		return
	}
	f.Offset = (page - 1) * f.Limit // < maxPage × maxPerPage, far inside int
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if s := c.Query(name); s != "" {
			t, err := time.ParseInLocation("2006-01-02", s, jst.Tokyo)
			if err != nil {
				httpapi.Fail(c, http.StatusBadRequest, "invalid", name+" は YYYY-MM-DD で指定してください。", name)
				return
			}
			*dst = t
			if name == "to" {
				*dst = dst.Add(24 * time.Hour)
			}
		}
	}
	os, total, err := a.Orders.List(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	// One query for the page's settlements rather than one per order; the list leaves the
	// history out (GET /orders/{id} has it).
	ids := make([]int64, len(os))
	for i := range os {
		ids[i] = os[i].ID
	}
	byOrder, err := a.Settlements.ForOrders(c.Request.Context(), ids)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]OrderView, 0, len(os))
	for i := range os {
		v := orderView(&os[i])
		v.Settlement = settlementView(byOrder[os[i].ID], nil)
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"orders": out, "total": total, "page": page, "per_page": f.Limit})
}

// Paging of GET /orders: per_page is 1..200 (50 when not given), page 1..2,147,483,647 (1
// when not given). Anything else, a number too large for that included, is a 400 naming the
// parameter, never a silent first page. A page past the last answers no orders, with the total.
const (
	defaultPerPage = 50
	maxPerPage     = 200
	maxPage        = math.MaxInt32
)

// pageParam reads a paging parameter: decimal digits only, within 1..max.
func pageParam(c *gin.Context, name string, def, max int) (int, bool) {
	s, given := c.GetQuery(name)
	if !given {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.Trim(s, "0123456789") != "" || n < 1 || n > max {
		httpapi.Fail(c, http.StatusBadRequest, "invalid", fmt.Sprintf("%s は1〜%dの整数で指定してください。", name, max), name)
		return 0, false
	}
	return n, true
}

// outcome answers an operation's result: the order with its settlement when the provider
// processed it, otherwise the provider's refusal or the unknown state, with the settlement.
func (a *API) outcome(c *gin.Context, o *order.Order, r settlement.Result, err error) {
	if err != nil {
		fail(c, err)
		return
	}
	sv := settlementView(r.Settlement, nil)
	switch r.Outcome {
	case plugins.Processed:
		a.answer(c, http.StatusOK, o, r.Settlement, nil)
	case plugins.Pending:
		a.answer(c, http.StatusAccepted, o, r.Settlement, nil)
	case plugins.Undefined:
		failResult(c, http.StatusBadGateway, "provider_no_answer", plugins.Result{},
			"決済代行会社から応答がありませんでした。取引の状態を確認中です。重複して処理しないよう、状態が確定するまでお待ちください。", gin.H{"settlement": sv})
	default:
		failResult(c, http.StatusUnprocessableEntity, "declined", r.Provider.Result, "決済代行会社が処理を受け付けませんでした。", gin.H{"settlement": sv})
	}
}

func (a *API) orderSettlement(c *gin.Context) (*order.Order, *settlement.Settlement, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		fail(c, order.ErrNotFound)
		return nil, nil, false
	}
	// The settlement is read beside the order, not after it: it names its shop, so it is
	// believed only when it is this shop's and the order is found.
	ctx, shop := c.Request.Context(), httpapi.ShopID(c)
	type read struct {
		s   *settlement.Settlement
		err error
	}
	beside := make(chan read, 1)
	go func() {
		s, err := a.Settlements.ForOrder(ctx, id)
		beside <- read{s, err}
	}()
	o, err := a.Orders.Get(ctx, shop, id)
	r := <-beside
	if err != nil {
		fail(c, err)
		return nil, nil, false
	}
	if r.err == nil && r.s.ShopID != shop {
		r.err = settlement.ErrNotFound
	}
	if errors.Is(r.err, settlement.ErrNotFound) {
		// The order is there: what it lacks is a settlement with a provider.
		r.err = errNoSettlement
	}
	if r.err != nil {
		fail(c, r.err)
		return nil, nil, false
	}
	return o, r.s, true
}

func (a *API) result(c *gin.Context) {
	o, s, ok := a.orderSettlement(c)
	if !ok {
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "リクエストが大きすぎます（1 MiBまで）。", "")
		return
	}
	var probe map[string]any
	if err := json.Unmarshal(body, &probe); err != nil {
		httpapi.Fail(c, http.StatusBadRequest, "malformed_json", "ウィジェットの結果をJSONで送ってください: "+err.Error(), "")
		return
	}
	ctx := c.Request.Context()
	before := s.Status
	r, err := a.Settlements.Confirm(ctx, s.ID, body, o.Plugin(s.Attempt), actor(c))
	// A replayed result (the page posted twice, or the provider's webhook confirmed first)
	// finds the settlement already where it is going: only the result that moved it counts.
	if err == nil && a.Funnel != nil && r.Settlement != nil && r.Settlement.Status != before {
		switch {
		case r.Outcome == plugins.Processed && (r.Settlement.Status == settlement.Authorized || r.Settlement.Status == settlement.Captured):
			a.Funnel.Checkout(o.PaymentName, "succeeded")
		case r.Settlement.Status == settlement.Failed:
			a.Funnel.Checkout(o.PaymentName, "ng")
		}
	}
	if err == nil && r.Settlement != nil && r.Settlement.Status == settlement.Failed && r.Outcome == plugins.Declined {
		// 与信NG is an answer about the order, not a failed request: the order is returned
		// with its 決済エラー settlement and atone's reason.
		reason := ReasonLabels[r.Settlement.Reason]
		// A replayed NG (the result posted again) has no fresh answer from atone: its messages
		// are an empty list, never null.
		a.answer(c, http.StatusOK, o, r.Settlement, gin.H{"ng_reason": reason, "messages": nonNil(r.Provider.Messages)})
		return
	}
	a.outcome(c, o, r, err)
}

// checkout hands out the widget again for an order not yet paid: the buyer closed the widget
// and comes back, or atone declined and the buyer tries again (then with a new attempt, as
// atone refuses a reused shop_transaction_no).
func (a *API) checkout(c *gin.Context) {
	o, s, ok := a.orderSettlement(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	res, err := a.Settlements.Prepare(ctx, s, o.Plugin(s.Attempt), "", actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	if res.Outcome != plugins.Processed {
		failResult(c, http.StatusUnprocessableEntity, "checkout_refused", res.Result, "決済代行会社がこの注文を受け付けませんでした。", nil)
		return
	}
	if a.Funnel != nil {
		a.Funnel.Checkout(o.PaymentName, "prepared")
	}
	a.answer(c, http.StatusOK, o, s, gin.H{"config": widgetView(&res.Widget)})
}

func (a *API) cancelled(c *gin.Context) {
	o, s, ok := a.orderSettlement(c)
	if !ok {
		return
	}
	s, err := a.Settlements.Abandon(c.Request.Context(), s.ID, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	if a.Funnel != nil {
		a.Funnel.Checkout(o.PaymentName, "cancelled")
	}
	a.answer(c, http.StatusOK, o, s, nil)
}

// amountBody is the optional body of 売上計上 and 取消: {"amount": N} asks for N yen of the
// settlement (a module that announced CanPartial takes less than the whole); no body, no
// amount or 0 is the whole amount.
type amountBody struct {
	Amount int64 `json:"amount"`
}

// amount reads amountBody; false when it has answered a malformed one.
func amount(c *gin.Context) (int64, bool) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if httpapi.IsBodyTooLarge(err) {
			httpapi.Fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "リクエストが大きすぎます（1 MiBまで）。", "")
			return 0, false
		}
		httpapi.Fail(c, http.StatusBadRequest, "bad_body", "リクエスト本文を読めません。", "")
		return 0, false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return 0, true
	}
	c.Request.Body = io.NopCloser(strings.NewReader(string(body)))
	var in amountBody
	if !decode(c, &in) {
		return 0, false
	}
	return in.Amount, true
}

func (a *API) capture(c *gin.Context) {
	if o, s, ok := a.orderSettlement(c); ok {
		n, ok := amount(c)
		if !ok {
			return
		}
		r, err := a.Settlements.CaptureAmount(c.Request.Context(), httpapi.ShopID(c), s.ID, n, actor(c))
		a.outcome(c, o, r, err)
	}
}

func (a *API) cancel(c *gin.Context) {
	if o, s, ok := a.orderSettlement(c); ok {
		n, ok := amount(c)
		if !ok {
			return
		}
		r, err := a.Settlements.CancelAmount(c.Request.Context(), httpapi.ShopID(c), s.ID, n, actor(c))
		a.outcome(c, o, r, err)
	}
}

func (a *API) reference(c *gin.Context) {
	o, s, ok := a.orderSettlement(c)
	if !ok {
		return
	}
	r, hs, err := a.Settlements.ReferenceWithHistory(c.Request.Context(), s, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	body, err := withMembers(viewWith(o, r.Settlement, hs), gin.H{"reference": gin.H{
		"outcome": r.Outcome.String(), "state": r.Provider.State.String(), "amount": r.Provider.Amount,
		"provider_id": r.Provider.ProviderID, "code": r.Provider.Code, "messages": nonNil(r.Provider.Messages)}})
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, jsonType, body)
}

func (a *API) editOrder(c *gin.Context) {
	o, ok := a.loadOrder(c)
	if !ok {
		return
	}
	var e order.Edit
	if !decode(c, &e) {
		return
	}
	res, err := order.Update(c.Request.Context(), a.Store.DB, a.Settlements, o, e, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	if res.Outcome != nil {
		a.outcome(c, &res.Order, *res.Outcome, nil)
		return
	}
	a.answer(c, http.StatusOK, &res.Order, nil, gin.H{"provider_updated": res.ProviderUpdated, "notice": res.Notice})
}

// nonNil keeps a list a JSON array when it is empty.
func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
