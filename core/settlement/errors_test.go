package settlement_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/settlement"
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
		{"an operation the status does not allow", &settlement.OperationError{Op: settlement.OpCapture, From: settlement.Cancelled},
			http.StatusConflict, "status_conflict", "", 0},
		{"an operation while another holds the settlement", &settlement.OperationError{Op: settlement.OpCancel, From: settlement.Authorized, Busy: true},
			http.StatusConflict, "status_conflict", "", 0},
		{"an operation the module does not offer", &settlement.OperationError{Op: settlement.OpModify, From: settlement.Authorized, Unsupported: true, Module: "atone"},
			http.StatusConflict, "operation_not_supported", "", 0},
		{"a status change the table refuses", settlement.Check(settlement.Captured, settlement.Failed), http.StatusConflict, "status_conflict", "", 0},
		{"a settlement changed by someone else meanwhile", fmt.Errorf("settlement tr_1 authorized→captured: %w", settlement.ErrConflict),
			http.StatusConflict, "status_conflict", "", 0},
		{"a busy settlement", settlement.ErrBusy, http.StatusConflict, "status_conflict", "", 0},
		{"a payment module that cannot take the call", fmt.Errorf("%w: atone: %v", settlement.ErrUnavailable, "module failed"),
			http.StatusServiceUnavailable, "payment_module_unavailable", "", 0},
		{"a provider that cannot say where the transaction stands", settlement.ErrUnresolved, http.StatusServiceUnavailable, "unresolved", "", 0},
		{"a settlement that is not there", settlement.ErrNotFound, http.StatusNotFound, "not_found", "", 0},
		{"a conclusion for a charge that has its answer", settlement.ErrNotLost, http.StatusConflict, "not_unknown", "", 0},
		{"a conclusion without its reason", settlement.ErrNoReason, http.StatusUnprocessableEntity, "required", "reason", 0},
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

func TestOperationErrorTellsItsMessage(t *testing.T) {
	oe := &settlement.OperationError{Op: settlement.OpCapture, From: settlement.Cancelled}
	if d := fault.Of(fmt.Errorf("capture: %w", oe)); d.Message != oe.Message() {
		t.Fatalf("message %q, want %q", d.Message, oe.Message())
	}
}
