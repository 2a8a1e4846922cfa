package continuation

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/core/settlement"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "an edit breaking several rules names every field", Err: ValidationError{
			{Field: "price", Code: "invalid", Message: msgPrice},
			{Field: "next_charging", Code: "too_early", Message: msgChargingPast},
		}, Status: http.StatusUnprocessableEntity, Code: "invalid", Field: "price", Fields: 2},
		{Story: "再決済 of a stopped contract is refused by its state", Err: refused(ValidationError{{Field: "status", Code: "stopped", Message: msgStoppedRetry}}), Status: http.StatusConflict, Code: "stopped", Field: "status", Fields: 1},
		{Story: "確定 of a charge that has its answer is refused by its state", Err: refused(ValidationError{{Field: "charge", Code: "not_unknown", Message: msgNotLost}}), Status: http.StatusConflict, Code: "not_unknown", Field: "charge", Fields: 1},
		{Story: "a contract that is not there", Err: ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
		{Story: "an order that has its contract already", Err: ErrExists, Status: http.StatusConflict, Code: "continuation_exists"},
		{Story: "a schedule DL Seller does not offer", Err: ErrSchedule, Status: http.StatusUnprocessableEntity, Code: "invalid_schedule"},
		{Story: "the day's run another replica has", Err: ErrLocked, Status: http.StatusConflict, Code: "run_locked"},
		{Story: "no settlement operations", Err: ErrUnavailable, Status: http.StatusServiceUnavailable, Code: "payment_module_unavailable"},
		{Story: "a charge's settlement whose status refuses the change, as the shop API answers it", Err: &settlement.TransitionError{From: settlement.Captured, To: settlement.Failed}, Status: http.StatusConflict, Code: "status_conflict"},
		{Story: "a charge's payment module that cannot take the call, as the shop API answers it", Err: settlement.ErrUnavailable, Status: http.StatusServiceUnavailable, Code: "payment_module_unavailable"},
	})
}

func TestRefusedIsStillAValidationError(t *testing.T) {
	err := fmt.Errorf("retry contract 1: %w", refused(ValidationError{{Field: "charge", Code: "not_failed", Message: msgNotFailed}}))
	var v ValidationError
	if !errors.As(err, &v) || len(v) != 1 || v[0].Message != msgNotFailed || !errors.Is(err, ErrRefused) {
		t.Fatalf("%v: as %v, refused %v", err, v, errors.Is(err, ErrRefused))
	}
}
