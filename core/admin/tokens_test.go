package admin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestAdminAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv := admintest.Start(t, admintest.WithStore(st))
		ctx := context.Background()
		call := func(method, path, token, body string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}

		t.Run("the bootstrap token opens the admin API while no admin user exists", func(t *testing.T) {
			if code, b := call("GET", "/admin/api/modules", admintest.Token, ""); code != http.StatusOK {
				t.Fatalf("%d %s", code, b)
			}
			if code, _ := call("GET", "/admin/api/modules", "wrong", ""); code != http.StatusUnauthorized {
				t.Fatalf("a wrong token: %d", code)
			}
		})
		t.Run("and stops with the first admin user", func(t *testing.T) {
			srv.User(t, "alice", alicePW)
			code, b := call("GET", "/admin/api/modules", admintest.Token, "")
			if code != http.StatusUnauthorized || !strings.Contains(b, "kessaid admin token create") {
				t.Fatalf("%d %s", code, b)
			}
		})

		var plain string
		t.Run("an admin API token is shown once and stored as a hash", func(t *testing.T) {
			tk, p, err := admin.CreateToken(ctx, st.DB, "deploy", "test")
			if err != nil {
				t.Fatal(err)
			}
			plain = p
			if !strings.HasPrefix(plain, admin.TokenPrefix) || !strings.HasPrefix(plain, tk.Prefix) || len(plain) < 30 {
				t.Fatalf("token %q prefix %q", plain, tk.Prefix)
			}
			var n int64
			st.DB.Model(&admin.Token{}).Where("hash = ? OR prefix = ?", plain, plain).Count(&n)
			if n != 0 {
				t.Fatal("the token is stored as is")
			}
		})
		t.Run("it reads and writes the admin API, audited under its name", func(t *testing.T) {
			if code, b := call("GET", "/admin/api/modules", plain, ""); code != http.StatusOK {
				t.Fatalf("%d %s", code, b)
			}
			if code, b := call("PUT", "/admin/api/modules/selection", plain, `{"selected":["testmodule"]}`); code != http.StatusOK {
				t.Fatalf("%d %s", code, b)
			}
			p, _ := audit.List(ctx, st.DB, 1, 20)
			if !hasAction(p, "token:deploy", "module.selection") || !hasAction(p, "test", "admin.token.create") {
				t.Fatalf("audit %+v", p.Entries)
			}
		})
		t.Run("names are unique among active tokens and not only digits", func(t *testing.T) {
			if _, _, err := admin.CreateToken(ctx, st.DB, "deploy", "test"); !errors.Is(err, admin.ErrTokenExists) {
				t.Fatalf("same name: %v", err)
			}
			for _, name := range []string{"", "12", "two words"} {
				if _, _, err := admin.CreateToken(ctx, st.DB, name, "test"); !errors.Is(err, admin.ErrTokenName) {
					t.Fatalf("name %q: %v", name, err)
				}
			}
		})
		t.Run("a revoked token is refused at once", func(t *testing.T) {
			if _, err := admin.RevokeToken(ctx, st.DB, "deploy", "test"); err != nil {
				t.Fatal(err)
			}
			if code, _ := call("GET", "/admin/api/modules", plain, ""); code != http.StatusUnauthorized {
				t.Fatalf("revoked: %d", code)
			}
			if _, err := admin.RevokeToken(ctx, st.DB, "deploy", "test"); !errors.Is(err, admin.ErrNoToken) {
				t.Fatalf("revoked twice: %v", err)
			}
			// The name is free again, and an id revokes too.
			tk, p, err := admin.CreateToken(ctx, st.DB, "deploy", "test")
			if err != nil {
				t.Fatal(err)
			}
			if code, _ := call("GET", "/admin/api/modules", p, ""); code != http.StatusOK {
				t.Fatalf("the new token: %d", code)
			}
			if _, err := admin.RevokeToken(ctx, st.DB, itoa(tk.ID), "test"); err != nil {
				t.Fatal(err)
			}
			if code, _ := call("GET", "/admin/api/modules", p, ""); code != http.StatusUnauthorized {
				t.Fatalf("revoked by id: %d", code)
			}
		})
	})
}
