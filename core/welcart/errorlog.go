package welcart

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
)

// listLimit caps the error-log list; Welcart lists every row, but a bridge relaying megabytes
// of HTML helps nobody, and the export has them all.
const listLimit = 500

// noData is Welcart's nodata of an empty error-log list: its script compares the field with
// this string, and reloads the order list when the last row is deleted.
const noData = "nodata"

// orderItemAjax is action=order_item_ajax with the 決済エラーログ modes of Welcart's order
// list, under Welcart's mode names, plus dlsettlementerrorlog, the file Welcart's ログ出力
// downloads from admin.php (also served as Welcart's link is, by GET AdminPath). A shop key
// lists, exports and deletes the rows of its own orders; another shop's row is not found, as
// a missing one is. Rows of no order, and every shop's, need an admin API token.
func (f *facade) orderItemAjax(c *gin.Context) {
	switch c.PostForm("mode") {
	case "get_settlement_error_log":
		f.errorLogList(c, nil)
	case "get_settlement_error_log_detail":
		f.errorLogDetail(c)
	case "delete_settlement_error_log":
		ids, err := idList(c.PostForm("log_id"))
		if err != nil || len(ids) == 0 {
			ng(c, msgBadID)
			return
		}
		f.errorLogDelete(c, ids)
	case "delete_settlement_error_log_all":
		f.errorLogDelete(c, nil)
	case "reset_settlement_notice":
		// errlog clears the notice with the last row, as reset_settlement_notice does when
		// the dialog closes; this mode only reports it.
		notice, err := f.notice(c)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, Answer{Status: statusOK, Notice: &notice})
	case "dlsettlementerrorlog":
		f.errorLogOutput(c, c.PostForm("log_id"))
	default:
		ng(c, msgUnknownMode)
	}
}

type logRow struct {
	errlog.Entry
	At string
}

// shopOrders is the subquery of the ids of the orders whose error-log rows the credential
// sees: its shop's; nil, every row, for the admin's.
func (f *facade) shopOrders(c *gin.Context) *gorm.DB {
	if id := shopScope(c); id != 0 {
		return order.OfShop(f.d.Store.DB, id)
	}
	return nil
}

func (f *facade) notice(c *gin.Context) (string, error) {
	t, err := errlog.NoticeFor(c.Request.Context(), f.d.Store.DB, f.shopOrders(c))
	if err != nil || t.IsZero() {
		return "", err
	}
	return t.In(tokyo).Format(datetimeLayout), nil
}

// errorLogList answers the 決済エラーログ一覧 table; deleted is set after a delete. Each row has
// what Welcart's script binds: the checkbox input.error-log-check whose value is the log id
// (ログ出力 and ログ削除 collect the ticked ones), and the button .error-log-detail whose id is
// the log id (詳細). An empty list is div.nodata with nodata "nodata".
func (f *facade) errorLogList(c *gin.Context, deleted *int64) {
	ctx := c.Request.Context()
	es, total, err := errlog.ListFor(ctx, f.d.Store.DB, f.shopOrders(c), listLimit, 0)
	if err != nil {
		fail(c, err)
		return
	}
	rows := make([]logRow, len(es))
	for i, e := range es {
		rows[i] = logRow{Entry: e, At: e.Datetime.In(tokyo).Format(datetimeLayout)}
	}
	html, err := render("errlog-list", rows)
	if err != nil {
		fail(c, err)
		return
	}
	notice, err := f.notice(c)
	if err != nil {
		fail(c, err)
		return
	}
	nodata := ""
	if total == 0 {
		nodata = noData
	}
	c.JSON(http.StatusOK, Answer{Status: statusOK, Result: html, NoData: &nodata, Notice: &notice, Deleted: deleted})
}

// errorLogDetail answers the 決済エラーログ詳細 table: 登録日, リンクキー, 決済種別, 処理結果, then every
// detail as key:subkey rows, the way Welcart flattens its serialized data, and the hidden
// input#log_id the detail's ログ出力 reads.
func (f *facade) errorLogDetail(c *gin.Context) {
	id, err := strconv.ParseInt(c.PostForm("log_id"), 10, 64)
	if err != nil {
		ng(c, msgBadID)
		return
	}
	e, err := errlog.GetFor(c.Request.Context(), f.d.Store.DB, f.shopOrders(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	fields := e.Flat()
	html, err := render("errlog-detail", struct {
		logRow
		Fields []errlog.Field
	}{logRow{Entry: *e, At: e.Datetime.In(tokyo).Format(datetimeLayout)}, fields})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, Answer{Status: statusOK, Result: html})
}

// errorLogDelete removes the given rows (all when ids is nil); errlog clears the notice with
// the last one. The answer is the list as it is now.
func (f *facade) errorLogDelete(c *gin.Context, ids []int64) {
	n, err := errlog.DeleteFor(c.Request.Context(), f.d.Store.DB, f.shopOrders(c), ids)
	if err != nil {
		fail(c, err)
		return
	}
	f.errorLogList(c, &n)
}

// adminPage is GET AdminPath, Welcart's admin.php?page=usces_orderlist&order_action=…: the
// pages Welcart's scripts open by navigating rather than by AJAX. page, noheader and wc_nonce
// are Welcart's and ignored.
func (f *facade) adminPage(c *gin.Context) {
	switch c.Query("order_action") {
	case "dlsettlementerrorlog":
		f.errorLogOutput(c, c.Query("log_id"))
	default:
		c.JSON(http.StatusNotFound, Answer{Status: statusNG, Result: message(msgUnknownOrderAction)})
	}
}

// errorLogOutput is ログ出力: the rows named by logID ("3:5:8", Welcart's form; every row when
// empty) as Welcart's Shift_JIS file settlement_error_YmdHis.log, streamed a batch of rows at
// a time. As in Welcart, a part of logID that is not a row id selects nothing: "undefined"
// is an empty file, not every row.
func (f *facade) errorLogOutput(c *gin.Context, logID string) {
	sel := errlog.Selection{Orders: f.shopOrders(c)}
	if strings.TrimSpace(logID) != "" {
		sel.IDs = []int64{}
		for _, p := range strings.FieldsFunc(logID, func(r rune) bool { return r == ':' || r == ',' }) {
			if id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err == nil {
				sel.IDs = append(sel.IDs, id)
			}
		}
	}
	name := errlog.ExportName(f.d.Store.Clock.Now(), tokyo)
	c.Header("Content-Type", "text/plain; charset=Shift_JIS")
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Status(http.StatusOK)
	ctx := c.Request.Context()
	n, err := errlog.WriteExport(ctx, c.Writer, f.d.Store.DB, sel, tokyo)
	if err != nil {
		// The status is sent; the cut file and the log say what happened.
		c.Error(err) //nolint:errcheck // recorded for the request log
		return
	}
	// The file holds buyers' details: say who took it, as the console does.
	if err := audit.Record(ctx, f.d.Store.DB, httpapi.Actor(c), "errlog.export", "",
		map[string]any{"via": "welcart", "shop_id": shopScope(c), "rows": n, "file": name}); err != nil {
		c.Error(err) //nolint:errcheck // recorded for the request log
	}
}
