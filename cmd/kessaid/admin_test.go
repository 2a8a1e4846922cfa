package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/kessai/kessai/core/admin"
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
