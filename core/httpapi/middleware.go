package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// HeaderRequestID carries the request id in and out.
const HeaderRequestID = "X-Request-Id"

var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID keeps a caller's well-formed X-Request-Id or makes one, and echoes it.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !goodRequestID.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set("request_id", id)
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// ID returns the request id of c.
func ID(c *gin.Context) string { return c.GetString("request_id") }

// Logger writes one line per request. It logs the path but never the query string or body,
// which may carry keys or buyers' data.
func Logger(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now() // wall time: the request log's elapsed
		c.Next()
		lvl := slog.LevelInfo
		if c.Writer.Status() >= 500 {
			lvl = slog.LevelError
		}
		if c.Request.URL.Path == "/healthz" || c.Request.URL.Path == "/readyz" || c.Request.URL.Path == "/metrics" {
			lvl = slog.LevelDebug
		}
		attrs := []any{"request_id", ID(c), "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "bytes", c.Writer.Size(), "elapsed", time.Since(start), "remote", c.ClientIP()}
		// A failed request's cause is logged with it, under its request id: the caller was
		// told only the id.
		if len(c.Errors) > 0 {
			attrs = append(attrs, "error", strings.Join(c.Errors.Errors(), "; "))
			if lvl < slog.LevelWarn {
				lvl = slog.LevelWarn
			}
		}
		log.Log(c.Request.Context(), lvl, "http", attrs...)
	}
}

// Recover turns a panic into a 500 with the standard error body and logs the stack.
func Recover(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.Error("panic", "request_id", ID(c), "panic", r, "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					Fail(c, http.StatusInternalServerError, "internal", "internal error; request id "+ID(c), "")
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

// LimitBody caps request bodies at n bytes. A declared Content-Length above it is refused at
// once; a body that grows past it fails when read (see ErrBodyTooLarge).
func LimitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			Fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "request body is larger than 1 MiB", "")
			c.Abort()
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// IsBodyTooLarge reports whether a read error came from LimitBody.
func IsBodyTooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
