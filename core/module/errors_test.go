package module_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module"
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
		{"unselecting a module an activated payment method uses", &module.SelectionError{Code: module.CodeInUse, Message: "※テストモジュールを未選択にすることはできません。", Slug: "testmodule"},
			http.StatusConflict, module.CodeInUse, "selected", 0},
		{"modules that cannot be used together", &module.SelectionError{Code: module.CodeExclusive, Message: "※併用できない決済が有効化されています", Slug: "solo"},
			http.StatusUnprocessableEntity, module.CodeExclusive, "selected", 0},
		{"a slug no catalog entry has", fmt.Errorf("%w: %q", module.ErrUnknownModule, "nosuch"), http.StatusNotFound, "unknown_module", "slug", 0},
		{"a module not in use", fmt.Errorf("module atone: %w", module.ErrNotSelected), http.StatusConflict, "not_selected", "slug", 0},
		{"a module whose adapter gave up", fmt.Errorf("module atone: %w: %s", module.ErrModuleFailed, "crashed 5 times"),
			http.StatusServiceUnavailable, "module_failed", "", 0},
		{"an adapter binary that is not the one registered", module.ErrChecksum, http.StatusServiceUnavailable, "module_failed", "", 0},
		{"an adapter speaking another protocol version", module.ErrProtocolVersion, http.StatusServiceUnavailable, "module_failed", "", 0},
		{"settings another admin changed meanwhile", module.ErrConflict, http.StatusConflict, "conflict", "", 0},
		{"a binary outside the plugin directory", module.ErrPluginDir, http.StatusUnprocessableEntity, "plugin_dir", "", 0},
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
