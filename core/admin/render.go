package admin

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/plugins/jst"
)

// View is what every console template gets: the layout's parts and the page's own Data.
type View struct {
	Title string
	Path  string // the page's path under /admin, for the menu's current entry
	Menu  []Page
	Actor string // the signed-in login; empty on the sign-in page
	CSRF  string
	Flash string // a success message carried over a redirect
	Error string // a refusal to show at the top of the page
	// Warning is a success with a caveat (saved, but the provider was not told).
	Warning string
	// SettlementNotice is the time of the last settlement error while the 決済エラーログ has
	// rows: Welcart's notice on every admin screen.
	SettlementNotice string
	Prefix           string
	Data             any
}

// parseTemplates builds the layout and one clone of it per built-in page; a broken template
// is a programming error, found by every test.
func (c *Console) parseTemplates() {
	funcs := template.FuncMap{
		"jst": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(jst.Tokyo).Format("2006-01-02 15:04:05")
		},
		"sanitize": func(s string) template.HTML {
			// UGC policy: the explanation is the shop's own HTML (Welcart lets it show images),
			// but a script in it must not run in the console or in the storefront.
			return template.HTML(c.ugc.Sanitize(s)) // #nosec G203 -- sanitized just now
		},
		"adminpath": func(p string) string { return Prefix + p },
		"query":     url.QueryEscape,
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
	}
	c.base = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	c.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimPrefix(n, "templates/")
		if name == "layout.html" {
			continue
		}
		c.pages[name] = template.Must(template.Must(c.base.Clone()).ParseFS(templateFS, n))
	}
}

// Render writes a page of the console: t (from ParsePage) inside the layout, with title as
// heading and data as .Data. A flash message left by the previous request is shown once.
func (c *Console) Render(ctx *gin.Context, status int, t *template.Template, title string, data any) {
	c.render(ctx, status, t, View{Title: title, Data: data})
}

func (c *Console) render(ctx *gin.Context, status int, t *template.Template, v View) {
	v.Menu = c.menu()
	v.Prefix = Prefix
	if v.Path == "" {
		v.Path = strings.TrimPrefix(ctx.FullPath(), Prefix)
	}
	if s := current(ctx); s != nil {
		v.Actor = s.Login
		v.CSRF = s.csrf
		v.SettlementNotice = c.settlementNotice(ctx.Request.Context())
	}
	if v.Flash == "" && v.Error == "" && v.Warning == "" {
		msg, kind := c.takeFlash(ctx)
		switch kind {
		case 'e':
			v.Error = msg
		case 'w':
			v.Warning = msg
		default:
			v.Flash = msg
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("admin template", "page", v.Title, "err", err)
		ctx.String(http.StatusInternalServerError, "画面の表示に失敗しました。")
		return
	}
	ctx.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

const flashCookie = "kessai_admin_flash"

// redirectFlash answers a successful form post with a redirect (so that reloading does not
// post again) and carries msg to the next page in a short-lived cookie.
func (c *Console) redirectFlash(ctx *gin.Context, to, msg string) { c.redirectWith(ctx, to, "s:"+msg) }

// redirectError is redirectFlash for a refusal, shown as an error.
func (c *Console) redirectError(ctx *gin.Context, to, msg string) { c.redirectWith(ctx, to, "e:"+msg) }

// redirectWarning is redirectFlash for a success with a caveat.
func (c *Console) redirectWarning(ctx *gin.Context, to, msg string) {
	c.redirectWith(ctx, to, "w:"+msg)
}

func (c *Console) redirectWith(ctx *gin.Context, to, value string) {
	http.SetCookie(ctx.Writer, &http.Cookie{
		Name: flashCookie, Value: url.QueryEscape(value), Path: Prefix, MaxAge: 60,
		HttpOnly: true, Secure: c.secure(ctx), SameSite: http.SameSiteLaxMode,
	})
	ctx.Redirect(http.StatusSeeOther, Prefix+to)
}

// takeFlash returns the carried message and its kind: 's' success, 'e' error, 'w' warning.
func (c *Console) takeFlash(ctx *gin.Context) (msg string, kind byte) {
	ck, err := ctx.Request.Cookie(flashCookie)
	if err != nil {
		return "", 's'
	}
	http.SetCookie(ctx.Writer, &http.Cookie{Name: flashCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: c.secure(ctx), SameSite: http.SameSiteLaxMode})
	v, err := url.QueryUnescape(ck.Value)
	if err != nil || len(v) > 1000 || len(v) < 2 || v[1] != ':' {
		return "", 's'
	}
	return v[2:], v[0]
}

func (c *Console) secure(ctx *gin.Context) bool {
	return c.deps.SecureCookies || ctx.Request.TLS != nil
}
