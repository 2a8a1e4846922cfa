package idempotency

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
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
		{"a key past its time", errExpired, http.StatusConflict, "idempotency_key_expired", Header, 0},
		{"a key used for another request", errReused, http.StatusConflict, "idempotency_key_reused", Header, 0},
		{"a key whose request is running", errInProgress, http.StatusConflict, "request_in_progress", Header, 0},
		{"a key stored by the request that came first", ErrSeen, http.StatusConflict, "request_in_progress", Header, 0},
		{"a body too large to keep", errTooLarge, http.StatusRequestEntityTooLarge, "body_too_large", "", 0},
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

func TestInternalAnswerKeepsItsCause(t *testing.T) {
	gin.SetMode(gin.TestMode)
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	cause := errors.New("dial tcp 127.0.0.1:3306: connection refused")
	m := newMiddleware(nil, Options{})
	m.internal(c, "idempotency lookup failed", 7, "k-1", cause)
	var body httpapi.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusInternalServerError || body.Error.Code != "internal" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "3306") {
		t.Fatalf("the answer shows the cause: %s", w.Body)
	}
	if len(c.Errors) != 1 || !errors.Is(c.Errors[0].Err, cause) || !strings.Contains(c.Errors[0].Error(), `shop 7 key "k-1"`) {
		t.Fatalf("recorded for the request log: %v", c.Errors)
	}
}
