package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/secret"
)

func TestNoCommandPrintsUsageAndExits2(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), nil, env2(&out, &errb, nil)); code != 2 {
		t.Fatalf("kessaid alone exits %d", code)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "Usage:") || !strings.Contains(errb.String(), "demo") {
		t.Fatalf("stdout %q, stderr %q", out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"--help"}, env2(&out, &errb, nil)); code != 0 || !strings.Contains(out.String(), "Usage:") {
		t.Fatalf("--help: %d %q", code, out.String())
	}
}

// TestCommandsFindTheDemosMasterKey: a command pointed at the demo's database uses the key the
// demo generated beside it; where there is none, the error names the file to look for.
func TestCommandsFindTheDemosMasterKey(t *testing.T) {
	varDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(varDir, "master.key"), []byte(secret.NewKey()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	demoDB := "sqlite://" + filepath.Join(varDir, "kessai.db")
	cmd := func(vars map[string]string) (int, string) {
		var out, errb bytes.Buffer
		vars["KESSAI_PLUGIN_DIR"], vars["KESSAI_LOG_LEVEL"] = t.TempDir(), "error"
		code := run(context.Background(), []string{"continuation", "run", "--date", "2026-01-05"}, env2(&out, &errb, vars))
		return code, errb.String()
	}
	t.Run("by KESSAI_VAR_DIR", func(t *testing.T) {
		if code, stderr := cmd(map[string]string{"KESSAI_DB_DSN": demoDB, "KESSAI_VAR_DIR": varDir}); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("beside the database", func(t *testing.T) {
		if code, stderr := cmd(map[string]string{"KESSAI_DB_DSN": demoDB, "KESSAI_VAR_DIR": t.TempDir()}); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("nowhere: the error names the file", func(t *testing.T) {
		other := t.TempDir()
		code, stderr := cmd(map[string]string{"KESSAI_DB_DSN": "sqlite://" + filepath.Join(other, "k.db"), "KESSAI_VAR_DIR": other})
		if code != 1 || !strings.Contains(stderr, "KESSAI_MASTER_KEY") || !strings.Contains(stderr, filepath.Join(other, "master.key")) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("a broken key file is named", func(t *testing.T) {
		broken := t.TempDir()
		_ = os.WriteFile(filepath.Join(broken, "master.key"), []byte("not hex"), 0o600)
		code, stderr := cmd(map[string]string{"KESSAI_DB_DSN": "sqlite://" + filepath.Join(broken, "k.db"), "KESSAI_VAR_DIR": broken})
		if code != 1 || !strings.Contains(stderr, filepath.Join(broken, "master.key")) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

// TestShopListAlignsByDisplayWidth: with Japanese, half-width kana and ASCII names, every
// column after NAME starts in the same terminal cell.
func TestShopListAlignsByDisplayWidth(t *testing.T) {
	vars := map[string]string{"KESSAI_DB_DSN": "sqlite://" + filepath.Join(t.TempDir(), "k.db")}
	for _, name := range []string{"デモショップ", "ABC", "ｶﾅ商店", "Ｆｕｌｌ"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"shop", "create", name}, env2(&out, &errb, vars)); code != 0 {
			t.Fatalf("create %s: %s", name, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"shop", "list"}, env2(&out, &errb, vars)); code != 0 {
		t.Fatalf("list: %s", errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("list:\n%s", out.String())
	}
	keys := regexp.MustCompile(`  (KEYS|\d+)  `)
	want := -1
	for _, l := range lines {
		m := keys.FindStringIndex(l)
		if m == nil {
			t.Fatalf("no KEYS column in %q", l)
		}
		at := displayWidth(l[:m[0]])
		if want == -1 {
			want = at
		}
		if at != want || strings.HasSuffix(l, " ") {
			t.Fatalf("KEYS at cell %d in %q, %d in the header:\n%s", at, l, want, out.String())
		}
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "デモ": 4, "ｶﾅ": 2, "Ａ": 2, "か\u3099": 2, "店 1": 4} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
