package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
)

func TestShopCommands(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env{stdout: &out, stderr: &errb, getenv: func(k string) string {
			if k == "KESSAI_DB_DSN" {
				return dsn
			}
			return ""
		}})
		return out.String() + errb.String(), code
	}
	out, code := run("shop", "create", "デモ", "ショップ")
	if code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sh, err := shop.New(st.DB).Authenticate(context.Background(), key)
	if err != nil || sh.Name != "デモ ショップ" {
		t.Fatalf("the printed key does not authenticate: %v %v", sh, err)
	}
	if out, _ := run("shop", "list"); !strings.Contains(out, "デモ ショップ") || !strings.Contains(out, "active") {
		t.Fatalf("list: %s", out)
	}
	if _, code := run("shop", "revoke", "x"); code != 2 {
		t.Fatalf("bad id exit %d", code)
	}
	if out, code := run("shop", "revoke", "1"); code != 0 {
		t.Fatalf("revoke: %s", out)
	}
	if _, err := shop.New(st.DB).Authenticate(context.Background(), key); err == nil {
		t.Fatal("revoked key still authenticates")
	}
}

func TestShopKeyRotateAndRevoke(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env{stdout: &out, stderr: &errb, getenv: func(k string) string {
			if k == "KESSAI_DB_DSN" {
				return dsn
			}
			return ""
		}})
		return out.String() + errb.String(), code
	}
	lastLine := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[len(lines)-1]
	}
	out, code := run("shop", "create", "デモショップ")
	if code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	first := lastLine(out)
	out, code = run("shop", "key", "rotate", "1")
	if code != 0 {
		t.Fatalf("rotate: %d %s", code, out)
	}
	second := lastLine(out)
	out, code = run("shop", "key", "1") // the command's first name still adds a key
	if code != 0 {
		t.Fatalf("shop key: %d %s", code, out)
	}
	third := lastLine(out)
	if first == second || second == third || !strings.HasPrefix(second, shop.KeyPrefix) || !strings.HasPrefix(third, shop.KeyPrefix) {
		t.Fatalf("keys %q %q %q", first, second, third)
	}

	out, code = run("shop", "keys", "1")
	if code != 0 {
		t.Fatalf("keys: %d %s", code, out)
	}
	for _, k := range []string{first, second, third} {
		if strings.Contains(out, k) {
			t.Fatalf("shop keys prints a key: %s", out)
		}
	}
	if !strings.Contains(out, "KEY ID") || strings.Count(out, "active") != 3 {
		t.Fatalf("shop keys: %s", out)
	}

	if out, code := run("shop", "key", "revoke", "1"); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if _, code := run("shop", "key", "revoke", "x"); code != 2 {
		t.Fatalf("bad key id exit %d", code)
	}
	if out, code := run("shop", "key", "revoke", "99"); code != 1 || !strings.Contains(out, "no such API key") {
		t.Fatalf("unknown key: %d %s", code, out)
	}
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	shops := shop.New(st.DB)
	if _, err := shops.Authenticate(context.Background(), first); err == nil {
		t.Fatal("the revoked key still authenticates")
	}
	for _, k := range []string{second, third} {
		if _, err := shops.Authenticate(context.Background(), k); err != nil {
			t.Fatalf("revoking one key stopped another: %v", err)
		}
	}
	if out, _ := run("shop", "keys", "1"); strings.Count(out, "active") != 2 || !strings.Contains(out, "revoked") {
		t.Fatalf("after revoke: %s", out)
	}
}
