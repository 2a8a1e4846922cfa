package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/shop"
)

// ShopKeys checks a shop's API key (core/shop's Shops).
type ShopKeys interface {
	Authenticate(ctx context.Context, key string) (*shop.Shop, error)
}

const shopKey = "kessai.shop"

// ShopID returns the shop that ShopAuth authenticated; 0 when none did.
func ShopID(c *gin.Context) int64 {
	if s, ok := c.Get(shopKey); ok {
		return s.(*shop.Shop).ID
	}
	return 0
}

// ShopAuth authenticates `Authorization: Bearer KEY` with a shop's API key, names the shop as
// the request's actor ("shop:3") and marks answers no-store: they carry buyers' data. A key
// that cannot be checked because the database does not answer is 503, never 401.
func ShopAuth(keys ShopKeys) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		key, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="kessai"`)
			Fail(c, http.StatusUnauthorized, "unauthorized", "Authorization: Bearer <APIキー> を指定してください。", "Authorization")
			return
		}
		sh, err := keys.Authenticate(c.Request.Context(), strings.TrimSpace(key))
		switch {
		case errors.Is(err, shop.ErrBadKey):
			c.Header("WWW-Authenticate", `Bearer realm="kessai", error="invalid_token"`)
			Fail(c, http.StatusUnauthorized, "unauthorized", "APIキーが正しくないか、失効しています。", "Authorization")
			return
		case errors.Is(err, context.Canceled):
			Fail(c, 499, "canceled", "request canceled", "")
			return
		case err != nil:
			// The key could not be checked (the database is down): telling the shop its key
			// is wrong would send its operator rotating a good key.
			c.Error(err) //nolint:errcheck // recorded for the log
			c.Header("Retry-After", "30")
			Fail(c, http.StatusServiceUnavailable, "service_unavailable", "ただいまサービスを利用できません。しばらくしてから再度お試しください。", "")
			return
		}
		c.Set(shopKey, sh)
		SetActor(c, fmt.Sprintf("shop:%d", sh.ID))
		c.Next()
	}
}
