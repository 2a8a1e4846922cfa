package order_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct {
		story  string
		err    error
		status int
		code   string
		field  string
		fields int // the details listed, for several broken rules
	}{
		{"an order breaking several rules names every field, the first one first", order.ValidationError{
			{Field: "order_number", Code: "required", Message: "注文番号を入力してください。"},
			{Field: "cart[0].price", Code: "out_of_range", Message: "単価は0円以上で指定してください。"},
		}, http.StatusUnprocessableEntity, "required", "order_number", 2},
		{"an order number another order holds", order.ErrDuplicate, http.StatusConflict, "duplicate_order_number", "order_number", 0},
		{"a Welcart order ID another order holds", &order.DuplicateError{Field: "welcart_order_id", Message: "このWelcartの受注IDの受注はすでに登録されています。"},
			http.StatusConflict, "duplicate_welcart_order_id", "welcart_order_id", 0},
		{"an order that is not there, or another shop's", order.ErrNotFound, http.StatusNotFound, "not_found", "", 0},
	} {
		t.Run(tc.story, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			httpapi.Error(c, fmt.Errorf("while serving: %w", tc.err))
			var body httpapi.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("%d %s: %v", w.Code, w.Body, err)
			}
			e := body.Error
			if w.Code != tc.status || e.Code != tc.code || e.Field != tc.field || e.Message == "" || len(e.Details) != tc.fields {
				t.Fatalf("answered %d %+v, want %d %s on %q with %d details", w.Code, e, tc.status, tc.code, tc.field, tc.fields)
			}
		})
	}
}
