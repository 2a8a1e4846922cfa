package shopapi

import (
	"time"

	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
)

// OrderView is an order as the shop API answers it: Welcart's field names, plus its
// settlement.
type OrderView struct {
	ID          int64  `json:"id"`
	OrderNumber string `json:"order_number"`
	DecoID      string `json:"deco_id"`
	// WelcartOrderID and WelcartTransID are the order's ids in the shop's Welcart, when given.
	WelcartOrderID *int64          `json:"welcart_order_id,omitempty"`
	WelcartTransID *string         `json:"welcart_trans_id,omitempty"`
	MemberID       int64           `json:"member_id"`
	Customer       customerView    `json:"customer"`
	Delivery       *order.Address  `json:"delivery,omitempty"`
	Cart           []order.Line    `json:"cart"`
	Order          order.Totals    `json:"order"`
	OrderStatus    string          `json:"order_status"`
	ProcessStatus  string          `json:"process_status"`
	OrderDate      time.Time       `json:"order_date"`
	Settlement     *SettlementView `json:"settlement,omitempty"`
}

type customerView struct {
	Email string `json:"mailaddress1"`
	order.Address
}

// SettlementView is a settlement with its history.
type SettlementView struct {
	ID             int64         `json:"id"`
	TransID        string        `json:"trans_id"`
	WcTransID      string        `json:"wc_trans_id"`
	Module         string        `json:"module"`
	SettlementCode string        `json:"settlement_code"`
	Status         string        `json:"status"`
	StatusLabel    string        `json:"status_label"`
	Amount         int64         `json:"amount"`
	Reason         string        `json:"reason,omitempty"`
	ReasonLabel    string        `json:"reason_label,omitempty"`
	CapturedAt     *time.Time    `json:"captured_at,omitempty"`
	History        []historyView `json:"history,omitempty"`
}

type historyView struct {
	Operation      string    `json:"operation"`
	OperationLabel string    `json:"operation_label"`
	Amount         int64     `json:"amount"`
	Outcome        string    `json:"outcome,omitempty"`
	StatusFrom     string    `json:"status_from,omitempty"`
	StatusTo       string    `json:"status_to"`
	Code           string    `json:"code,omitempty"`
	Message        string    `json:"message,omitempty"`
	Actor          string    `json:"actor"`
	CreatedAt      time.Time `json:"created_at"`
}

// ReasonLabels are atone's NG reasons (authorization_result_ng_reason).
var ReasonLabels = map[string]string{"1": "金額超過", "9": "その他"}

func orderView(o *order.Order) OrderView {
	v := OrderView{
		ID: o.ID, OrderNumber: o.Number, DecoID: o.DecoID(), WelcartOrderID: o.WelcartOrderID, WelcartTransID: o.WelcartTransID,
		MemberID: o.MemberID,
		Customer: customerView{Email: o.Email, Address: o.Customer()}, Delivery: o.Delivery(), Cart: o.Cart(),
		Order: order.Totals{TotalItemsPrice: o.ItemTotal, Discount: o.Discount, ShippingCharge: o.ShippingCharge,
			CODFee: o.CODFee, Tax: o.Tax, UsedPoint: o.UsedPoint, GetPoint: o.GetPoint, TotalFullPrice: o.Total,
			PaymentName: o.PaymentName, Note: o.Note, DeliveryMethod: o.DeliveryMethod},
		OrderStatus: o.Status, ProcessStatus: o.ProcessLabel(), OrderDate: o.Date,
	}
	if v.Cart == nil {
		v.Cart = []order.Line{}
	}
	return v
}

func settlementView(s *settlement.Settlement, hs []settlement.History) *SettlementView {
	if s == nil {
		return nil
	}
	v := &SettlementView{ID: s.ID, TransID: s.TransID, WcTransID: s.WcTransID, Module: s.Module, SettlementCode: s.SettlementCode,
		Status: string(s.Status), StatusLabel: s.Status.Label(), Amount: s.Amount, Reason: s.Reason,
		ReasonLabel: ReasonLabels[s.Reason], CapturedAt: s.CapturedAt}
	for _, h := range hs {
		v.History = append(v.History, historyView{Operation: string(h.Operation), OperationLabel: h.Operation.Label(), Amount: h.Amount,
			Outcome: h.Outcome, StatusFrom: string(h.StatusFrom), StatusTo: string(h.StatusTo), Code: h.Code, Message: h.Message,
			Actor: h.Actor, CreatedAt: h.CreatedAt})
	}
	return v
}
