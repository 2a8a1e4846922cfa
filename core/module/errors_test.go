package module_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/core/module"
)

// TestErrorsAnswer: each kind of error the package returns reaches a caller, wrapped as callers
// wrap it, with the status and code the one error mapper gives its kind.
func TestErrorsAnswer(t *testing.T) {
	httpapitest.CheckAnswers(t, []httpapitest.Answer{
		{Story: "unselecting a module an activated payment method uses", Err: &module.SelectionError{Code: module.CodeInUse, Message: "※テストモジュールを未選択にすることはできません。", Slug: "testmodule"}, Status: http.StatusConflict, Code: module.CodeInUse, Field: "selected"},
		{Story: "modules that cannot be used together", Err: &module.SelectionError{Code: module.CodeExclusive, Message: "※併用できない決済が有効化されています", Slug: "solo"}, Status: http.StatusUnprocessableEntity, Code: module.CodeExclusive, Field: "selected"},
		{Story: "a slug no catalog entry has", Err: fmt.Errorf("%w: %q", module.ErrUnknownModule, "nosuch"), Status: http.StatusNotFound, Code: "unknown_module", Field: "slug"},
		{Story: "a module not in use", Err: fmt.Errorf("module atone: %w", module.ErrNotSelected), Status: http.StatusConflict, Code: "not_selected", Field: "slug"},
		{Story: "a module whose adapter gave up", Err: fmt.Errorf("module atone: %w: %s", module.ErrModuleFailed, "crashed 5 times"), Status: http.StatusServiceUnavailable, Code: "module_failed"},
		{Story: "an adapter binary that is not the one registered", Err: module.ErrChecksum, Status: http.StatusServiceUnavailable, Code: "module_failed"},
		{Story: "an adapter speaking another protocol version", Err: module.ErrProtocolVersion, Status: http.StatusServiceUnavailable, Code: "module_failed"},
		{Story: "settings another admin changed meanwhile", Err: module.ErrConflict, Status: http.StatusConflict, Code: "conflict"},
		{Story: "a binary outside the plugin directory", Err: module.ErrPluginDir, Status: http.StatusUnprocessableEntity, Code: "plugin_dir"},
	})
}
