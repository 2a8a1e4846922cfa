package shopapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the shop API described as an OpenAPI 3.1 document, served at
// /api/v1/openapi.json. The daemon's tests check every answer of the shop API against it
// (daemontest), so it cannot drift from what kessai sends.
//
//go:embed openapi.json
var OpenAPI []byte

// serveOpenAPI answers GET /api/v1/openapi.json: no key needed, a shop's developer reads it
// before having one.
func serveOpenAPI(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/json; charset=utf-8", OpenAPI)
}
