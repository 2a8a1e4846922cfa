package shop_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/core/shop"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "a shop that is not there", Err: shop.ErrNotFound, Status: http.StatusNotFound, Code: "not_found"},
		{Story: "a name too long or empty", Err: shop.ErrName, Status: http.StatusUnprocessableEntity, Code: "invalid", Field: "name"},
		{Story: "an API key that is not there", Err: shop.ErrKeyNotFound, Status: http.StatusNotFound, Code: "not_found"},
		{Story: "a key for a revoked shop", Err: fmt.Errorf("shop %d: %w", 3, shop.ErrRevoked), Status: http.StatusConflict, Code: "shop_revoked"},
	})
}
