package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kessai/kessai/plugins/plugintest"
)

func TestModuleRegisterAndList(t *testing.T) {
	bin := plugintest.BuildTestModule(t)
	dir := filepath.Dir(bin)
	vars := map[string]string{
		"KESSAI_PLUGIN_DIR": dir,
		"KESSAI_DB_DSN":     "sqlite://" + filepath.Join(t.TempDir(), "k.db"),
		"KESSAI_LOG_LEVEL":  "error",
	}
	runCmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }})
		return code, out.String(), errb.String()
	}

	code, out, errs := runCmd("module", "register", "testmodule")
	if code != 0 || !strings.Contains(out, "registered testmodule 1.0.0") {
		t.Fatalf("register: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd("module", "list")
	if code != 0 || !strings.Contains(out, "testmodule") || !strings.Contains(out, "registered") || !strings.Contains(out, "1.0.0") {
		t.Fatalf("list: %d\n%s\n%s", code, out, errs)
	}
	t.Log("\n" + out)

	outside := filepath.Join(t.TempDir(), "testmodule")
	b, _ := os.ReadFile(bin)
	if err := os.WriteFile(outside, b, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCmd("module", "register", outside)
	if code != 1 || !strings.Contains(errs, "outside the plugin directory") {
		t.Fatalf("register outside the plugin dir: %d %s", code, errs)
	}
	if code, _, _ := runCmd("module", "register"); code != 2 {
		t.Fatalf("register without argument: %d", code)
	}
}
