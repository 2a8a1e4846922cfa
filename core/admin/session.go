package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/store"
)

// Cookie and header names.
const (
	SessionCookie = "kessai_admin"       // the session id; the database keeps only its hash
	CSRFHeader    = "X-CSRF-Token"       // fetch/AJAX calls send the token here
	CSRFField     = "_csrf"              // forms send it in this field
	loginCSRF     = "kessai_admin_login" // double-submit cookie of the sign-in form, before any session
)

// session is a row of admin_sessions. The id itself is never stored: a copy of the table must
// not let anyone sign in.
type session struct {
	IDHash     string `gorm:"column:id_hash;primaryKey"`
	UserID     uint64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

func (session) TableName() string { return "admin_sessions" }

// Session is the signed-in admin of a request.
type Session struct {
	UserID uint64
	Login  string
	idHash string
	csrf   string
}

// CSRF is the session's token, to put in forms (_csrf) and in the X-CSRF-Token header.
func (s *Session) CSRF() string { return s.csrf }

const sessionKey = "kessai.admin.session"

// current returns the request's session, or nil before requireSession ran or when signed out.
func current(c *gin.Context) *Session {
	if v, ok := c.Get(sessionKey); ok {
		return v.(*Session)
	}
	return nil
}

// CurrentSession returns the signed-in admin of a console request (nil outside the console's
// authenticated routes). Other packages' handlers use its Login as the audit actor.
func CurrentSession(c *gin.Context) *Session { return current(c) }

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// csrfFor derives the session's CSRF token from its id: unguessable without the cookie,
// different for every session, and nothing more to store. The derivation differs from the
// stored hash, so the table does not give the token away either.
func csrfFor(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("kessai admin csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// startSession creates a session for u and sets its cookie.
func (c *Console) startSession(ctx *gin.Context, u User) error {
	id := randomToken()
	now := c.deps.Clock.Now().UTC()
	db := c.deps.Store.DB.WithContext(ctx.Request.Context())
	// Sign-in is rare: a good moment to forget sessions that expired.
	if err := db.Where("expires_at < ?", now).Delete(&session{}).Error; err != nil {
		c.log.Warn("admin: purge expired sessions", "err", err)
	}
	s := session{IDHash: hashID(id), UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(c.deps.SessionIdle)}
	if err := db.Create(&s).Error; err != nil {
		return err
	}
	http.SetCookie(ctx.Writer, &http.Cookie{
		Name: SessionCookie, Value: id, Path: Prefix, HttpOnly: true,
		Secure: c.secure(ctx), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// lookup finds the signed-in admin of a request and keeps the session alive. It returns nil
// when there is no valid session.
func (c *Console) lookup(ctx *gin.Context) *Session {
	ck, err := ctx.Request.Cookie(SessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil
	}
	now := c.deps.Clock.Now().UTC()
	db := c.deps.Store.DB.WithContext(ctx.Request.Context())
	var row session
	err = db.Where("id_hash = ?", hashID(ck.Value)).Take(&row).Error
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Error("admin: session lookup", "err", err)
		}
		return nil
	}
	if !now.Before(row.ExpiresAt) || !now.Before(row.CreatedAt.Add(c.deps.SessionMax)) {
		return nil
	}
	// Slide the idle expiry, but write at most once a minute: every page load would otherwise
	// be a write.
	if now.Sub(row.LastSeenAt) > time.Minute {
		exp := now.Add(c.deps.SessionIdle)
		if max := row.CreatedAt.Add(c.deps.SessionMax); exp.After(max) {
			exp = max
		}
		if err := db.Model(&session{}).Where("id_hash = ?", row.IDHash).
			Updates(map[string]any{"last_seen_at": now, "expires_at": exp}).Error; err != nil {
			c.log.Warn("admin: extend session", "err", err)
		}
	}
	var u User
	if err := db.Select("id", "login").Where("id = ?", row.UserID).Take(&u).Error; err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Error("admin: session user", "err", err)
		}
		return nil
	}
	return &Session{UserID: u.ID, Login: u.Login, idHash: row.IDHash, csrf: csrfFor(ck.Value)}
}

// wantsJSON tells AJAX and API callers, who get 401 JSON, from browsers navigating, who are
// sent to the sign-in page.
func wantsJSON(c *gin.Context) bool {
	return strings.Contains(c.GetHeader("Accept"), "application/json") ||
		strings.HasPrefix(c.ContentType(), "application/json") ||
		c.GetHeader("X-Requested-With") != "" ||
		strings.HasPrefix(c.Request.URL.Path, Prefix+"/api/")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// requireSession lets signed-in admins through, with the CSRF token checked on every request
// that may change something. Others are sent to the sign-in page (401 for JSON callers).
func (c *Console) requireSession(ctx *gin.Context) {
	s := c.lookup(ctx)
	if s == nil {
		if wantsJSON(ctx) {
			httpapi.Fail(ctx, http.StatusUnauthorized, "unauthorized", msgSignInRequired, "")
			return
		}
		next := ""
		if safeMethod(ctx.Request.Method) {
			next = "?next=" + url.QueryEscape(ctx.Request.URL.RequestURI())
		}
		ctx.Redirect(http.StatusSeeOther, Prefix+PathLogin+next)
		ctx.Abort()
		return
	}
	if !safeMethod(ctx.Request.Method) && !c.csrfOK(ctx, s) {
		c.refuseCSRF(ctx)
		return
	}
	ctx.Set(sessionKey, s)
	httpapi.SetActor(ctx, s.Login)
	ctx.Next()
}

func (c *Console) csrfOK(ctx *gin.Context, s *Session) bool {
	got := ctx.GetHeader(CSRFHeader)
	if got == "" && !strings.HasPrefix(ctx.ContentType(), "application/json") {
		got = ctx.PostForm(CSRFField)
	}
	return tokensEqual(got, s.csrf)
}

func (c *Console) refuseCSRF(ctx *gin.Context) {
	if wantsJSON(ctx) {
		httpapi.Fail(ctx, http.StatusForbidden, "csrf", msgCSRF, "")
		return
	}
	ctx.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte(msgCSRF))
	ctx.Abort()
}

// APIAuth guards the JSON admin API (/admin/api): a request with an Authorization header must
// carry an admin token that tokens accepts (an admin API token, or the bootstrap token while
// no admin user exists: see Tokens); otherwise it needs a signed-in console session, and on
// writes the session's X-CSRF-Token. Writes another site's page sends are refused first.
// Failures answer in the API's error shape.
func (c *Console) APIAuth(tokens httpapi.AdminAuthenticator) gin.HandlerFunc {
	bearer := httpapi.AdminBearer(tokens)
	return func(ctx *gin.Context) {
		if err := c.crossOrigin.Check(ctx.Request); err != nil {
			httpapi.Fail(ctx, http.StatusForbidden, "cross_origin", msgCrossOrigin, "")
			return
		}
		if ctx.GetHeader("Authorization") != "" {
			bearer(ctx)
			return
		}
		s := c.lookup(ctx)
		if s == nil {
			httpapi.Fail(ctx, http.StatusUnauthorized, "unauthorized", msgSignInRequired, "")
			return
		}
		if !safeMethod(ctx.Request.Method) && !tokensEqual(ctx.GetHeader(CSRFHeader), s.csrf) {
			httpapi.Fail(ctx, http.StatusForbidden, "csrf", msgCSRF, "")
			return
		}
		ctx.Set(sessionKey, s)
		httpapi.SetActor(ctx, s.Login)
		ctx.Next()
	}
}

// loginView is the sign-in page's data.
type loginView struct {
	Login string
	Next  string
	Token string
}

func (c *Console) loginPage(ctx *gin.Context) {
	if c.lookup(ctx) != nil {
		ctx.Redirect(http.StatusSeeOther, safeNext(ctx.Query("next")))
		return
	}
	c.renderLogin(ctx, http.StatusOK, loginView{Next: ctx.Query("next")}, "")
}

// renderLogin shows the sign-in form with a fresh double-submit token: before sign-in there is
// no session to tie a CSRF token to, and a forged sign-in (into the attacker's account) is an
// attack too.
func (c *Console) renderLogin(ctx *gin.Context, status int, v loginView, errMsg string) {
	v.Token = randomToken()
	http.SetCookie(ctx.Writer, &http.Cookie{
		Name: loginCSRF, Value: v.Token, Path: Prefix + PathLogin, HttpOnly: true,
		Secure: c.secure(ctx), SameSite: http.SameSiteStrictMode, MaxAge: 3600,
	})
	c.render(ctx, status, c.pages["login.html"], View{Title: "ログイン", Path: PathLogin, Error: errMsg, CSRF: v.Token, Data: v})
}

func (c *Console) login(ctx *gin.Context) {
	ck, err := ctx.Request.Cookie(loginCSRF)
	if err != nil || !tokensEqual(ctx.PostForm(CSRFField), ck.Value) {
		c.refuseCSRF(ctx)
		return
	}
	login := strings.TrimSpace(ctx.PostForm("log"))
	v := loginView{Login: login, Next: ctx.PostForm("next")}
	// The connection's peer, not ClientIP: X-Forwarded-For is whatever the client says.
	addr := ctx.RemoteIP()
	if ok, wait := c.signIns.take(addr, c.deps.Clock.Now()); !ok {
		ctx.Header("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		c.renderLogin(ctx, http.StatusTooManyRequests, v, msgTooManyAttempts)
		return
	}
	u, err := c.authenticate(ctx.Request.Context(), login, ctx.PostForm("pwd"))
	switch {
	case errors.Is(err, ErrLocked), errors.Is(err, ErrBadCredentials):
		// One answer for every refusal: a locked account must not tell that it exists.
		c.renderLogin(ctx, http.StatusUnauthorized, v, msgBadCredentials)
		return
	case err != nil:
		c.renderLogin(ctx, http.StatusInternalServerError, v, c.said(ctx, fmt.Errorf("sign in: %w", err)))
		return
	}
	c.signIns.give(addr)
	if err := c.startSession(ctx, u); err != nil {
		c.renderLogin(ctx, http.StatusInternalServerError, v, c.said(ctx, fmt.Errorf("start session: %w", err)))
		return
	}
	if err := audit.Record(ctx.Request.Context(), c.deps.Store.DB, u.Login, "admin.signin", u.Login, nil); err != nil {
		c.log.Error("admin: audit sign-in", "err", err)
	}
	ctx.Redirect(http.StatusSeeOther, safeNext(v.Next))
}

// safeNext keeps the after-sign-in redirect inside the console: an open redirect would let a
// phishing link borrow the shop's sign-in page.
func safeNext(next string) string {
	if strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") &&
		!strings.HasPrefix(next, Prefix+PathLogin) {
		return next
	}
	return Prefix + "/"
}

func (c *Console) logout(ctx *gin.Context) {
	s := current(ctx)
	db := c.deps.Store.DB.WithContext(ctx.Request.Context())
	if err := db.Where("id_hash = ?", s.idHash).Delete(&session{}).Error; err != nil {
		c.log.Error("admin: sign out", "err", err)
	}
	if err := audit.Record(ctx.Request.Context(), db, s.Login, "admin.signout", s.Login, nil); err != nil {
		c.log.Error("admin: audit sign-out", "err", err)
	}
	http.SetCookie(ctx.Writer, &http.Cookie{Name: SessionCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: c.secure(ctx), SameSite: http.SameSiteLaxMode})
	c.redirectFlash(ctx, PathLogin, msgSignedOut)
}
