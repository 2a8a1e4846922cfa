package idempotency

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/httpapi/httpapitest"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "a key past its time", Err: errExpired, Status: http.StatusConflict, Code: "idempotency_key_expired", Field: Header},
		{Story: "a key used for another request", Err: errReused, Status: http.StatusConflict, Code: "idempotency_key_reused", Field: Header},
		{Story: "a key whose request is running", Err: errInProgress, Status: http.StatusConflict, Code: "request_in_progress", Field: Header},
		{Story: "a key stored by the request that came first", Err: ErrSeen, Status: http.StatusConflict, Code: "request_in_progress", Field: Header},
		{Story: "a body too large to keep", Err: errTooLarge, Status: http.StatusRequestEntityTooLarge, Code: "body_too_large"},
	})
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
