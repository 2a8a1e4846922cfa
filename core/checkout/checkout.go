// Package checkout is the buyer's side of a checkout: kessai.js, the script a shop's page
// includes to run the widget of whatever payment module an order uses. It holds no secret:
// the page talks to the shop's back end, which calls kessai's shop API with the shop key.
package checkout

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

//go:embed kessai.js
var script []byte

// Path is where kessaid serves kessai.js.
const Path = "/kessai.js"

// etag names this build's kessai.js, so a page revalidates it cheaply once its five minutes
// are up, and a kessaid upgrade reaches the shop's pages within them.
var etag = func() string {
	sum := sha256.Sum256(script)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// Mount serves kessai.js at /kessai.js on r (GET and HEAD). Shop pages on other origins load
// it with a plain <script src>; CORS and the resource policy also let them load it with
// crossorigin and integrity attributes.
func Mount(r gin.IRouter) {
	serve := func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		// ServeContent answers If-None-Match with 304, HEAD without a body, and ranges.
		http.ServeContent(c.Writer, c.Request, "kessai.js", time.Time{}, bytes.NewReader(script))
	}
	r.GET(Path, serve)
	r.HEAD(Path, serve)
}
