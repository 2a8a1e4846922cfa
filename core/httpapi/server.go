// Package httpapi is kessai's HTTP face: the Gin engine with its middleware (request ids,
// structured logs, panic recovery, body limit), the health endpoints, and the error shape
// every API answers with. Feature packages mount their routes on it.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// MaxBody is the largest request body accepted, 1 MiB: a Welcart order is a few kilobytes.
const MaxBody = 1 << 20

// Check is one readiness probe: nil when the dependency it watches can serve.
type Check func(ctx context.Context) error

// Server is the engine plus what /readyz asks.
type Server struct {
	Engine *gin.Engine
	log    *slog.Logger

	mu     sync.RWMutex
	checks []namedCheck
}

type namedCheck struct {
	name string
	f    Check
}

// New builds the engine with kessai's middleware and /healthz, /readyz. It puts Gin, whose
// mode is process-wide, in release mode first: debug mode prints every route and warns on
// stdout, where kessaid's logs are structured.
func New(log *slog.Logger) *Server {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{Engine: gin.New(), log: log}
	s.Engine.ContextWithFallback = true
	s.Engine.HandleMethodNotAllowed = true
	s.Engine.Use(RequestID(), Logger(log), Recover(log), LimitBody(MaxBody))
	s.Engine.NoRoute(func(c *gin.Context) { Fail(c, http.StatusNotFound, "not_found", "no such endpoint", "") })
	s.Engine.NoMethod(func(c *gin.Context) {
		Fail(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed here", "")
	})
	s.Engine.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	s.Engine.GET("/readyz", s.readyz)
	return s
}

// AddReadiness adds a named probe to /readyz.
func (s *Server) AddReadiness(name string, f Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, namedCheck{name, f})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	s.mu.RLock()
	checks := append([]namedCheck(nil), s.checks...)
	s.mu.RUnlock()
	out := gin.H{}
	ready := true
	for _, ch := range checks {
		if err := ch.f(ctx); err != nil {
			ready = false
			out[ch.name] = err.Error()
		} else {
			out[ch.name] = "ok"
		}
	}
	status := http.StatusOK
	word := "ready"
	if !ready {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	c.JSON(status, gin.H{"status": word, "checks": out})
}

// ServeHTTP lets the Server be used as an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Engine.ServeHTTP(w, r) }
