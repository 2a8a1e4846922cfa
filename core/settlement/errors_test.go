package settlement_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/core/settlement"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "an operation the status does not allow", Err: &settlement.OperationError{Op: settlement.OpCapture, From: settlement.Cancelled}, Status: http.StatusConflict, Code: "status_conflict"},
		{Story: "an operation while another holds the settlement", Err: &settlement.OperationError{Op: settlement.OpCancel, From: settlement.Authorized, Busy: true}, Status: http.StatusConflict, Code: "status_conflict"},
		{Story: "an operation the module does not offer", Err: &settlement.OperationError{Op: settlement.OpModify, From: settlement.Authorized, Unsupported: true, Module: "atone"}, Status: http.StatusConflict, Code: "operation_not_supported"},
		{Story: "a status change the table refuses", Err: settlement.Check(settlement.Captured, settlement.Failed), Status: http.StatusConflict, Code: "status_conflict"},
		{Story: "a settlement changed by someone else meanwhile", Err: fmt.Errorf("settlement tr_1 authorized→captured: %w", settlement.ErrConflict), Status: http.StatusConflict, Code: "status_conflict"},
		{Story: "a busy settlement", Err: settlement.ErrBusy, Status: http.StatusConflict, Code: "status_conflict"},
		{Story: "a payment module that cannot take the call", Err: fmt.Errorf("%w: atone: %v", settlement.ErrUnavailable, "module failed"), Status: http.StatusServiceUnavailable, Code: "payment_module_unavailable"},
		{Story: "a provider that cannot say where the transaction stands", Err: settlement.ErrUnresolved, Status: http.StatusServiceUnavailable, Code: "unresolved"},
		{Story: "a settlement that is not there", Err: settlement.ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
		{Story: "a conclusion for a charge that has its answer", Err: settlement.ErrNotLost, Status: http.StatusConflict, Code: "not_unknown"},
		{Story: "a conclusion without its reason", Err: settlement.ErrNoReason, Status: http.StatusUnprocessableEntity, Code: "required", Field: "reason"},
	})
}

func TestOperationErrorTellsItsMessage(t *testing.T) {
	oe := &settlement.OperationError{Op: settlement.OpCapture, From: settlement.Cancelled}
	if d := fault.Of(fmt.Errorf("capture: %w", oe)); d.Message != oe.Message() {
		t.Fatalf("message %q, want %q", d.Message, oe.Message())
	}
}
