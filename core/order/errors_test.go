package order_test

import (
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/core/order"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "an order breaking several rules names every field, the first one first", Err: order.ValidationError{
			{Field: "order_number", Code: "required", Message: "注文番号を入力してください。"},
			{Field: "cart[0].price", Code: "out_of_range", Message: "単価は0円以上で指定してください。"},
		}, Status: http.StatusUnprocessableEntity, Code: "required", Field: "order_number", Fields: 2},
		{Story: "an order number another order holds", Err: order.ErrDuplicate, Status: http.StatusConflict, Code: "duplicate_order_number", Field: "order_number"},
		{Story: "a Welcart order ID another order holds", Err: &order.DuplicateError{Field: "welcart_order_id", Message: "このWelcartの受注IDの受注はすでに登録されています。"}, Status: http.StatusConflict, Code: "duplicate_welcart_order_id", Field: "welcart_order_id"},
		{Story: "an order that is not there, or another shop's", Err: order.ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
	})
}
