package continuation

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

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
		{"an edit breaking several rules names every field", ValidationError{
			{Field: "price", Code: "invalid", Message: msgPrice},
			{Field: "next_charging", Code: "too_early", Message: msgChargingPast},
		}, http.StatusUnprocessableEntity, "invalid", "price", 2},
		{"再決済 of a stopped contract is refused by its state", refused(ValidationError{{Field: "status", Code: "stopped", Message: msgStoppedRetry}}),
			http.StatusConflict, "stopped", "status", 1},
		{"確定 of a charge that has its answer is refused by its state", refused(ValidationError{{Field: "charge", Code: "not_unknown", Message: msgNotLost}}),
			http.StatusConflict, "not_unknown", "charge", 1},
		{"a contract that is not there", ErrNotFound, http.StatusNotFound, "not_found", "", 0},
		{"an order that has its contract already", ErrExists, http.StatusConflict, "continuation_exists", "", 0},
		{"a schedule DL Seller does not offer", ErrSchedule, http.StatusUnprocessableEntity, "invalid_schedule", "", 0},
		{"the day's run another replica has", ErrLocked, http.StatusConflict, "run_locked", "", 0},
		{"no settlement operations", ErrUnavailable, http.StatusServiceUnavailable, "payment_module_unavailable", "", 0},
		{"a charge's settlement whose status refuses the change, as the shop API answers it", &settlement.TransitionError{From: settlement.Captured, To: settlement.Failed},
			http.StatusConflict, "status_conflict", "", 0},
		{"a charge's payment module that cannot take the call, as the shop API answers it", settlement.ErrUnavailable,
			http.StatusServiceUnavailable, "payment_module_unavailable", "", 0},
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

func TestRefusedIsStillAValidationError(t *testing.T) {
	err := fmt.Errorf("retry contract 1: %w", refused(ValidationError{{Field: "charge", Code: "not_failed", Message: msgNotFailed}}))
	var v ValidationError
	if !errors.As(err, &v) || len(v) != 1 || v[0].Message != msgNotFailed || !errors.Is(err, ErrRefused) {
		t.Fatalf("%v: as %v, refused %v", err, v, errors.Is(err, ErrRefused))
	}
}
