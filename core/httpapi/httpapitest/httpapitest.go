// Package httpapitest checks how a package's errors are answered by the one error mapper,
// httpapi.Error, for the packages whose errors reach the shop and admin APIs.
package httpapitest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
)

// Answer is how an error must be answered.
type Answer struct {
	Story  string
	Err    error
	Status int
	Code   string
	Field  string
	Fields int // the details listed, for several broken rules
}

// CheckAnswers runs each answer as a subtest: its error, wrapped as callers wrap it, goes
// through httpapi.Error and must come out with the status, code and field, a message people
// can read, and the details listed.
func CheckAnswers(t *testing.T, answers []Answer) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	for _, a := range answers {
		t.Run(a.Story, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			httpapi.Error(c, fmt.Errorf("while serving: %w", a.Err))
			var body httpapi.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("%d %s: %v", w.Code, w.Body, err)
			}
			e := body.Error
			if w.Code != a.Status || e.Code != a.Code || e.Field != a.Field || e.Message == "" || len(e.Details) != a.Fields {
				t.Fatalf("answered %d %+v, want %d %s on %q with %d details", w.Code, e, a.Status, a.Code, a.Field, a.Fields)
			}
		})
	}
}
