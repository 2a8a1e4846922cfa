package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
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

// AdminToken guards the admin API with the bootstrap bearer token (KESSAI_ADMIN_TOKEN) until
// the admin console's sessions replace it. Without a configured token the admin API is closed
// (503) rather than open: an empty token must never match an empty header.
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
