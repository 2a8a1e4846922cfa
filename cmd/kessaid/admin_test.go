package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
)

func TestAdminCommands(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
	vars := map[string]string{"KESSAI_DB_DSN": dsn, "KESSAI_LOG_LEVEL": "error"}
	runCmd := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }})
		return code, out.String(), errb.String()
	}
	hashOf := func(t *testing.T, login string) string {
		t.Helper()
		st, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var u admin.User
		if err := st.DB.Where("login = ?", login).Take(&u).Error; err != nil {
			t.Fatal(err)
		}
		return u.PasswordHash
	}

	t.Run("a password shorter than 10 characters is refused", func(t *testing.T) {
		code, _, errs := runCmd("short\n", "admin", "create", "hanako")
		if code != 1 || !strings.Contains(errs, "at least 10 characters") {
			t.Fatalf("%d %s", code, errs)
		}
	})
	t.Run("create stores a bcrypt hash of the password read from stdin", func(t *testing.T) {
		code, out, errs := runCmd("correct horse battery\n", "admin", "create", "hanako")
		if code != 0 || !strings.Contains(out, "created admin hanako") {
			t.Fatalf("%d %s %s", code, out, errs)
		}
		h := hashOf(t, "hanako")
		if !strings.HasPrefix(h, "$2") || bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery")) != nil {
			t.Fatalf("stored hash %q does not verify", h)
		}
	})
	t.Run("a second account with the same login is refused", func(t *testing.T) {
		if code, _, errs := runCmd("another password\n", "admin", "create", "hanako"); code != 1 || !strings.Contains(errs, "already exists") {
			t.Fatalf("%d %s", code, errs)
		}
	})
	t.Run("passwd replaces the hash", func(t *testing.T) {
		code, out, errs := runCmd("a new long password\n", "admin", "passwd", "hanako")
		if code != 0 || !strings.Contains(out, "password of hanako changed") {
			t.Fatalf("%d %s %s", code, out, errs)
		}
		if bcrypt.CompareHashAndPassword([]byte(hashOf(t, "hanako")), []byte("a new long password")) != nil {
			t.Fatal("new password does not verify")
		}
		if code, _, errs := runCmd("a new long password\n", "admin", "passwd", "nobody"); code != 1 || !strings.Contains(errs, "no such admin user") {
			t.Fatalf("passwd of an unknown login: %d %s", code, errs)
		}
	})
	t.Run("list shows the accounts, never a hash", func(t *testing.T) {
		code, out, _ := runCmd("", "admin", "list")
		if code != 0 || !strings.Contains(out, "hanako") || strings.Contains(out, "$2") {
			t.Fatalf("%d\n%s", code, out)
		}
	})
	t.Run("usage mistakes exit 2", func(t *testing.T) {
		if code, _, _ := runCmd("x\n", "admin", "create"); code != 2 {
			t.Fatalf("create without login: %d", code)
		}
		if code, _, _ := runCmd("", "admin", "create", "taro"); code != 2 {
			t.Fatalf("create without a password on stdin: %d", code)
		}
	})
}

func TestAdminTokenCommands(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
	vars := map[string]string{"KESSAI_DB_DSN": dsn, "KESSAI_LOG_LEVEL": "error"}
	runCmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }})
		return code, out.String(), errb.String()
	}
	authenticates := func(t *testing.T, token string) bool {
		t.Helper()
		st, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = admin.NewTokens(st.DB, "").AuthenticateAdmin(context.Background(), token)
		return err == nil
	}

	var token string
	t.Run("create prints the token once, as the last line", func(t *testing.T) {
		code, out, errs := runCmd("admin", "token", "create", "welcart-bridge")
		if code != 0 || !strings.Contains(out, `created admin token 1 "welcart-bridge"`) {
			t.Fatalf("%d %s %s", code, out, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		token = lines[len(lines)-1]
		if !strings.HasPrefix(token, admin.TokenPrefix) || !authenticates(t, token) {
			t.Fatalf("printed token %q does not authenticate", token)
		}
	})
	t.Run("a second active token of the same name is refused", func(t *testing.T) {
		if code, _, errs := runCmd("admin", "token", "create", "welcart-bridge"); code != 1 || !strings.Contains(errs, "already has this name") {
			t.Fatalf("%d %s", code, errs)
		}
	})
	t.Run("list shows names and prefixes, never a token", func(t *testing.T) {
		runCmd("admin", "token", "create", "deploy")
		code, out, _ := runCmd("admin", "token", "list")
		if code != 0 || !strings.Contains(out, "welcart-bridge") || !strings.Contains(out, "deploy") ||
			!strings.Contains(out, token[:10]) || strings.Contains(out, token) {
			t.Fatalf("%d\n%s", code, out)
		}
	})
	t.Run("revoke by name or id", func(t *testing.T) {
		if code, out, errs := runCmd("admin", "token", "revoke", "welcart-bridge"); code != 0 || !strings.Contains(out, "revoked admin token 1") {
			t.Fatalf("%d %s %s", code, out, errs)
		}
		if authenticates(t, token) {
			t.Fatal("a revoked token still authenticates")
		}
		if code, _, _ := runCmd("admin", "token", "revoke", "2"); code != 0 {
			t.Fatalf("revoke by id: %d", code)
		}
		if code, _, errs := runCmd("admin", "token", "revoke", "2"); code != 1 || !strings.Contains(errs, "no such active admin token") {
			t.Fatalf("revoked twice: %d %s", code, errs)
		}
		if _, out, _ := runCmd("admin", "token", "list"); strings.Count(out, "revoked") != 2 {
			t.Fatalf("list after revoking:\n%s", out)
		}
	})
	t.Run("usage mistakes exit 2", func(t *testing.T) {
		for _, args := range [][]string{{"admin", "token", "create"}, {"admin", "token", "revoke"}, {"admin", "token", "list", "x"}} {
			if code, _, _ := runCmd(args...); code != 2 {
				t.Errorf("%v: %d", args, code)
			}
		}
	})
}

// KESSAI_ADMIN_TOKEN left in a deployment's environment: kessaid warns at start, and the token
// stops opening the admin API once an admin user exists.
func TestServeBootstrapTokenUntilFirstAdmin(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite://" + filepath.Join(dir, "k.db")
	const bootstrap = "bootstrap-token-for-the-test"
	url, cmd, stderr := startServe(t, "KESSAI_HTTP_ADDR=127.0.0.1:0", "KESSAI_DB_DSN="+dsn, "KESSAI_MASTER_KEY="+secret.NewKey(),
		"KESSAI_ADMIN_TOKEN="+bootstrap)
	get := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url+"/admin/api/modules", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(bootstrap); code != http.StatusOK {
		t.Fatalf("bootstrap token before any admin: %d", code)
	}
	vars := map[string]string{"KESSAI_DB_DSN": dsn, "KESSAI_LOG_LEVEL": "error"}
	cli := func(stdin string, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errb.String())
		}
		return out.String()
	}
	cli("correct horse battery\n", "admin", "create", "hanako")
	if code := get(bootstrap); code != http.StatusUnauthorized {
		t.Fatalf("bootstrap token after the first admin: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(cli("", "admin", "token", "create", "deploy")), "\n")
	token := lines[len(lines)-1]
	if code := get(token); code != http.StatusOK {
		t.Fatalf("admin API token: %d", code)
	}
	cli("", "admin", "token", "revoke", "deploy")
	if code := get(token); code != http.StatusUnauthorized {
		t.Fatalf("revoked admin API token: %d", code)
	}
	// The log is read once the process is done with it.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(stderr.String(), `"level":"WARN","msg":"KESSAI_ADMIN_TOKEN is set`) {
		t.Fatalf("no warning at start: %s", stderr.String())
	}
}
