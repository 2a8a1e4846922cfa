package paymethod

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/httpapi"
)

// Mount adds the admin JSON API for payment methods to r (the admin API group): list, add,
// update, 使用/停止, sort and delete, with Welcart's refusals.
func Mount(r gin.IRouter, m *Methods) {
	r.GET("/payment-methods", func(c *gin.Context) {
		l, err := m.List(c.Request.Context(), false)
		if err != nil {
			httpapi.Error(c, err)
			return
		}
		allowed, err := m.Allowed(c.Request.Context())
		if err != nil {
			httpapi.Error(c, err)
			return
		}
		if l == nil {
			l = []Method{}
		}
		c.JSON(http.StatusOK, gin.H{"payment_methods": l, "settlement_codes": allowed})
	})
	r.POST("/payment-methods", func(c *gin.Context) {
		var in Method
		if !bind(c, &in) {
			return
		}
		pm, err := m.Add(c.Request.Context(), in)
		if err != nil {
			httpapi.Error(c, err)
			return
		}
		if !audited(c, m, "paymethod.add", pm.ID, pm) {
			return
		}
		c.JSON(http.StatusCreated, pm)
	})
	r.PUT("/payment-methods/sort", func(c *gin.Context) {
		var in struct {
			IDs []int64 `json:"ids"`
		}
		if !bind(c, &in) {
			return
		}
		if err := m.Sort(c.Request.Context(), in.IDs); err != nil {
			httpapi.Error(c, err)
			return
		}
		if !audited(c, m, "paymethod.sort", 0, in) {
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "更新しました。"})
	})
	r.PUT("/payment-methods/:id", func(c *gin.Context) {
		id, ok := pathID(c)
		if !ok {
			return
		}
		var in Method
		if !bind(c, &in) {
			return
		}
		pm, err := m.Update(c.Request.Context(), id, in)
		if err != nil {
			httpapi.Error(c, err)
			return
		}
		if !audited(c, m, "paymethod.update", id, pm) {
			return
		}
		c.JSON(http.StatusOK, pm)
	})
	r.DELETE("/payment-methods/:id", func(c *gin.Context) {
		id, ok := pathID(c)
		if !ok {
			return
		}
		if err := m.Delete(c.Request.Context(), id); err != nil {
			httpapi.Error(c, err)
			return
		}
		if !audited(c, m, "paymethod.delete", id, nil) {
			return
		}
		c.Status(http.StatusNoContent)
	})
}

// audited writes the change to the audit log with the caller as actor; false (with a 500
// answered) if it could not.
func audited(c *gin.Context, m *Methods, action string, id int64, detail any) bool {
	if err := audit.Record(c.Request.Context(), m.db, httpapi.Actor(c), action, strconv.FormatInt(id, 10), detail); err != nil {
		httpapi.Fail(c, http.StatusInternalServerError, "internal", "internal error; request id "+httpapi.ID(c), "")
		return false
	}
	return true
}

func bind(c *gin.Context, v any) bool {
	if err := c.ShouldBindJSON(v); err != nil {
		httpapi.Fail(c, http.StatusBadRequest, "malformed_json", "JSONの形式が正しくありません: "+err.Error(), "")
		return false
	}
	return true
}

func pathID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		httpapi.Error(c, ErrNotFound)
		return 0, false
	}
	return id, true
}
