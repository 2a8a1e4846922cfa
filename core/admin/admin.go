// Package admin is the shop owner's console: server-rendered pages in Welcart's words and
// layout (クレジット決済設定, 基本設定 > 支払方法, 監査ログ, …), signed-in sessions with CSRF
// protection, and a page registry through which other packages (orders, settlement, the error
// log, continuation billing) add their screens to the same layout and navigation.
//
// The console changes nothing itself: it calls the packages that own the data (module,
// paymethod) and records who asked in the audit log.
package admin

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"
	"github.com/microcosm-cc/bluemonday"

	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Prefix is where the console lives.
const Prefix = "/admin"

// Modules is what the console needs of the module host (*module.Host).
type Modules interface {
	List(ctx context.Context) ([]module.Module, error)
	UpdateSelection(ctx context.Context, slugs []string, actor string) error
	Settings(ctx context.Context, slug string) ([]module.SettingValue, error)
	UpdateSettings(ctx context.Context, slug string, in plugins.Settings, actor string) ([]plugins.FieldError, error)
	Reenable(ctx context.Context, slug, actor string) error
}

var _ Modules = (*module.Host)(nil)

// Deps are the parts of the daemon the console works on.
type Deps struct {
	Store   *store.Store
	Modules Modules

	// Methods is the payment method registry; nil builds one over Store whose allowed
	// settlement codes are those of the modules in use.
	Methods *paymethod.Methods

	Log *slog.Logger

	// SecureCookies marks cookies Secure even when the request did not arrive over TLS here
	// (TLS ends at a proxy in front of kessaid). Requests that arrive over TLS always get them.
	SecureCookies bool

	// SessionIdle and SessionMax bound a session: it ends after SessionIdle without a request
	// [2h] and SessionMax after sign-in in any case [12h].
	SessionIdle time.Duration
	SessionMax  time.Duration

	// SignInBurst and SignInEvery limit sign-in attempts per source address (the connection's
	// peer: X-Forwarded-For is not trusted), on top of the per-account lockout: SignInBurst at
	// once [10], then one every SignInEvery [10s]. A successful sign-in gives its attempt back.
	SignInBurst int
	SignInEvery time.Duration

	// Clock tells the time of sessions, lockouts and sign-in limits; tests advance it to
	// expire them. Nil means the store's clock.
	Clock clockwork.Clock
}

// Console is the mounted admin console.
type Console struct {
	deps    Deps
	log     *slog.Logger
	methods *paymethod.Methods
	ugc     *bluemonday.Policy
	base    *template.Template
	pages   map[string]*template.Template // built-in page templates by file name
	authed  *gin.RouterGroup              // /admin behind a session and CSRF

	commerce *Commerce // the order screens' dependencies once MountCommerce ran
	dialogs  *dialog.Service

	signIns     *addressLimit               // sign-in attempts per source address
	crossOrigin *http.CrossOriginProtection // refuses other sites' writes before any handler

	mu   sync.RWMutex
	nav  []Page
	byPa map[string]*Page
}

// Page is one screen in the console's navigation. Other packages add theirs with AddPage.
type Page struct {
	// Path is under /admin ("/orders").
	Path string
	// Title is the menu label and page heading, in Welcart's words ("受注リスト").
	Title string
	// Order places the menu entry; built-in entries use multiples of 10.
	Order int
	// Handler serves GET Path for a signed-in admin; it renders with Console.Render. A page
	// reserved in the menu (受注リスト, 決済エラーログ, 継続課金会員リスト) shows "準備中"
	// until a package adds its handler.
	Handler gin.HandlerFunc
}

// Paths of the built-in screens and of the screens reserved for packages still to come.
const (
	PathDashboard     = "/"
	PathOrders        = "/orders"
	PathContinuations = "/continuations"
	PathErrorLog      = "/errorlog"
	PathPaymethods    = "/paymethods"
	PathSettlement    = "/settlement"
	PathAudit         = "/audit"
	PathLogin         = "/login"
	PathLogout        = "/logout"
)

// Mount builds the console and adds its routes to r under /admin. The JSON admin API under
// /admin/api is not mounted here; guard it with APIAuth.
func Mount(r gin.IRouter, deps Deps) *Console {
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.Clock == nil {
		deps.Clock = deps.Store.Clock
	}
	if deps.SessionIdle <= 0 {
		deps.SessionIdle = 2 * time.Hour
	}
	if deps.SessionMax <= 0 {
		deps.SessionMax = 12 * time.Hour
	}
	if deps.SignInBurst <= 0 {
		deps.SignInBurst = 10
	}
	if deps.SignInEvery <= 0 {
		deps.SignInEvery = 10 * time.Second
	}
	methods := deps.Methods
	if methods == nil {
		methods = paymethod.New(deps.Store.DB, moduleCodes{deps.Modules})
	}
	c := &Console{
		deps:    deps,
		log:     deps.Log,
		methods: methods,
		ugc:     bluemonday.UGCPolicy(),
		byPa:    map[string]*Page{},

		signIns:     newAddressLimit(deps.SignInBurst, deps.SignInEvery),
		crossOrigin: http.NewCrossOriginProtection(),
	}
	c.parseTemplates()

	g := r.Group(Prefix, securityHeaders, c.sameOrigin)
	static, _ := fs.Sub(assetFS, "assets")
	g.StaticFS("/assets", http.FS(static))
	// Browsers ask every site for /favicon.ico: the console's tab, the demo storefront's and
	// the API's answer with kessai's mark instead of a 404 in the log.
	r.GET("/favicon.ico", serveFavicon)
	g.GET(PathLogin, c.loginPage)
	g.POST(PathLogin, c.login)

	c.authed = g.Group("", c.requireSession)
	c.authed.POST(PathLogout, c.logout)
	c.addBuiltin(Page{Path: PathDashboard, Title: "ダッシュボード", Order: 10, Handler: c.dashboard})
	c.addBuiltin(Page{Path: PathOrders, Title: "受注リスト", Order: 20})
	c.addBuiltin(Page{Path: PathContinuations, Title: "継続課金会員リスト", Order: 30})
	c.addBuiltin(Page{Path: PathErrorLog, Title: "決済エラーログ", Order: 40})
	c.addBuiltin(Page{Path: PathPaymethods, Title: "基本設定 > 支払方法", Order: 50, Handler: c.paymethodsPage})
	c.addBuiltin(Page{Path: PathSettlement, Title: "クレジット決済設定", Order: 60, Handler: c.settlementPage})
	c.addBuiltin(Page{Path: PathAudit, Title: "監査ログ", Order: 90, Handler: c.auditPage})

	c.authed.POST(PathSettlement+"/selection", c.updateSelection)
	c.authed.POST(PathSettlement+"/modules/:slug", c.updateSettings)
	c.authed.POST(PathSettlement+"/modules/:slug/reenable", c.reenable)
	c.authed.POST(PathPaymethods, c.addPaymethod)
	c.authed.POST(PathPaymethods+"/sort", c.sortPaymethods)
	c.authed.POST(PathPaymethods+"/:id", c.updatePaymethod)
	c.authed.POST(PathPaymethods+"/:id/delete", c.deletePaymethod)
	return c
}

// addBuiltin registers a menu entry and its GET route. The route looks the handler up per
// request, so that a reserved entry can be filled in later by AddPage.
func (c *Console) addBuiltin(p Page) {
	c.mu.Lock()
	pp := p
	c.nav = append(c.nav, pp)
	c.byPa[p.Path] = &pp
	c.mu.Unlock()
	c.authed.GET(p.Path, c.servePage(p.Path))
}

func (c *Console) servePage(path string) gin.HandlerFunc {
	return func(ctx *gin.Context) {
		c.mu.RLock()
		p := c.byPa[path]
		c.mu.RUnlock()
		if p == nil || p.Handler == nil {
			c.Render(ctx, http.StatusOK, c.pages["placeholder.html"], p.Title, nil)
			return
		}
		p.Handler(ctx)
	}
}

// AddPage adds a screen to the console, or gives a reserved one (受注リスト, 決済エラーログ,
// 継続課金会員リスト) its handler. It must be called before the server starts serving.
func (c *Console) AddPage(p Page) {
	c.mu.Lock()
	if old, ok := c.byPa[p.Path]; ok {
		old.Handler = p.Handler
		if p.Title != "" {
			old.Title = p.Title
		}
		// The menu holds its own copies; without the handler there it would still say 準備中.
		for i := range c.nav {
			if c.nav[i].Path == p.Path {
				c.nav[i].Title, c.nav[i].Handler = old.Title, p.Handler
			}
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.addBuiltin(p)
}

// Routes is /admin behind a signed-in session, with CSRF checked on every request that is not
// GET or HEAD: where other packages add the POST handlers of their pages.
func (c *Console) Routes() gin.IRoutes { return c.authed }

// ParsePage parses a page template of another package into the console's layout: the files
// must define "content"; they may use the layout's helpers (see templates/layout.html).
func (c *Console) ParsePage(fsys fs.FS, patterns ...string) (*template.Template, error) {
	t, err := c.base.Clone()
	if err != nil {
		return nil, err
	}
	return t.ParseFS(fsys, patterns...)
}

func (c *Console) menu() []Page {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Page, len(c.nav))
	copy(out, c.nav)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out
}

// securityHeaders keep console pages out of frames, caches and other origins' scripts: the
// settings pages show masked secrets and every page carries a CSRF token.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if c.Request.URL.Path != Prefix+"/assets" && !hasPrefix(c.Request.URL.Path, Prefix+"/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// sameOrigin refuses a request that may change something when the browser says it comes from
// another site (Sec-Fetch-Site, or an Origin whose host is not ours): a second wall beside the
// CSRF tokens, which a bug in one form could leave out.
func (c *Console) sameOrigin(ctx *gin.Context) {
	if err := c.crossOrigin.Check(ctx.Request); err != nil {
		if wantsJSON(ctx) {
			httpapi.Fail(ctx, http.StatusForbidden, "cross_origin", msgCrossOrigin, "")
			return
		}
		ctx.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte(msgCrossOrigin))
		ctx.Abort()
		return
	}
	ctx.Next()
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// moduleCodes gives paymethod the settlement codes of the modules in use, each with its module.
type moduleCodes struct{ m Modules }

var _ paymethod.Codes = moduleCodes{}

func (mc moduleCodes) SettlementCodes(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	if mc.m == nil {
		return out, nil
	}
	mods, err := mc.m.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		if !m.Selected {
			continue
		}
		for _, code := range m.SettlementCodes {
			if _, ok := out[code]; !ok {
				out[code] = m.Slug
			}
		}
	}
	return out, nil
}

// serveFavicon answers /favicon.ico with the console's icon (a 32×32 PNG in an ICO, under 300
// bytes), cached for a day.
func serveFavicon(ctx *gin.Context) {
	b, err := assetFS.ReadFile("assets/favicon.ico")
	if err != nil {
		ctx.Status(http.StatusNotFound)
		return
	}
	ctx.Header("Cache-Control", "public, max-age=86400")
	ctx.Data(http.StatusOK, "image/x-icon", b)
}
