package errlog_test

import (
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/httpapi/httpapitest"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "a row that is not there", Err: errlog.ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
	})
}
