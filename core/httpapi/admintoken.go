package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// actorKey is where admin authentication middleware leaves who is acting, for audit logs.
const actorKey = "kessai.actor"

// Actor returns who the admin authentication middleware says is making the request, or
// "unknown" when none ran.
func Actor(c *gin.Context) string {
	if a := c.GetString(actorKey); a != "" {
		return a
	}
	return "unknown"
}

// SetActor records who is acting; admin authentication middleware calls it.
func SetActor(c *gin.Context, actor string) { c.Set(actorKey, actor) }

// AdminTokenActor is the actor recorded for requests authenticated by the bootstrap token.
const AdminTokenActor = "admin-token"

// AdminAuthenticator checks an admin bearer token and names who it stands for in audit logs.
// core/admin's Tokens is the daemon's: admin API tokens, and the bootstrap token while no admin
// user exists.
type AdminAuthenticator interface {
	AuthenticateAdmin(ctx context.Context, token string) (actor string, err error)
}

// ErrAdminToken is wrapped by an AdminAuthenticator's refusals; the wrapping error's message is
// shown to the caller. Other errors are failures of the check itself.
var ErrAdminToken = errors.New("invalid admin token")

// AdminBearer guards a route with `Authorization: Bearer <admin token>`, checked by a, and
// records the token's actor.
func AdminBearer(a AdminAuthenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || got == "" {
			c.Header("WWW-Authenticate", `Bearer realm="kessai admin"`)
			Fail(c, http.StatusUnauthorized, "unauthorized", "a valid admin bearer token is required", "")
			return
		}
		actor, err := a.AuthenticateAdmin(c.Request.Context(), strings.TrimSpace(got))
		if errors.Is(err, ErrAdminToken) {
			c.Header("WWW-Authenticate", `Bearer realm="kessai admin", error="invalid_token"`)
			Fail(c, http.StatusUnauthorized, "unauthorized", err.Error(), "")
			return
		}
		if err != nil {
			Error(c, err)
			return
		}
		SetActor(c, actor)
		c.Next()
	}
}

// AdminToken guards a route with one fixed bearer token, for tests and tools that have no
// database; the daemon guards its admin API with AdminBearer. Without a token the route is
// closed (503) rather than open: an empty token must never match an empty header.
func AdminToken(token string) gin.HandlerFunc {
	// Comparing fixed-size digests keeps the comparison constant-time whatever the lengths.
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		if token == "" {
			Fail(c, http.StatusServiceUnavailable, "admin_disabled",
				"the admin API is disabled: set KESSAI_ADMIN_TOKEN to enable it", "")
			return
		}
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		g := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(g[:], want[:]) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="kessai admin"`)
			Fail(c, http.StatusUnauthorized, "unauthorized", "a valid admin bearer token is required", "")
			return
		}
		SetActor(c, AdminTokenActor)
		c.Next()
	}
}
