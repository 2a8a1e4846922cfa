package shop_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/shop"
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
		{"a shop that is not there", shop.ErrNotFound, http.StatusNotFound, "not_found", "", 0},
		{"a name too long or empty", shop.ErrName, http.StatusUnprocessableEntity, "invalid", "name", 0},
		{"an API key that is not there", shop.ErrKeyNotFound, http.StatusNotFound, "not_found", "", 0},
		{"a key for a revoked shop", fmt.Errorf("shop %d: %w", 3, shop.ErrRevoked), http.StatusConflict, "shop_revoked", "", 0},
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
