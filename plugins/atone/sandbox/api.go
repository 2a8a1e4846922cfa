package sandbox

import (
	"encoding/json"
	"net/http"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// createTransaction is POST /v1/transactions (取引登録): validation, token, registration,
// and the payment webhook. An NG authorization is a 200 answer with authorization_result 2.
func (s *Server) createTransaction(sh *shopState, r *http.Request) (int, any) {
	body, err := readBody(r)
	if err != nil {
		return errorAnswer(wire.NewError(wire.CodeSystemError))
	}
	p, details, err := wire.ParsePayment(body, wire.Server)
	if err != nil {
		// atone's server table has no code for broken JSON; the widget's is the closest [I].
		return errorAnswer(wire.NewError(wire.CodeWidgetJSON))
	}
	if details != nil {
		return errorAnswer(wire.NewErrorBody(details...))
	}
	s.mu.Lock()
	tok, eb := s.lookupToken(sh, p.AuthenticationToken)
	var t *transaction
	if eb == nil {
		t, eb = s.register(sh, p, tok, 0)
	}
	var view wire.Transaction
	if t != nil {
		view = t.view()
	}
	s.mu.Unlock()
	if eb != nil {
		return errorAnswer(eb)
	}
	s.paymentWebhook(sh, view)
	return http.StatusOK, view
}

// referenceByBody serves the reference call of clients that send POST +
// X-HTTP-Method-Override: GET to /v1/transactions with {"id": "tr_..."} in the body.
func (s *Server) referenceByBody(sh *shopState, r *http.Request) (int, any) {
	var req struct {
		ID string `json:"id"`
	}
	body, err := readBody(r)
	if err != nil || json.Unmarshal(body, &req) != nil || req.ID == "" {
		return errorAnswer(wire.NewError(wire.CodeNotFound))
	}
	return s.withTransaction(sh, req.ID, func(*transaction) *wire.ErrorBody { return nil })
}

// referenceTransaction is GET /v1/transactions/{id} (取引参照).
func (s *Server) referenceTransaction(sh *shopState, r *http.Request) (int, any) {
	return s.withTransaction(sh, r.PathValue("id"), func(*transaction) *wire.ErrorBody { return nil })
}

// settleTransaction is PATCH /v1/transactions/{id}/settle (売上確定). Any body is ignored:
// clients send none or {"id": ...}.
func (s *Server) settleTransaction(sh *shopState, r *http.Request) (int, any) {
	return s.withTransaction(sh, r.PathValue("id"), s.settle)
}

// refundTransaction is PATCH /v1/transactions/{id}/refund (取消 / 課金払戻). Without
// amount_refund the rest of the amount is refunded, which cancels the transaction.
func (s *Server) refundTransaction(sh *shopState, r *http.Request) (int, any) {
	body, err := readBody(r)
	if err != nil {
		return errorAnswer(wire.NewError(wire.CodeSystemError))
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return errorAnswer(wire.NewError(wire.CodeWidgetJSON))
	}
	// amount_refund arrives as a number or, from some clients, a numeric string.
	var req wire.RefundRequest
	if v, ok := raw["amount_refund"]; ok && v != nil {
		n, ok := refundAmount(v)
		if !ok {
			return errorAnswer(wire.NewError(wire.CodeRefundAmount))
		}
		req.AmountRefund = &n
	}
	req.RefundReason, _ = raw["refund_reason"].(string)
	req.DescriptionRefund, _ = raw["description_refund"].(string)
	return s.withTransaction(sh, r.PathValue("id"), func(t *transaction) *wire.ErrorBody {
		return s.refund(t, req)
	})
}

func refundAmount(v any) (int64, bool) {
	var n int64
	switch t := v.(type) {
	case float64:
		n = int64(t)
		return n, float64(n) == t
	case string:
		err := json.Unmarshal([]byte(t), &n)
		return n, err == nil
	}
	return 0, false
}

// withTransaction finds a shop's transaction (404 EATN0133 for unknown ids and ids of other
// shops alike, so shops cannot probe each other), applies op under the lock and stores what
// op changed.
func (s *Server) withTransaction(sh *shopState, id string, op func(*transaction) *wire.ErrorBody) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := loadTx(s.db, sh, id)
	if err != nil {
		return errorAnswer(s.failed("load transaction", err))
	}
	if t == nil {
		return errorAnswer(wire.NewError(wire.CodeNotFound))
	}
	before, err := t.encode()
	if err != nil {
		return errorAnswer(s.failed("encode transaction", err))
	}
	if eb := op(t); eb != nil {
		return errorAnswer(eb)
	}
	if after, err := t.encode(); err != nil || after != before {
		if err == nil {
			err = saveTx(s.db, t)
		}
		if err != nil {
			return errorAnswer(s.failed("store transaction", err))
		}
	}
	return http.StatusOK, t.view()
}
