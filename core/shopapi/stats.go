package shopapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
)

// conversion is the shop's checkout funnel per payment method.
func (a *API) conversion(c *gin.Context) {
	rows, err := settlement.Funnel(c.Request.Context(), a.Store.DB, httpapi.ShopID(c), order.Payments(a.Store.DB))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"payment_methods": rows})
}
