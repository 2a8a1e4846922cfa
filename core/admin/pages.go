package admin

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/audit"
)

// dashboardView is the ダッシュボード: module health, and once the order screens are mounted
// today's settlements, the checkout funnel and the error log.
type dashboardView struct {
	Modules      []moduleView  // in use, in selection order
	Unavailable  int           // registered but not in use
	Methods      int           // payment methods
	ActiveMethod int           // of which 使用
	Commerce     *commerceView // nil until MountCommerce
}

func (c *Console) dashboard(ctx *gin.Context) {
	sv, _, err := c.loadModules(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	list, err := c.methods.List(ctx.Request.Context(), false)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	v := dashboardView{Modules: sv.Selected, Unavailable: len(sv.Available), Methods: len(list)}
	for _, m := range list {
		if m.Active() {
			v.ActiveMethod++
		}
	}
	if c.commerce != nil {
		if v.Commerce, err = c.commerceDashboard(ctx.Request.Context()); err != nil {
			c.fail(ctx, err)
			return
		}
	}
	c.render(ctx, http.StatusOK, c.pages["dashboard.html"], View{Title: "ダッシュボード", Path: PathDashboard, Data: v})
}

// auditView is the 監査ログ page.
type auditView struct {
	Log  audit.Page
	Rows []auditRow
}

type auditRow struct {
	audit.Entry
	Label string
}

// Prev is the page before this one, or this one at the start (Welcart's pager: first<< prev<
// n >next >>last).
func (v auditView) Prev() int { return max(v.Log.Page-1, 1) }

// Next is the page after this one, or this one at the end.
func (v auditView) Next() int { return min(v.Log.Page+1, v.Log.Pages()) }

const auditPerPage = 50

func (c *Console) auditPage(ctx *gin.Context) {
	n, _ := strconv.Atoi(ctx.Query("paged"))
	p, err := audit.List(ctx.Request.Context(), c.deps.Store.DB, n, auditPerPage)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	v := auditView{Log: p}
	for _, e := range p.Entries {
		label := actionLabels[e.Action]
		if label == "" {
			label = e.Action
		}
		v.Rows = append(v.Rows, auditRow{Entry: e, Label: label})
	}
	c.render(ctx, http.StatusOK, c.pages["audit.html"], View{Title: "監査ログ", Path: PathAudit, Data: v})
}
