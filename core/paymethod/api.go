package paymethod

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

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
		pm, err := m.Add(c.Request.Context(), in, httpapi.Actor(c))
		if err != nil {
			httpapi.Error(c, err)
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
		if err := m.Sort(c.Request.Context(), in.IDs, httpapi.Actor(c)); err != nil {
			httpapi.Error(c, err)
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
		pm, err := m.Update(c.Request.Context(), id, in, httpapi.Actor(c))
		if err != nil {
			httpapi.Error(c, err)
			return
		}
		c.JSON(http.StatusOK, pm)
	})
	r.DELETE("/payment-methods/:id", func(c *gin.Context) {
		id, ok := pathID(c)
		if !ok {
			return
		}
		if err := m.Delete(c.Request.Context(), id, httpapi.Actor(c)); err != nil {
			httpapi.Error(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
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
