// Package admintest runs the admin console for tests the way the daemon runs it: the real Gin
// engine with kessai's middleware, a fresh database, the module host with the test adapter
// (and, on request, the real atone adapter), served by httptest. It also gives tests a signed-in
// HTTP client, a headless Chromium and a screenshot helper. It is to core/admin what httptest
// is to net/http.
package admintest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/browsertest"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// Token is the bootstrap admin token the test server's /admin/api accepts while no admin user
// exists.
const Token = "admintest-bootstrap-token"

// Server is a running console.
type Server struct {
	URL     string
	Store   *store.Store
	Modules *moduletest.Harness
	Console *admin.Console
	HTTP    *httpapi.Server
	// Clock is the console's clock, and the store's when Start opened it; tests advance it
	// to end lockouts and sessions. It starts at the time Start was called.
	Clock *clockwork.FakeClock
}

type setup struct {
	store   *store.Store
	modules []moduletest.Option
	deps    []func(*admin.Deps)
}

// Option adjusts Start.
type Option func(*setup)

// WithStore serves the console over st instead of a fresh SQLite store.
func WithStore(st *store.Store) Option { return func(s *setup) { s.store = st } }

// WithModuleOptions passes options to moduletest.Start.
func WithModuleOptions(o ...moduletest.Option) Option {
	return func(s *setup) { s.modules = append(s.modules, o...) }
}

// WithSignInLimit sets the console's per-address sign-in limit (admin.Deps.SignInBurst and
// SignInEvery), e.g. to test the account lockout on its own.
func WithSignInLimit(burst int, every time.Duration) Option {
	return func(s *setup) {
		s.deps = append(s.deps, func(d *admin.Deps) { d.SignInBurst, d.SignInEvery = burst, every })
	}
}

// Start serves the console with the test adapter registered and selected, and the JSON admin
// API under /admin/api behind Console.APIAuth, as the daemon wires them.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &setup{}
	for _, o := range opts {
		o(s)
	}
	clock := clockwork.NewFakeClockAt(time.Now())
	if s.store == nil {
		s.store = storetest.SQLite(t, storetest.Clock(clock))
	}
	h := moduletest.Start(t, append([]moduletest.Option{moduletest.WithStore(s.store)}, s.modules...)...)
	log := moduletest.TestLogger(t)
	srv := &Server{Store: s.store, Modules: h, HTTP: httpapi.New(log), Clock: clock}
	deps := admin.Deps{Store: s.store, Modules: h.Host, Log: log, Clock: clock}
	for _, f := range s.deps {
		f(&deps)
	}
	srv.Console = admin.Mount(srv.HTTP.Engine, deps)
	module.Mount(srv.HTTP.Engine.Group("/admin/api", srv.Console.APIAuth(admin.NewTokens(s.store.DB, Token))), h.Host)
	ts := httptest.NewServer(srv.HTTP)
	t.Cleanup(ts.Close)
	srv.URL = ts.URL
	return srv
}

// User creates an admin account.
func (s *Server) User(t testing.TB, login, password string) {
	t.Helper()
	if err := admin.CreateUser(context.Background(), s.Store.DB, login, password, "admintest"); err != nil {
		t.Fatalf("create admin %s: %v", login, err)
	}
}

var atone struct {
	once sync.Once
	bin  []byte
	err  error
}

// RegisterAtone builds the real atone adapter (cmd/kessai-atone) into the harness's plugin
// folder and registers it, unselected: the atone settings tab as a shop owner sees it.
func RegisterAtone(t testing.TB, h *moduletest.Harness) module.Module {
	t.Helper()
	atone.once.Do(func() {
		dir, err := os.MkdirTemp("", "kessai-atone-")
		if err != nil {
			atone.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "kessai-atone")
		if msg, err := exec.Command("go", "build", "-o", out, "github.com/kessai/kessai/cmd/kessai-atone").CombinedOutput(); err != nil {
			atone.err = &buildError{msg: string(msg), err: err}
			return
		}
		atone.bin, atone.err = os.ReadFile(out)
	})
	if atone.err != nil {
		t.Fatalf("build the atone adapter: %v", atone.err)
	}
	path := filepath.Join(h.PluginDir, "kessai-atone")
	if err := os.WriteFile(path, atone.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := h.Register(context.Background(), path, "admintest")
	if err != nil {
		t.Fatalf("register the atone adapter: %v", err)
	}
	return m
}

type buildError struct {
	msg string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.msg }

// Client is an HTTP client with its own cookie jar: one browser, one session.
type Client struct {
	*http.Client
	Base string
	CSRF string // the session's token, read from the last page fetched
}

// NewClient returns a client with no session; it does not follow redirects, so tests see them.
func (s *Server) NewClient(t testing.TB) *Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &Client{
		Client: &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		Base: s.URL,
	}
}

// NewClientFrom is NewClient connecting from the loopback address ip (127.0.0.2, …), to be
// another source address to the per-address limits.
func (s *Server) NewClientFrom(t testing.TB, ip string) *Client {
	t.Helper()
	c := s.NewClient(t)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c.Transport = &http.Transport{DialContext: d.DialContext}
	return c
}

var (
	metaCSRF  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)
	fieldCSRF = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)
)

// Get fetches path and returns the status and body; it remembers the page's CSRF token.
func (c *Client) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	return c.do(t, http.MethodGet, path, "", nil)
}

// Post posts form to path as is: the caller decides whether it carries a _csrf field.
func (c *Client) Post(t testing.TB, path string, form url.Values) (int, string) {
	t.Helper()
	return c.do(t, http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// PostJSON posts a JSON body with the given X-CSRF-Token header ("" for none).
func (c *Client) PostJSON(t testing.TB, method, path, body, csrf string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.Base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if csrf != "" {
		req.Header.Set(admin.CSRFHeader, csrf)
	}
	return c.send(t, req)
}

func (c *Client) do(t testing.TB, method, path, ctype string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.Base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return c.send(t, req)
}

func (c *Client) send(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := metaCSRF.FindSubmatch(b); m != nil && len(m[1]) > 0 {
		c.CSRF = string(m[1])
	} else if m := fieldCSRF.FindSubmatch(b); m != nil {
		c.CSRF = string(m[1])
	}
	return resp.StatusCode, string(b)
}

// SignIn signs the client in through the sign-in form and fails the test if that does not work.
func (c *Client) SignIn(t testing.TB, login, password string) {
	t.Helper()
	if code, body := c.TrySignIn(t, login, password); code != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d\n%s", login, code, body)
	}
	if code, body := c.Get(t, "/admin/"); code != http.StatusOK {
		t.Fatalf("dashboard after sign-in: %d\n%s", code, body)
	}
}

// TrySignIn posts the sign-in form (with its token) and returns the answer.
func (c *Client) TrySignIn(t testing.TB, login, password string) (int, string) {
	t.Helper()
	c.Get(t, "/admin/login")
	return c.Post(t, "/admin/login", url.Values{"_csrf": {c.CSRF}, "log": {login}, "pwd": {password}})
}

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = browsertest.Chromium

// Browser starts a fresh headless Chromium for the test; see browsertest.New.
func Browser(t testing.TB) context.Context { return browsertest.New(t) }

// ScreensDir is where Screenshot writes, under the repository root (gitignored).
func ScreensDir(t testing.TB) string { return browsertest.Dir(t) }

// Screenshot saves the whole page as test-output/screens/name.png and returns the file's path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	path := browsertest.Screenshot(ctx, t, name)
	t.Logf("screenshot %s", path)
	return path
}

// SignIn signs the browser in through the sign-in page and waits for the dashboard.
func SignIn(t testing.TB, ctx context.Context, base, login, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/login"),
		chromedp.WaitVisible(chromedp.CSS("#user_login")),
		chromedp.SendKeys(chromedp.CSS("#user_login"), login),
		chromedp.SendKeys(chromedp.CSS("#user_pass"), password),
		chromedp.Click(chromedp.CSS("#wp-submit")),
		chromedp.WaitVisible(chromedp.CSS("nav.adminmenu")),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", login, err)
	}
}
