package hook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/webhooks/hook"
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
		{"a URL the policy refuses", invalidURL(t), http.StatusUnprocessableEntity, "invalid", "url", 0},
		{"an endpoint that is not there, or another shop's", hook.ErrNotFound, http.StatusNotFound, "not_found", "id", 0},
		{"one endpoint too many", hook.ErrTooMany, http.StatusConflict, "too_many_endpoints", "", 0},
		{"an event type kessai does not send", fmt.Errorf("publish %q: %w", "settlement.exploded", hook.ErrType), http.StatusUnprocessableEntity, "unknown_event_type", "", 0},
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

// invalidURL is CheckURL's refusal of an empty URL.
func invalidURL(t *testing.T) error {
	_, err := hook.Policy{}.CheckURL(context.Background(), "")
	if err == nil {
		t.Fatal("an empty URL was accepted")
	}
	return err
}
