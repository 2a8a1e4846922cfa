package admin

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
)

// fail shows err on the error page with its kind's status: see said for what it says.
func (c *Console) fail(ctx *gin.Context, err error) { c.failPage(ctx, View{Title: "エラー"}, err) }

// failPage is fail under v's title and menu entry.
func (c *Console) failPage(ctx *gin.Context, v View, err error) {
	v.Error = c.said(ctx, err)
	c.render(ctx, httpapi.Status(err), c.pages["error.html"], v)
}

// refuseTo answers a form post that err refused: back to the page to, with the error's own
// message. kessai's own failure is no refusal and goes to fail.
func (c *Console) refuseTo(ctx *gin.Context, to string, err error) {
	if fault.KindOf(err) == fault.Internal {
		c.fail(ctx, err)
		return
	}
	c.redirectError(ctx, to, c.said(ctx, err))
}

// said is what the console tells the admin of err. An error that describes itself (an order
// or a contract that is not there, a status that no longer allows the operation, a module
// that is down) says its own message. Any other is kessai's own failure: the admin gets the
// request id to quote, never the cause, which is recorded on the request for the request
// logger to write under that id, as is a dependency's failure.
func (c *Console) said(ctx *gin.Context, err error) string {
	if httpapi.Status(err) >= http.StatusInternalServerError {
		ctx.Error(err) //nolint:errcheck // recorded for the request log
	}
	d := fault.Of(err)
	if d.Kind == fault.Internal {
		return fmt.Sprintf(msgInternal, httpapi.ID(ctx))
	}
	return d.Message
}
