package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/jst"
)

// errorLogView is the 決済エラーログ一覧 page.
type errorLogView struct {
	Rows       []errorLogRow
	Total      int64
	Page       int
	Pages      int
	ConfirmAll string
}

// Prev is the page before this one, or this one at the start.
func (v errorLogView) Prev() int { return max(v.Page-1, 1) }

// Next is the page after this one, or this one at the end.
func (v errorLogView) Next() int { return min(v.Page+1, v.Pages) }

type errorLogRow struct {
	errlog.Entry
	At string
	// Status is the ステータス in Japanese (Entry.Result is the stored value).
	Status string
}

// errorLogDetailView is the 決済エラーログ詳細 page: the row, then every detail as key:subkey
// rows, the way Welcart flattens its serialized data, under Japanese labels.
type errorLogDetailView struct {
	errorLogRow
	Fields []errlog.Field
}

// errorLogsPerPage pages the list; Welcart lists every row, and ログ出力 still exports all.
const errorLogsPerPage = 100

func (c *Console) errorLogList(ctx *gin.Context) {
	page, _ := strconv.Atoi(ctx.Query("paged"))
	page = max(page, 1)
	es, total, err := errlog.List(ctx.Request.Context(), c.deps.Store.DB, errorLogsPerPage, (page-1)*errorLogsPerPage)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	v := errorLogView{Total: total, Page: page, Pages: max(int((total+errorLogsPerPage-1)/errorLogsPerPage), 1), ConfirmAll: msgDeleteAllLogs}
	for _, e := range es {
		v.Rows = append(v.Rows, c.logRow(e))
	}
	c.render(ctx, http.StatusOK, c.pages["errorlog.html"], View{Title: "決済エラーログ一覧", Path: PathErrorLog, Data: v})
}

func (c *Console) logRow(e errlog.Entry) errorLogRow {
	return errorLogRow{Entry: e, At: e.Datetime.In(jst.Tokyo).Format("2006-01-02 15:04:05"), Status: statusText(e)}
}

func (c *Console) errorLogDetail(ctx *gin.Context) {
	id, ok := pathID(ctx)
	var e *errlog.Entry
	err := errlog.ErrNotFound
	if ok {
		e, err = errlog.Get(ctx.Request.Context(), c.deps.Store.DB, id)
	}
	if err != nil {
		c.refuseTo(ctx, PathErrorLog, err)
		return
	}
	v := errorLogDetailView{errorLogRow: c.logRow(*e)}
	v.Fields = detailFields(*e)
	c.render(ctx, http.StatusOK, c.pages["errorlog_detail.html"], View{Title: "決済エラーログ詳細", Path: PathErrorLog, Data: v})
}

// logIDs reads the checked rows (log_id, repeated).
func logIDs(ctx *gin.Context) ([]int64, bool) {
	var ids []int64
	for _, s := range ctx.PostFormArray("log_id") {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// errorLogExport is ログ出力: the checked rows, or every row when none is checked, as
// Welcart's Shift_JIS file settlement_error_YmdHis.log.
func (c *Console) errorLogExport(ctx *gin.Context) {
	rc := ctx.Request.Context()
	ids, ok := logIDs(ctx)
	if !ok {
		c.refuseTo(ctx, PathErrorLog, errlog.ErrNotFound)
		return
	}
	var es []errlog.Entry
	if len(ids) == 0 {
		var err error
		if es, _, err = errlog.List(rc, c.deps.Store.DB, 0, 0); err != nil {
			c.fail(ctx, err)
			return
		}
	}
	for _, id := range ids {
		e, err := errlog.Get(rc, c.deps.Store.DB, id)
		if errors.Is(err, errlog.ErrNotFound) {
			continue // deleted meanwhile: Welcart skips it too
		}
		if err != nil {
			c.fail(ctx, err)
			return
		}
		es = append(es, *e)
	}
	b, err := errlog.Export(es, jst.Tokyo)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	name := errlog.ExportName(c.deps.Clock.Now(), jst.Tokyo)
	// The file holds buyers' details: say who took it.
	c.audit(ctx, "errlog.export", 0, map[string]any{"rows": len(es), "file": name})
	ctx.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	ctx.Data(http.StatusOK, "text/plain; charset=Shift_JIS", b)
}

// errorLogDelete is ログ削除: the checked rows, or all of them when the admin confirmed
// 全てのログを削除します (all=1). errlog clears the notice with the last row.
func (c *Console) errorLogDelete(ctx *gin.Context) {
	ids, ok := logIDs(ctx)
	all := ctx.PostForm("all") == "1"
	switch {
	case !ok:
		c.refuseTo(ctx, PathErrorLog, errlog.ErrNotFound)
		return
	case all:
		ids = nil
	case len(ids) == 0:
		c.redirectError(ctx, PathErrorLog, msgSelectLogs)
		return
	}
	n, err := errlog.Delete(ctx.Request.Context(), c.deps.Store.DB, ids)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	detail := map[string]any{"deleted": n, "all": all}
	if !all {
		detail["ids"] = ids
	}
	c.audit(ctx, "errlog.delete", 0, detail)
	c.redirectFlash(ctx, PathErrorLog, fmt.Sprintf(msgLogsDeleted, n))
}

// statusText is a row's ステータス as the admin reads it: what happened, why, and the
// provider's own code when there is one, e.g. 「与信NG（金額超過）」 or
// 「売上計上NG（この取引は既に売上確定されています。）EATN1201」. kessai's own codes
// (KESSAI_…) mean nothing to an admin and are left out; 詳細 still shows them.
func statusText(e errlog.Entry) string {
	rest, ok := strings.CutPrefix(e.Result, strings.ToUpper(e.Acting)+" ")
	if !ok {
		rest = e.Result
	}
	label, ok := resultLabels[rest]
	if !ok {
		op, outcome, _ := strings.Cut(rest, " ")
		word, known := resultOutcomes[outcome]
		if !known {
			return e.Result // a result this console does not know reads as written
		}
		label = settlement.Operation(strings.ToLower(op)).Label() + word
	}
	f := e.Fields()
	if reason := reasonText(e.Acting, fmt.Sprint(f["reason"])); f["reason"] != nil && reason != "" {
		label += "（" + reason + "）"
	} else if msg, _ := f["message"].(string); msg != "" {
		label += "（" + msg + "）"
	}
	if code, _ := f["code"].(string); dialog.ProviderCode(code) {
		label += code
	}
	return label
}

// reasonText names a provider's numbered NG reason ("1" → 金額超過).
func reasonText(module, reason string) string {
	if l, ok := ngReasons[module][reason]; ok {
		return l
	}
	return "理由 " + reason
}

// detailFields are a row's details under Japanese labels, in the order of detailLabels, with
// outcomes, states, reasons and amounts in words.
func detailFields(e errlog.Entry) []errlog.Field {
	order := map[string]int{}
	for i, d := range detailLabels {
		order[d.key] = i
	}
	flat := e.Flat()
	out := make([]errlog.Field, 0, len(flat))
	for _, f := range flat {
		top, sub, nested := strings.Cut(f.Key, ":")
		key, value := top, f.Value
		if i, ok := order[top]; ok {
			key = detailLabels[i].label
		}
		if nested {
			key += ":" + sub
		} else {
			value = detailValue(e.Acting, top, value)
		}
		out = append(out, errlog.Field{Key: key, Value: value})
	}
	rank := func(f errlog.Field) int {
		top, _, _ := strings.Cut(f.Key, ":")
		for i, d := range detailLabels {
			if d.label == top {
				return i
			}
		}
		return len(detailLabels)
	}
	slices.SortStableFunc(out, func(a, b errlog.Field) int { return rank(a) - rank(b) })
	return out
}

func detailValue(module, key, v string) string {
	switch key {
	case "outcome":
		if l, ok := outcomeLabels[v]; ok {
			return l
		}
	case "state":
		if l, ok := providerStateLabels[v]; ok {
			return l
		}
	case "reason":
		return v + "（" + reasonText(module, v) + "）"
	case "amount", "notified_amount":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return comma(n) + "円"
		}
	}
	return v
}
