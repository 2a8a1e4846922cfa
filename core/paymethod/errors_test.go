package paymethod_test

import (
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/core/paymethod"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "a rule of the input", Err: &paymethod.RuleError{Field: "name", Message: "支払方法名を入力してください。"}, Status: http.StatusUnprocessableEntity, Code: "payment_method_rule", Field: "name"},
		{Story: "a delete the orders bought with the method refuse", Err: &paymethod.RuleError{Field: "id", Message: "この支払方法で購入された受注があるため削除できません。", InUse: true}, Status: http.StatusConflict, Code: "payment_method_in_use", Field: "id"},
		{Story: "a method that is not there", Err: paymethod.ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
	})
}
