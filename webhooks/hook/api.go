package hook

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/outbox"
)

// Mount adds the shop webhook API to r, which the daemon mounts behind the shop API's key
// authentication; shopID returns the authenticated shop's id from the request:
//
//	POST   /api/v1/webhook-endpoints                 {"url": "https://…", "events": ["settlement.captured", …]}
//	GET    /api/v1/webhook-endpoints
//	DELETE /api/v1/webhook-endpoints/:id
//	GET    /api/v1/webhook-endpoints/:id/deliveries  the delivery log, newest first (?limit=)
func Mount(r gin.IRouter, eps *Endpoints, shopID func(*gin.Context) int64) {
	a := &api{eps: eps, shopID: shopID}
	g := r.Group("/api/v1/webhook-endpoints")
	g.POST("", a.create)
	g.GET("", a.list)
	g.DELETE("/:id", a.remove)
	g.GET("/:id/deliveries", a.deliveries)
}

// api's handlers pass c.Request.Context(), never c: gin recycles its Context when the handler
// returns, while database goroutines may still watch the context they got.
type api struct {
	eps    *Endpoints
	shopID func(*gin.Context) int64
}

// EndpointJSON is an endpoint as the API shows it. Secret is the plain secret in the answer
// to POST and masked everywhere else.
type EndpointJSON struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"`
	Events    []Type    `json:"events"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
}

// DeliveryJSON is one attempt of the delivery log.
type DeliveryJSON struct {
	EventID    string         `json:"event_id"`
	Attempt    int            `json:"attempt"`
	At         time.Time      `json:"at"`
	StatusCode int            `json:"status_code,omitempty"`
	Error      string         `json:"error,omitempty"`
	DurationMS int64          `json:"duration_ms"`
	Outcome    outbox.Outcome `json:"outcome"`
}

func (a *api) view(ep *Endpoint, plainSecret string) EndpointJSON {
	if plainSecret == "" {
		plainSecret = a.eps.MaskedSecret(ep)
	}
	types := ep.Types()
	if types == nil {
		types = []Type{}
	}
	return EndpointJSON{ID: ep.ID, URL: ep.URL, Events: types, Secret: plainSecret, CreatedAt: ep.CreatedAt.UTC()}
}

func (a *api) create(c *gin.Context) {
	var req struct {
		URL    string `json:"url"`
		Events []Type `json:"events"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		if httpapi.IsBodyTooLarge(err) {
			httpapi.Fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "request body is too large", "")
			return
		}
		httpapi.Fail(c, http.StatusBadRequest, "invalid", `body must be {"url": "https://…", "events": ["settlement.captured", …]}`, "")
		return
	}
	ep, plain, err := a.eps.Create(c.Request.Context(), a.shopID(c), req.URL, req.Events)
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	res := a.view(ep, plain)
	c.JSON(http.StatusCreated, gin.H{
		"endpoint": res,
		"message":  "Store this secret now: it is shown only once. Use it to verify the Kessai-Signature header.",
	})
}

func (a *api) list(c *gin.Context) {
	eps, err := a.eps.List(c.Request.Context(), a.shopID(c))
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	out := make([]EndpointJSON, 0, len(eps))
	for i := range eps {
		out = append(out, a.view(&eps[i], ""))
	}
	c.JSON(http.StatusOK, gin.H{"endpoints": out})
}

func (a *api) remove(c *gin.Context) {
	id, ok := a.id(c)
	if !ok {
		return
	}
	if err := a.eps.Delete(c.Request.Context(), a.shopID(c), id); err != nil {
		httpapi.Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *api) deliveries(c *gin.Context) {
	id, ok := a.id(c)
	if !ok {
		return
	}
	limit := 100
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			httpapi.Fail(c, http.StatusBadRequest, "invalid", "limit must be a number from 1 to 1000", "limit")
			return
		}
		limit = n
	}
	ds, err := a.eps.Deliveries(c.Request.Context(), a.shopID(c), id, limit)
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	out := make([]DeliveryJSON, 0, len(ds))
	for _, d := range ds {
		j := DeliveryJSON{EventID: d.EventID, Attempt: d.Attempt.Attempt, At: d.StartedAt.UTC(),
			StatusCode: d.StatusCode, DurationMS: d.DurationMS, Outcome: d.Outcome}
		if d.Error != nil {
			j.Error = *d.Error
		}
		out = append(out, j)
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": out})
}

func (a *api) id(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		httpapi.Error(c, ErrNotFound)
		return 0, false
	}
	return id, true
}
