package continuation

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/settlement"
)

// Mount adds the shop API's view of an order's contract to r, the shop API's /api/v1 group
// behind its key authentication; shopID returns the authenticated shop:
//
//	GET /api/v1/orders/:id/continuation   the contract (next_charging, next_contracting, status)
//	                                      and its charges (period, amount, status, provider_id)
//
// Another shop's order answers 404, as for an order without a contract.
func Mount(r gin.IRouter, shopID func(*gin.Context) int64, sv *Service) {
	a := &api{sv: sv}
	r.GET("/orders/:id/continuation", func(c *gin.Context) {
		id, ok := a.param(c, "id")
		if !ok {
			return
		}
		d, err := sv.ForOrder(c.Request.Context(), shopID(c), id)
		if err != nil {
			httpapi.Error(c, err)
			return
		}
		c.JSON(http.StatusOK, d)
	})
}

// MountAdmin adds the admin JSON operations to r (the daemon's /admin/api group, behind admin
// authentication; the actor comes from httpapi.Actor):
//
//	GET   /continuations                          ?status=&member_id=&order_id=&shop_id=&limit=&offset=
//	GET   /continuations/:id                      with charges
//	PATCH /continuations/:id                      {"next_charging","next_contracting","price","status"}
//	POST  /continuations/:id/charges/:cid/retry   再決済 of a failed charge
//	POST  /continuations/:id/charges/:cid/capture 売上計上 of a 仮売上 charge
//	POST  /continuations/:id/charges/:cid/cancel  取消
//	POST  /continuations/:id/charges/:cid/conclude {"provider_id","reason"}: a person's answer
//	                                              for a 確認中 charge
//	GET   /continuation-settings                  {"run_time","admin_mail"}
//	PUT   /continuation-settings
func MountAdmin(r gin.IRouter, sv *Service) {
	a := &api{sv: sv}
	r.GET("/continuations", a.list)
	r.GET("/continuations/:id", a.get)
	r.PATCH("/continuations/:id", a.update)
	r.POST("/continuations/:id/charges/:cid/retry", a.retry)
	r.POST("/continuations/:id/charges/:cid/capture", a.operate((*Service).Capture))
	r.POST("/continuations/:id/charges/:cid/cancel", a.operate((*Service).Cancel))
	r.POST("/continuations/:id/charges/:cid/conclude", a.conclude)
	r.GET("/continuation-settings", a.settings)
	r.PUT("/continuation-settings", a.saveSettings)
}

// api's handlers pass c.Request.Context(), never c: gin recycles its Context when the handler
// returns.
type api struct{ sv *Service }

// ListJSON is the answer of GET /continuations.
type ListJSON struct {
	Continuations []View `json:"continuations"`
	Total         int64  `json:"total"`
}

func (a *api) list(c *gin.Context) {
	f := Filter{Status: Status(c.Query("status"))}
	f.MemberID, _ = strconv.ParseInt(c.Query("member_id"), 10, 64)
	f.OrderID, _ = strconv.ParseInt(c.Query("order_id"), 10, 64)
	f.ShopID, _ = strconv.ParseInt(c.Query("shop_id"), 10, 64)
	f.Limit, _ = strconv.Atoi(c.Query("limit"))
	f.Offset, _ = strconv.Atoi(c.Query("offset"))
	vs, total, err := a.sv.List(c.Request.Context(), f)
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, ListJSON{Continuations: vs, Total: total})
}

func (a *api) get(c *gin.Context) {
	id, ok := a.param(c, "id")
	if !ok {
		return
	}
	d, err := a.sv.Get(c.Request.Context(), 0, id)
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (a *api) update(c *gin.Context) {
	id, ok := a.param(c, "id")
	if !ok {
		return
	}
	var u Update
	if err := c.ShouldBindJSON(&u); err != nil {
		httpapi.Fail(c, http.StatusBadRequest, "invalid_json", err.Error(), "")
		return
	}
	d, err := a.sv.Update(c.Request.Context(), id, u, httpapi.Actor(c))
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (a *api) retry(c *gin.Context) {
	id, ok := a.param(c, "id")
	if !ok {
		return
	}
	cid, ok := a.param(c, "cid")
	if !ok {
		return
	}
	res, err := a.sv.Retry(c.Request.Context(), id, cid, httpapi.Actor(c))
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// OperationJSON is the answer of capture and cancel: the charge's settlement as it is now and
// what the provider answered.
type OperationJSON struct {
	SettlementID int64             `json:"settlement_id"`
	Status       settlement.Status `json:"status"`
	StatusLabel  string            `json:"status_label"`
	Outcome      string            `json:"outcome"`
	Code         string            `json:"code,omitempty"`
	Messages     []string          `json:"messages,omitempty"`
}

func (a *api) operate(op func(*Service, context.Context, int64, int64, string) (settlement.Result, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := a.param(c, "id")
		if !ok {
			return
		}
		cid, ok := a.param(c, "cid")
		if !ok {
			return
		}
		res, err := op(a.sv, c.Request.Context(), id, cid, httpapi.Actor(c))
		if err != nil {
			httpapi.Error(c, err)
			return
		}
		out := OperationJSON{Outcome: res.Outcome.String(), Code: res.Provider.Code, Messages: res.Provider.Messages}
		if res.Settlement != nil {
			out.SettlementID, out.Status, out.StatusLabel = res.Settlement.ID, res.Settlement.Status, res.Settlement.Status.Label()
		}
		c.JSON(http.StatusOK, out)
	}
}

// ConcludeJSON is the body of POST /continuations/:id/charges/:cid/conclude.
type ConcludeJSON struct {
	ProviderID string `json:"provider_id"` // the transaction found at the provider; "" for none
	Reason     string `json:"reason"`
}

func (a *api) conclude(c *gin.Context) {
	var body ConcludeJSON
	if err := c.ShouldBindJSON(&body); err != nil {
		httpapi.Fail(c, http.StatusBadRequest, "invalid_json", err.Error(), "")
		return
	}
	a.operate(func(sv *Service, ctx context.Context, id, cid int64, actor string) (settlement.Result, error) {
		return sv.Conclude(ctx, id, cid, body.ProviderID, body.Reason, actor)
	})(c)
}

func (a *api) settings(c *gin.Context) {
	s, err := a.sv.Settings(c.Request.Context())
	if err != nil {
		httpapi.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, s)
}

func (a *api) saveSettings(c *gin.Context) {
	var s Settings
	if err := c.ShouldBindJSON(&s); err != nil {
		httpapi.Fail(c, http.StatusBadRequest, "invalid_json", err.Error(), "")
		return
	}
	if err := a.sv.SaveSettings(c.Request.Context(), s, httpapi.Actor(c)); err != nil {
		httpapi.Error(c, err)
		return
	}
	a.settings(c)
}

func (a *api) param(c *gin.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		httpapi.Error(c, ErrNotFound.WithField(name))
		return 0, false
	}
	return id, true
}
