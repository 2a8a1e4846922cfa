package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

const (
	alicePW = "alice-password-1"
	bobPW   = "bob-password-22"
)

// pages are every console screen a signed-out visitor must not see.
var pages = []string{
	"/admin/", "/admin/orders", "/admin/continuations", "/admin/errorlog",
	"/admin/paymethods", "/admin/settlement", "/admin/settlement?tab=testmodule", "/admin/audit",
}

func TestAdminSignInAndCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv := admintest.Start(t, admintest.WithStore(st))
		srv.User(t, "alice", alicePW)
		srv.User(t, "bob", bobPW)
		ctx := context.Background()

		t.Run("signed-out visitors are sent to sign-in, JSON callers get 401", func(t *testing.T) {
			anon := srv.NewClient(t)
			for _, p := range pages {
				code, _ := anon.Get(t, p)
				if code != http.StatusSeeOther {
					t.Errorf("GET %s: %d, want 303 to the sign-in page", p, code)
				}
				code, body := anon.PostJSON(t, http.MethodGet, p, "", "")
				if code != http.StatusUnauthorized || !strings.Contains(body, "unauthorized") {
					t.Errorf("GET %s as JSON: %d %s", p, code, body)
				}
			}
			if code, _ := anon.PostJSON(t, http.MethodGet, "/admin/api/modules", "", ""); code != http.StatusUnauthorized {
				t.Errorf("GET /admin/api/modules: %d", code)
			}
			if code, _ := anon.Post(t, "/admin/paymethods", url.Values{"name": {"x"}, "settlement": {"COD"}}); code == http.StatusSeeOther {
				if n := methods(t, st); n != 0 {
					t.Errorf("a signed-out post added %d methods", n)
				}
			}
		})

		t.Run("the sign-in form itself needs its token", func(t *testing.T) {
			c := srv.NewClient(t)
			c.Get(t, "/admin/login")
			code, _ := c.Post(t, "/admin/login", url.Values{"log": {"alice"}, "pwd": {alicePW}})
			if code != http.StatusForbidden {
				t.Fatalf("sign-in without token: %d", code)
			}
		})

		t.Run("the session cookie is HttpOnly, SameSite and scoped to the console", func(t *testing.T) {
			c := srv.NewClient(t)
			c.Get(t, "/admin/login")
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/login", strings.NewReader(url.Values{"_csrf": {c.CSRF}, "log": {"alice"}, "pwd": {alicePW}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var ck *http.Cookie
			for _, k := range resp.Cookies() {
				if k.Name == admin.SessionCookie {
					ck = k
				}
			}
			if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/admin" || ck.Secure {
				t.Fatalf("session cookie %+v (plain HTTP: not Secure)", ck)
			}
			var n int64
			st.DB.Table("admin_sessions").Where("id_hash = ?", ck.Value).Count(&n)
			if n != 0 {
				t.Fatal("the session id is stored as is, not hashed")
			}
		})

		t.Run("five wrong passwords lock the account for 15 minutes", func(t *testing.T) {
			srv.User(t, "mallory", "mallory-password")
			c := srv.NewClient(t)
			// The lock answers as a wrong password does, and the message says how locks work.
			for i := 1; i <= admin.MaxFailures; i++ {
				code, body := c.TrySignIn(t, "mallory", "wrong password")
				if code != http.StatusUnauthorized || !strings.Contains(body, "ユーザー名またはパスワードが正しくありません。") ||
					!strings.Contains(body, "15分間ロックされます") {
					t.Fatalf("attempt %d: %d", i, code)
				}
			}
			if code, _ := c.TrySignIn(t, "mallory", "mallory-password"); code != http.StatusUnauthorized {
				t.Fatalf("right password while locked: %d", code)
			}
			srv.Clock.Advance(admin.LockoutPeriod + time.Minute)
			c.SignIn(t, "mallory", "mallory-password")
			p, _ := audit.List(ctx, st.DB, 1, 100)
			if !hasAction(p, "mallory", "admin.locked") || !hasAction(p, "mallory", "admin.signin") {
				t.Fatalf("lockout and sign-in not audited: %+v", p.Entries)
			}
		})

		alice, bob := srv.NewClient(t), srv.NewClient(t)
		alice.SignIn(t, "alice", alicePW)
		bob.SignIn(t, "bob", bobPW)
		aliceToken, bobToken := alice.CSRF, bob.CSRF
		if aliceToken == "" || aliceToken == bobToken {
			t.Fatalf("tokens %q %q: each session needs its own", aliceToken, bobToken)
		}
		add := url.Values{"name": {"代金引換"}, "settlement": {"COD"}, "use": {"activate"}}

		t.Run("a form post without the token is refused", func(t *testing.T) {
			if code, _ := alice.Post(t, "/admin/paymethods", add); code != http.StatusForbidden {
				t.Fatalf("%d", code)
			}
		})
		t.Run("a form post with another session's token is refused", func(t *testing.T) {
			f := cloneValues(add)
			f.Set("_csrf", bobToken)
			if code, _ := alice.Post(t, "/admin/paymethods", f); code != http.StatusForbidden {
				t.Fatalf("%d", code)
			}
			if n := methods(t, st); n != 0 {
				t.Fatalf("refused posts added %d methods", n)
			}
		})
		t.Run("with its own token the post goes through and is audited", func(t *testing.T) {
			f := cloneValues(add)
			f.Set("_csrf", aliceToken)
			if code, body := alice.Post(t, "/admin/paymethods", f); code != http.StatusSeeOther {
				t.Fatalf("%d %s", code, body)
			}
			p, _ := audit.List(ctx, st.DB, 1, 10)
			if !hasAction(p, "alice", "paymethod.add") {
				t.Fatalf("no audit row: %+v", p.Entries)
			}
		})
		t.Run("fetch calls need the X-CSRF-Token header of their own session", func(t *testing.T) {
			list, _ := paymethod.New(st.DB, nil).List(ctx, false)
			body := `{"ids":[` + itoa(list[0].ID) + `]}`
			for _, tc := range []struct {
				token string
				want  int
			}{{"", http.StatusForbidden}, {bobToken, http.StatusForbidden}, {aliceToken, http.StatusOK}} {
				if code, b := alice.PostJSON(t, http.MethodPost, "/admin/paymethods/sort", body, tc.token); code != tc.want {
					t.Errorf("token %q: %d %s, want %d", tc.token, code, b, tc.want)
				}
			}
		})
		t.Run("the JSON admin API accepts a session, with CSRF on writes; the bootstrap token is closed once admins exist", func(t *testing.T) {
			if code, b := alice.PostJSON(t, http.MethodGet, "/admin/api/modules", "", ""); code != http.StatusOK || !strings.Contains(b, "testmodule") {
				t.Fatalf("GET with a session: %d %s", code, b)
			}
			sel := `{"selected":["testmodule"]}`
			if code, _ := alice.PostJSON(t, http.MethodPut, "/admin/api/modules/selection", sel, ""); code != http.StatusForbidden {
				t.Fatalf("PUT without CSRF: %d", code)
			}
			if code, _ := alice.PostJSON(t, http.MethodPut, "/admin/api/modules/selection", sel, bobToken); code != http.StatusForbidden {
				t.Fatalf("PUT with bob's token: %d", code)
			}
			if code, b := alice.PostJSON(t, http.MethodPut, "/admin/api/modules/selection", sel, aliceToken); code != http.StatusOK {
				t.Fatalf("PUT with the token: %d %s", code, b)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/api/modules", nil)
			req.Header.Set("Authorization", "Bearer "+admintest.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("bootstrap token with admins: %v %v", err, resp)
			}
			resp.Body.Close()
		})
		t.Run("sign-out ends the session for good", func(t *testing.T) {
			jar := bob.Jar.Cookies(mustURL(t, srv.URL+"/admin/"))
			if code, _ := bob.Post(t, "/admin/logout", url.Values{"_csrf": {bobToken}}); code != http.StatusSeeOther {
				t.Fatalf("sign out: %d", code)
			}
			replay := srv.NewClient(t)
			replay.Jar.SetCookies(mustURL(t, srv.URL+"/admin/"), jar)
			if code, _ := replay.Get(t, "/admin/"); code != http.StatusSeeOther {
				t.Fatalf("the old cookie still works: %d", code)
			}
		})
		t.Run("監査ログ lists the actions newest first", func(t *testing.T) {
			code, body := alice.Get(t, "/admin/audit")
			if code != http.StatusOK {
				t.Fatalf("%d", code)
			}
			signout, add := strings.Index(body, "admin.signout"), strings.Index(body, "paymethod.add")
			if signout < 0 || add < 0 || signout > add {
				t.Fatalf("audit page order: signout at %d, add at %d", signout, add)
			}
		})
	})
}

func TestAdminSettingsNeverShowSecrets(t *testing.T) {
	srv := admintest.Start(t)
	srv.User(t, "alice", alicePW)
	c := srv.NewClient(t)
	c.SignIn(t, "alice", alicePW)
	const secret = "sk_live_never_show_me_9876"
	code, body := c.Post(t, "/admin/settlement/modules/testmodule", url.Values{
		"_csrf": {c.CSRF}, "public_key": {"pk_shop"}, "secret_key": {secret}, "settle": {"on"}, "limit": {"abc"},
	})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "与信上限額は0以上の整数で入力してください。") || strings.Contains(body, secret) {
		t.Fatalf("refused form: %d; secret shown: %v", code, strings.Contains(body, secret))
	}
	code, _ = c.Post(t, "/admin/settlement/modules/testmodule", url.Values{
		"_csrf": {c.CSRF}, "public_key": {"pk_shop"}, "secret_key": {secret}, "settle": {"on"}, "limit": {"5000"},
	})
	if code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	code, body = c.Get(t, "/admin/settlement?tab=testmodule")
	if code != http.StatusOK || strings.Contains(body, secret) || !strings.Contains(body, "********9876") {
		t.Fatalf("settings page: %d; secret shown: %v; mask shown: %v", code, strings.Contains(body, secret), strings.Contains(body, "********9876"))
	}
	// An empty secret keeps the stored one.
	if code, _ := c.Post(t, "/admin/settlement/modules/testmodule", url.Values{"_csrf": {c.CSRF}, "public_key": {"pk_shop2"}, "secret_key": {""}}); code != http.StatusSeeOther {
		t.Fatalf("save without secret: %d", code)
	}
	vals, _ := srv.Modules.Settings(context.Background(), moduletest.Slug)
	for _, v := range vals {
		if v.Key == "secret_key" && v.Value != "********9876" {
			t.Fatalf("secret replaced: %q", v.Value)
		}
	}
}

func TestAdminPaymethodInUseCannotBeDeleted(t *testing.T) {
	srv := admintest.Start(t)
	srv.User(t, "alice", alicePW)
	c := srv.NewClient(t)
	c.SignIn(t, "alice", alicePW)
	ctx := context.Background()
	pm, err := paymethod.New(srv.Store.DB, nil).Add(ctx, paymethod.Method{Name: "代金引換", Settlement: "COD"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := srv.Store.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('テスト店', ?)", now).Error; err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.DB.Exec("INSERT INTO orders (shop_id, order_number, order_payment_name, order_date, created_at, updated_at) VALUES (1, '1000', '代金引換', ?, ?, ?)", now, now, now).Error; err != nil {
		t.Fatal(err)
	}
	code, body := c.Post(t, "/admin/paymethods/"+itoa(pm.ID)+"/delete", url.Values{"_csrf": {c.CSRF}})
	if code != http.StatusConflict || !strings.Contains(body, "削除せずに「停止」で更新してください。") {
		t.Fatalf("%d", code)
	}
	if _, err := paymethod.New(srv.Store.DB, nil).Get(ctx, pm.ID); err != nil {
		t.Fatalf("deleted anyway: %v", err)
	}
}

func methods(t *testing.T, st *store.Store) int {
	t.Helper()
	l, err := paymethod.New(st.DB, nil).List(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

func hasAction(p audit.Page, actor, action string) bool {
	for _, e := range p.Entries {
		if e.Actor == actor && e.Action == action {
			return true
		}
	}
	return false
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
