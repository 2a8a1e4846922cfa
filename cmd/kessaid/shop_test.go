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
