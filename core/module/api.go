package module

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/plugins"
)

// Mount adds the module admin API to r, which the daemon mounts under /admin/api behind its
// admin authentication (the bootstrap token today, sessions later):
//
//	GET  /modules                  catalog, modules in use in order, state and last error
//	PUT  /modules/selection        {"selected": ["atone", …]}
//	GET  /modules/:slug/settings   the settings form, secrets masked
//	PUT  /modules/:slug/settings   {"settings": {"key": "value", …}}
//	POST /modules/:slug/reenable   restart a failed module
func Mount(r gin.IRouter, h *Host) {
	a := &api{h: h}
	r.GET("/modules", a.list)
	r.PUT("/modules/selection", a.selection)
	r.GET("/modules/:slug/settings", a.settings)
	r.PUT("/modules/:slug/settings", a.updateSettings)
	r.POST("/modules/:slug/reenable", a.reenable)
}

// api's handlers pass c.Request.Context(), never c: gin recycles its Context when the handler
// returns, while database/sql and sqlite goroutines may still watch the context they got.
type api struct{ h *Host }

// ListResponse is GET /modules: every catalog entry and the slugs in use, in order.
type ListResponse struct {
	Available []Module `json:"available"`
	Selected  []string `json:"selected"`
}

func (a *api) listResponse(c *gin.Context) (ListResponse, bool) {
	mods, err := a.h.List(c.Request.Context())
	if err != nil {
		httpapi.Error(c, err)
		return ListResponse{}, false
	}
	res := ListResponse{Available: mods, Selected: []string{}}
	for _, m := range mods {
		if m.Selected {
			res.Selected = append(res.Selected, m.Slug)
		}
	}
	return res, true
}

func (a *api) list(c *gin.Context) {
	if res, ok := a.listResponse(c); ok {
		c.JSON(http.StatusOK, res)
	}
}

func (a *api) selection(c *gin.Context) {
	var req struct {
		Selected []string `json:"selected"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || req.Selected == nil {
		httpapi.Fail(c, http.StatusBadRequest, "invalid", `body must be {"selected": ["slug", …]}`, "selected")
		return
	}
	if err := a.h.UpdateSelection(c.Request.Context(), req.Selected, httpapi.Actor(c)); err != nil {
		httpapi.Error(c, err)
		return
	}
	if res, ok := a.listResponse(c); ok {
		c.JSON(http.StatusOK, gin.H{"message": MsgUpdated, "available": res.Available, "selected": res.Selected})
	}
}

func (a *api) settings(c *gin.Context) {
	fields, err := a.h.Settings(c.Request.Context(), c.Param("slug"))
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"slug": c.Param("slug"), "fields": fields})
}

func (a *api) updateSettings(c *gin.Context) {
	var req struct {
		Settings plugins.Settings `json:"settings"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || req.Settings == nil {
		httpapi.Fail(c, http.StatusBadRequest, "invalid", `body must be {"settings": {"key": "value", …}}`, "settings")
		return
	}
	slug := c.Param("slug")
	problems, err := a.h.UpdateSettings(c.Request.Context(), slug, req.Settings, httpapi.Actor(c))
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	if len(problems) > 0 {
		fs := make(fault.Fields, len(problems))
		for i, p := range problems {
			fs[i] = fault.Field{Field: "settings." + p.Field, Code: p.Code, Message: p.Message}
		}
		httpapi.Error(c, fs)
		return
	}
	fields, err := a.h.Settings(c.Request.Context(), slug)
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": MsgUpdated, "slug": slug, "fields": fields})
}

func (a *api) reenable(c *gin.Context) {
	slug := c.Param("slug")
	if err := a.h.Reenable(c.Request.Context(), slug, httpapi.Actor(c)); err != nil {
		httpapi.Error(c, err)
		return
	}
	st, lastErr := a.h.State(slug)
	c.JSON(http.StatusOK, gin.H{"slug": slug, "state": st, "last_error": lastErr})
}
