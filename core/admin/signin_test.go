package admin_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/admin/admintest"
	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// A burst of parallel guesses once got 32 passwords checked and the right one in: the lock was
// read before the password and failures counted after. Now the attempt is counted first.
func TestSignInBurstLocksAfterFiveChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		// The per-address limit would stop the burst on its own; here the account lock must.
		srv := admintest.Start(t, admintest.WithStore(st), admintest.WithSignInLimit(1000, time.Second))
		srv.User(t, "kumi", "kumi-password-1")

		const burst = 40
		codes := make([]int, burst)
		var wg sync.WaitGroup
		errs := make([]error, burst)
		for i := range burst {
			c := srv.NewClient(t)
			c.Get(t, "/admin/login")
			form := url.Values{"_csrf": {c.CSRF}, "log": {"kumi"}, "pwd": {"guess"}}
			wg.Go(func() {
				resp, err := c.PostForm(srv.URL+"/admin/login", form)
				if errs[i] = err; err == nil {
					codes[i] = resp.StatusCode
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if slices.ContainsFunc(codes, func(c int) bool { return c != http.StatusUnauthorized }) {
			t.Fatalf("answers %v, want 401 for every guess", codes)
		}
		// Only an attempt the count let through has its password compared; the audit log says
		// which reason each refusal had.
		if n := refusals(t, st, "kumi", "wrong password"); n != admin.MaxFailures {
			t.Fatalf("%d passwords checked in the burst, want %d", n, admin.MaxFailures)
		}
		if n := refusals(t, st, "kumi", "locked"); n != burst-admin.MaxFailures {
			t.Fatalf("%d attempts refused unchecked, want %d", n, burst-admin.MaxFailures)
		}
		c := srv.NewClient(t)
		if code, _ := c.TrySignIn(t, "kumi", "kumi-password-1"); code != http.StatusUnauthorized {
			t.Fatalf("the right password after the burst: %d, want refused while locked", code)
		}
		var u admin.User
		if err := st.DB.Where("login = ?", "kumi").Take(&u).Error; err != nil || u.LockedUntil == nil {
			t.Fatalf("account not locked: %+v %v", u, err)
		}
		srv.Clock.Advance(admin.LockoutPeriod + time.Minute)
		c.SignIn(t, "kumi", "kumi-password-1")
	})
}

// refusals counts the refused sign-ins of login with the given reason.
func refusals(t *testing.T, st *store.Store, login, reason string) int64 {
	t.Helper()
	var n int64
	err := st.DB.Model(&audit.Entry{}).Where("target = ? AND action IN ? AND detail = ?", login,
		[]string{"admin.signin.failed", "admin.locked"}, `{"reason":"`+reason+`"}`).Count(&n).Error
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	tokenField = regexp.MustCompile(`name="_csrf" value="[^"]*"`)
	tokenMeta  = regexp.MustCompile(`<meta name="csrf-token" content="[^"]*">`)
)

func TestSignInRefusalsLookAlike(t *testing.T) {
	srv := admintest.Start(t, admintest.WithSignInLimit(1000, time.Second))
	srv.User(t, "kumi", "kumi-password-1")
	srv.User(t, "mallory", "mallory-password")
	c := srv.NewClient(t)
	for range admin.MaxFailures {
		c.TrySignIn(t, "mallory", "wrong password")
	}

	type answer struct {
		code int
		body string
		took time.Duration
	}
	try := func(login, password string) answer {
		c.Get(t, "/admin/login")
		before := admin.Hashes.Load()
		start := time.Now()
		code, body := c.Post(t, "/admin/login", url.Values{"_csrf": {c.CSRF}, "log": {login}, "pwd": {password}})
		took := time.Since(start)
		if n := admin.Hashes.Load() - before; n != 1 {
			t.Fatalf("%s: %d password hashes compared, want 1", login, n)
		}
		// The page keeps the login typed and carries a fresh token; the rest must not differ.
		body = tokenField.ReplaceAllString(body, "TOKEN")
		body = tokenMeta.ReplaceAllString(body, "TOKEN")
		body = strings.ReplaceAll(body, `value="`+login+`"`, `value="LOGIN"`)
		return answer{code, body, took}
	}
	// The quickest of three, to compare against: a refusal that skipped the hash would take
	// milliseconds against bcrypt's tens.
	wrong := try("kumi", "wrong password")
	for range 2 {
		again := try("kumi", "wrong password")
		if again.code != wrong.code || again.body != wrong.body {
			t.Fatalf("two wrong passwords answered differently: %d %d", wrong.code, again.code)
		}
		wrong.took = min(wrong.took, again.took)
	}
	for _, tc := range []struct{ name, login, password string }{
		{"locked with the right password", "mallory", "mallory-password"},
		{"locked with a wrong one", "mallory", "wrong password"},
		{"unknown login", "nobody", "wrong password"},
		{"a login no account may have", "no body", "wrong password"},
	} {
		t.Run(tc.name+" answers as a wrong password", func(t *testing.T) {
			got := try(tc.login, tc.password)
			if got.code != wrong.code || got.body != wrong.body {
				t.Fatalf("%d, want %d; bodies equal: %v", got.code, wrong.code, got.body == wrong.body)
			}
			if got.took < wrong.took/4 {
				t.Fatalf("took %v, a wrong password %v", got.took, wrong.took)
			}
		})
	}
	if wrong.code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", wrong.code)
	}
}

func TestSignInLimitPerAddress(t *testing.T) {
	// Ten at once, then one an hour: the test's own slowness refills nothing.
	srv := admintest.Start(t, admintest.WithSignInLimit(10, time.Hour))
	srv.User(t, "kumi", "kumi-password-1")
	// try signs in from a fresh client of c's address with extra headers.
	try := func(c *admintest.Client, login, password string, header ...string) *http.Response {
		t.Helper()
		c.Jar, _ = cookiejar.New(nil)
		c.Get(t, "/admin/login")
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/login",
			strings.NewReader(url.Values{"_csrf": {c.CSRF}, "log": {login}, "pwd": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	c := srv.NewClient(t)

	t.Run("a successful sign-in costs nothing", func(t *testing.T) {
		for range 12 {
			if r := try(c, "kumi", "kumi-password-1"); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", r.StatusCode)
			}
		}
	})
	t.Run("ten failures from one address, over many logins, then 429 even for the right password", func(t *testing.T) {
		for i := range 10 {
			if r := try(c, "someone"+itoa(int64(i)), "guess"); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i+1, r.StatusCode)
			}
		}
		r := try(c, "kumi", "kumi-password-1")
		if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("11th attempt: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
		}
	})
	t.Run("X-Forwarded-For does not make another address; another address has its own allowance", func(t *testing.T) {
		if r := try(c, "kumi", "kumi-password-1", "X-Forwarded-For", "203.0.113.7"); r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("with X-Forwarded-For: %d", r.StatusCode)
		}
		if r := try(srv.NewClientFrom(t, "127.0.0.2"), "kumi", "kumi-password-1"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("from 127.0.0.2: %d", r.StatusCode)
		}
	})
	t.Run("the allowance comes back with time", func(t *testing.T) {
		srv.Clock.Advance(time.Hour)
		if r := try(c, "kumi", "kumi-password-1"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("an hour later: %d", r.StatusCode)
		}
	})
}

// Another site's page cannot make a signed-in admin's browser change anything, even with a
// CSRF token it somehow had: the browser says where the request comes from.
func TestCrossOriginWritesRefused(t *testing.T) {
	srv := admintest.Start(t)
	srv.User(t, "alice", alicePW)
	c := srv.NewClient(t)
	c.SignIn(t, "alice", alicePW)
	add := url.Values{"_csrf": {c.CSRF}, "name": {"代金引換"}, "settlement": {"COD"}, "use": {"activate"}}
	post := func(path string, form url.Values, header ...string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"Sec-Fetch-Site: cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site: same-site (a sibling subdomain)", []string{"Sec-Fetch-Site", "same-site"}},
		{"an Origin of another host", []string{"Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := post("/admin/paymethods", add, tc.header...); code != http.StatusForbidden {
				t.Fatalf("console form: %d", code)
			}
			if code := post("/admin/logout", url.Values{"_csrf": {c.CSRF}}, tc.header...); code != http.StatusForbidden {
				t.Fatalf("sign-out: %d", code)
			}
			if code := post("/admin/login", url.Values{"log": {"alice"}, "pwd": {alicePW}}, tc.header...); code != http.StatusForbidden {
				t.Fatalf("sign-in form: %d", code)
			}
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/admin/api/modules/selection", strings.NewReader(`{"selected":[]}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(admin.CSRFHeader, c.CSRF)
			req.Header.Set(tc.header[0], tc.header[1])
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("admin API: %d", resp.StatusCode)
			}
			if n := methods(t, srv.Store); n != 0 {
				t.Fatalf("%d methods added", n)
			}
		})
	}
	t.Run("the console's own pages still post", func(t *testing.T) {
		if code := post("/admin/paymethods", add, "Sec-Fetch-Site", "same-origin"); code != http.StatusSeeOther {
			t.Fatalf("same-origin: %d", code)
		}
		if code := post("/admin/paymethods/sort", url.Values{"_csrf": {c.CSRF}}, "Origin", srv.URL); code == http.StatusForbidden {
			t.Fatalf("own Origin: %d", code)
		}
		if n := methods(t, srv.Store); n != 1 {
			t.Fatalf("%d methods", n)
		}
	})
}
