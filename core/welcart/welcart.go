// Package welcart is kessai's Welcart façade: an admin-ajax.php-shaped endpoint, and an
// admin.php-shaped one for what Welcart's scripts open by navigating, that a Welcart bridge
// plugin calls server-side. It answers the calls of Welcart's admin screens (the 決済情報
// dialog, 支払方法, 決済エラーログ) in Welcart's own JSON shapes and Japanese wording, with HTML
// carrying the ids, classes and hidden inputs Welcart's own scripts bind to, and finds orders
// by the ids Welcart posts, so that the bridge can relay them unchanged.
//
// With the shop's API key the façade acts for that shop only: its orders, its rows of the
// error log. Payment methods are the daemon's, shared by every shop, and change only with an
// admin API token, which also sees every shop's orders and every row of the error log.
package welcart

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
)

// Deps are the façade's dependencies.
type Deps struct {
	Store       *store.Store
	Shops       httpapi.ShopKeys // authenticates the bridge with the shop's key
	Methods     *paymethod.Methods
	Orders      *order.Orders
	Settlements *settlement.Service
	// Admins checks admin API tokens (core/admin's Tokens); nil accepts shop keys only.
	Admins httpapi.AdminAuthenticator
}

type facade struct {
	d                   Deps
	dialogs             *dialog.Service
	shopAuth, adminAuth gin.HandlerFunc
}

// Path is the façade's admin-ajax.php: the AJAX calls of Welcart's admin screens.
const Path = "/welcart/admin-ajax"

// AdminPath is the façade's admin.php: what Welcart's admin scripts open by navigating, such
// as ログ出力's download (order_action=dlsettlementerrorlog).
const AdminPath = "/welcart/admin"

// Mount adds POST Path and GET AdminPath to r (the engine's root), both authenticated alike.
func Mount(r gin.IRouter, d Deps) {
	f := &facade{d: d, dialogs: dialog.New(d.Store.DB, d.Settlements), shopAuth: httpapi.ShopAuth(d.Shops)}
	if d.Admins != nil {
		f.adminAuth = httpapi.AdminBearer(d.Admins)
	}
	r.POST(Path, f.auth, f.adminAjax)
	r.GET(AdminPath, f.auth, f.adminPage)
}

const adminKey = "kessai.welcart.admin"

// auth takes `Authorization: Bearer` with a shop key (ksk_…) for the shop, or an admin API
// token for the daemon's admin.
func (f *facade) auth(c *gin.Context) {
	token, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if f.adminAuth == nil || token == "" || strings.HasPrefix(token, shop.KeyPrefix) {
		f.shopAuth(c)
		return
	}
	c.Set(adminKey, true) // read only by handlers, which run only if the token is accepted
	f.adminAuth(c)
}

// isAdmin reports whether the request came with an admin credential.
func isAdmin(c *gin.Context) bool { return c.GetBool(adminKey) }

// shopScope is the shop whose data the request may touch; 0, every shop's, for an admin.
func shopScope(c *gin.Context) int64 {
	if isAdmin(c) {
		return 0
	}
	return httpapi.ShopID(c)
}

// adminAjax dispatches on action as admin-ajax.php does.
func (f *facade) adminAjax(c *gin.Context) {
	switch c.PostForm("action") {
	case "usces_admin_ajax":
		f.settlementAjax(c)
	case "payment_ajax":
		f.paymentAjax(c)
	case "order_item_ajax":
		f.orderItemAjax(c)
	default:
		ng(c, msgUnknownAction)
	}
}

// Answer is the JSON of usces_admin_ajax and order_item_ajax: Welcart's {status, result,
// acting_status}, plus what the error-log modes add.
type Answer struct {
	Status string `json:"status"` // OK or NG
	// Result is HTML for the dialog (#settlement-response), or the NG message.
	Result       template.HTML `json:"result"`
	ActingStatus template.HTML `json:"acting_status,omitempty"`
	// NoData is Welcart's nodata of the error-log list: "nodata" when it is empty, "" when not.
	NoData *string `json:"nodata,omitempty"`
	// Notice is the time of the last settlement error while the 決済エラー notice is up
	// (Asia/Tokyo, Y-m-d H:i:s), "" once it is cleared; error-log modes only.
	Notice *string `json:"notice,omitempty"`
	// Deleted is how many error-log rows a delete removed.
	Deleted *int64 `json:"deleted,omitempty"`
}

const (
	statusOK = "OK"
	statusNG = "NG"
)

// ng refuses a call as WordPress's wp_send_json does: HTTP 200, status NG, and the message
// as the HTML Welcart's script puts where the answer goes (its done handler renders result;
// an HTTP error would reach only its fail handler, which shows nothing). Only a failed
// authentication is an HTTP error (401).
func ng(c *gin.Context, msg string) {
	c.JSON(http.StatusOK, Answer{Status: statusNG, Result: message(msg)})
}

// fail answers err as Welcart's screens can show it. An error that describes itself (an
// order that is not there, a rule an edit breaks, a module that is down) is a refusal: NG
// with its own message, as ng answers. Any other is kessai's fault, not a refusal: the cause
// goes to the request log under the request id, the bridge gets the id to quote, and the
// answer says so with a 500.
func fail(c *gin.Context, err error) {
	d := fault.Of(err)
	if d.Kind == fault.Internal || httpapi.Status(err) >= http.StatusInternalServerError {
		c.Error(err) //nolint:errcheck // recorded for the request log
	}
	if d.Kind == fault.Internal {
		c.JSON(http.StatusInternalServerError, Answer{Status: statusNG, Result: message(fmt.Sprintf(msgInternal, httpapi.ID(c)))})
		return
	}
	ng(c, said(d))
}

// said is what a described error tells people: its message, or every rule an input broke,
// each with its field, as Welcart's one line of NG can show them.
func said(d fault.Detail) string {
	if len(d.Fields) == 0 {
		return d.Message
	}
	msg := ""
	for i, f := range d.Fields {
		if i > 0 {
			msg += " / "
		}
		msg += f.Message + "（" + f.Field + "）"
	}
	return msg
}
