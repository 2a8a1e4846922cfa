package welcart

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/errlog"
)

// listLimit caps the error-log list; Welcart lists every row, but a bridge relaying megabytes
// of HTML helps nobody, and the export has them all.
const listLimit = 500

// orderItemAjax is action=order_item_ajax with the 決済エラーログ modes of Welcart's order
// list, under Welcart's mode names, plus dlsettlementerrorlog (Welcart's ログ出力, an
// admin.php download there) so that the bridge needs one endpoint only. A shop key lists,
// exports and deletes the rows of its own orders; another shop's row is not found, as a
// missing one is. Rows of no order, and every shop's, need an admin API token.
func (f *facade) orderItemAjax(c *gin.Context) {
	switch c.PostForm("mode") {
	case "get_settlement_error_log":
		f.errorLogList(c, nil)
	case "get_settlement_error_log_detail":
		f.errorLogDetail(c)
	case "delete_settlement_error_log":
		ids, err := idList(c.PostForm("log_id"))
		if err != nil || len(ids) == 0 {
			ng(c, http.StatusBadRequest, msgBadID)
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
			internal(c, err)
			return
		}
		c.JSON(http.StatusOK, Answer{Status: statusOK, Notice: &notice})
	case "dlsettlementerrorlog":
		f.errorLogOutput(c)
	default:
		ng(c, http.StatusBadRequest, msgUnknownMode)
	}
}

type logRow struct {
	errlog.Entry
	At string
}

func (f *facade) notice(c *gin.Context) (string, error) {
	t, err := errlog.NoticeFor(c.Request.Context(), f.d.Store.DB, shopScope(c))
	if err != nil || t.IsZero() {
		return "", err
	}
	return t.In(tokyo).Format(datetimeLayout), nil
}

// errorLogList answers the 決済エラーログ一覧 table; deleted is set after a delete.
func (f *facade) errorLogList(c *gin.Context, deleted *int64) {
	ctx := c.Request.Context()
	es, total, err := errlog.ListFor(ctx, f.d.Store.DB, shopScope(c), listLimit, 0)
	if err != nil {
		internal(c, err)
		return
	}
	rows := make([]logRow, len(es))
	for i, e := range es {
		rows[i] = logRow{Entry: e, At: e.Datetime.In(tokyo).Format(datetimeLayout)}
	}
	html, err := render("errlog-list", struct {
		Rows       []logRow
		ConfirmAll string
	}{rows, confirmDeleteAll})
	if err != nil {
		internal(c, err)
		return
	}
	notice, err := f.notice(c)
	if err != nil {
		internal(c, err)
		return
	}
	nodata := total == 0
	c.JSON(http.StatusOK, Answer{Status: statusOK, Result: html, NoData: &nodata, Notice: &notice, Deleted: deleted})
}

// errorLogDetail answers the 決済エラーログ詳細 table: 登録日, リンクキー, 処理結果, then every
// detail as key:subkey rows, the way Welcart flattens its serialized data.
func (f *facade) errorLogDetail(c *gin.Context) {
	id, err := strconv.ParseInt(c.PostForm("log_id"), 10, 64)
	if err != nil {
		ng(c, http.StatusBadRequest, msgBadID)
		return
	}
	e, err := errlog.GetFor(c.Request.Context(), f.d.Store.DB, shopScope(c), id)
	if errors.Is(err, errlog.ErrNotFound) {
		ng(c, http.StatusNotFound, msgLogNotFound)
		return
	}
	if err != nil {
		internal(c, err)
		return
	}
	fields := e.Flat()
	html, err := render("errlog-detail", struct {
		logRow
		Fields []errlog.Field
	}{logRow{Entry: *e, At: e.Datetime.In(tokyo).Format(datetimeLayout)}, fields})
	if err != nil {
		internal(c, err)
		return
	}
	c.JSON(http.StatusOK, Answer{Status: statusOK, Result: html})
}

// errorLogDelete removes the given rows (all when ids is nil); errlog clears the notice with
// the last one. The answer is the list as it is now.
func (f *facade) errorLogDelete(c *gin.Context, ids []int64) {
	n, err := errlog.DeleteFor(c.Request.Context(), f.d.Store.DB, shopScope(c), ids)
	if err != nil {
		internal(c, err)
		return
	}
	f.errorLogList(c, &n)
}

// errorLogOutput is ログ出力: the rows named by log_id ("3:5:8", Welcart's form; every row
// when empty) as Welcart's Shift_JIS text file settlement_error_YmdHis.log.
func (f *facade) errorLogOutput(c *gin.Context) {
	ctx := c.Request.Context()
	ids, err := idList(c.PostForm("log_id"))
	if err != nil {
		ng(c, http.StatusBadRequest, msgBadID)
		return
	}
	var es []errlog.Entry
	if len(ids) == 0 {
		if es, _, err = errlog.ListFor(ctx, f.d.Store.DB, shopScope(c), 0, 0); err != nil {
			internal(c, err)
			return
		}
	}
	for _, id := range ids {
		e, err := errlog.GetFor(ctx, f.d.Store.DB, shopScope(c), id)
		if errors.Is(err, errlog.ErrNotFound) {
			continue // deleted meanwhile (Welcart skips it too), or another shop's
		}
		if err != nil {
			internal(c, err)
			return
		}
		es = append(es, *e)
	}
	b, err := errlog.Export(es, tokyo)
	if err != nil {
		internal(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+errlog.ExportName(time.Now(), tokyo)+`"`)
	c.Data(http.StatusOK, "text/plain; charset=Shift_JIS", b)
}
