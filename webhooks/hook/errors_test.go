package hook_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/webhooks/hook"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "a URL the policy refuses", Err: invalidURL(t), Status: http.StatusUnprocessableEntity, Code: "invalid", Field: "url"},
		{Story: "an endpoint that is not there, or another shop's", Err: hook.ErrNotFound, Status: http.StatusNotFound, Code: "not_found", Field: "id"},
		{Story: "one endpoint too many", Err: hook.ErrTooMany, Status: http.StatusConflict, Code: "too_many_endpoints"},
		{Story: "an event type kessai does not send", Err: fmt.Errorf("publish %q: %w", "settlement.exploded", hook.ErrType), Status: http.StatusUnprocessableEntity, Code: "unknown_event_type"},
	})
}

// invalidURL is CheckURL's refusal of an empty URL.
func invalidURL(t *testing.T) error {
	_, err := hook.Policy{}.CheckURL(context.Background(), "")
	if err == nil {
		t.Fatal("an empty URL was accepted")
	}
	return err
}
