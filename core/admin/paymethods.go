package admin

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/paymethod"
)

// baseOrder is the order of Welcart's own settlement codes in 決済種別.
var baseOrder = []string{"transferAdvance", "transferDeferred", "COD"}

// paymethodsView is the 基本設定 > 支払方法 page.
type paymethodsView struct {
	Rows    []methodRow
	New     methodRow // the 新しい支払方法を追加 row, refilled after a refusal
	Caution string
}

type methodRow struct {
	paymethod.Method
	Error string
	Field string // the field at fault, for its highlight
	Codes []codeOption
}

type codeOption struct {
	Code, Label string
	Selected    bool
}

// codeOptions lists the codes a method may use now (paymethod.Allowed) in Welcart's order:
// base codes, then each module's in selection order. A method whose module has been
// unselected keeps its code in the list, marked, so that saving the row does not change it
// silently.
func (c *Console) codeOptions(ctx *gin.Context) (func(cur string) []codeOption, error) {
	allowed, err := c.methods.Allowed(ctx.Request.Context())
	if err != nil {
		return nil, err
	}
	var opts []codeOption
	for _, code := range baseOrder {
		if _, ok := allowed[code]; ok {
			opts = append(opts, codeOption{Code: code, Label: paymethod.BaseCodes[code]})
		}
	}
	mods, err := c.deps.Modules.List(ctx.Request.Context())
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		if !m.Selected {
			continue
		}
		for _, code := range m.SettlementCodes {
			if allowed[code] != m.Slug {
				continue
			}
			label := shortName(m)
			if len(m.SettlementCodes) > 1 {
				label += "（" + code + "）"
			}
			opts = append(opts, codeOption{Code: code, Label: label})
		}
	}
	return func(cur string) []codeOption {
		out := slices.Clone(opts)
		found := cur == ""
		for i := range out {
			if out[i].Code == cur {
				out[i].Selected, found = true, true
			}
		}
		if !found {
			out = append(out, codeOption{Code: cur, Label: cur + "（利用できません）", Selected: true})
		}
		return out
	}, nil
}

func (c *Console) paymethodsPage(ctx *gin.Context) {
	c.showPaymethods(ctx, http.StatusOK, "", nil)
}

// showPaymethods renders the list; edited replaces one row (or the new row, ID 0) with what the
// admin submitted, carrying its refusal.
func (c *Console) showPaymethods(ctx *gin.Context, status int, errMsg string, edited *methodRow) {
	list, err := c.methods.List(ctx.Request.Context(), false)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	codes, err := c.codeOptions(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	v := paymethodsView{Caution: msgDeleteCaution, New: methodRow{Codes: codes("")}}
	for _, m := range list {
		row := methodRow{Method: m}
		if edited != nil && edited.ID == m.ID {
			row = *edited
			row.Sort = m.Sort
		}
		row.Codes = codes(row.Settlement)
		v.Rows = append(v.Rows, row)
	}
	if edited != nil && edited.ID == 0 {
		v.New = *edited
		v.New.Codes = codes(edited.Settlement)
	}
	c.render(ctx, status, c.pages["paymethods.html"], View{Title: "基本設定", Path: PathPaymethods, Error: errMsg, Data: v})
}

func formMethod(ctx *gin.Context) paymethod.Method {
	return paymethod.Method{
		Name:        strings.TrimSpace(ctx.PostForm("name")),
		Explanation: ctx.PostForm("explanation"),
		Settlement:  ctx.PostForm("settlement"),
		Module:      strings.TrimSpace(ctx.PostForm("module")),
		Use:         ctx.PostForm("use"),
	}
}

func (c *Console) addPaymethod(ctx *gin.Context) {
	in := formMethod(ctx)
	_, err := c.methods.Add(ctx.Request.Context(), in, current(ctx).Login)
	if err != nil {
		c.methodRefused(ctx, &in, err)
		return
	}
	c.redirectFlash(ctx, PathPaymethods, msgAdded)
}

func pathID(ctx *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(ctx.Param("id"), 10, 64)
	return id, err == nil && id > 0
}

func (c *Console) updatePaymethod(ctx *gin.Context) {
	id, ok := pathID(ctx)
	if !ok {
		c.methodRefused(ctx, nil, paymethod.ErrNotFound)
		return
	}
	in := formMethod(ctx)
	in.ID = id
	if _, err := c.methods.Update(ctx.Request.Context(), id, in, current(ctx).Login); err != nil {
		c.methodRefused(ctx, &in, err)
		return
	}
	c.redirectFlash(ctx, PathPaymethods, msgUpdated)
}

func (c *Console) deletePaymethod(ctx *gin.Context) {
	id, ok := pathID(ctx)
	if !ok {
		c.methodRefused(ctx, nil, paymethod.ErrNotFound)
		return
	}
	if err := c.methods.Delete(ctx.Request.Context(), id, current(ctx).Login); err != nil {
		// Orders bought with it refuse it: paymethod's message says to use 停止 instead.
		// There is no input to show again.
		c.methodRefused(ctx, nil, err)
		return
	}
	c.redirectFlash(ctx, PathPaymethods, msgDeleted)
}

// methodRefused shows 基本設定 again with err's message and status. When err names a field
// of the form in (a rule of the name, the settlement code…), the admin's input comes back
// beside it; in is nil when there is no input to show again.
func (c *Console) methodRefused(ctx *gin.Context, in *paymethod.Method, err error) {
	d := fault.Of(err)
	if d.Kind == fault.Internal {
		c.fail(ctx, err)
		return
	}
	var row *methodRow
	if d.Field != "" && in != nil {
		row = &methodRow{Method: *in, Error: d.Message, Field: d.Field}
	}
	c.showPaymethods(ctx, httpapi.Status(err), c.said(ctx, err), row)
}

// sortPaymethods is the drag-and-drop's fetch call: {"ids": [3, 1, 2]} in storefront order.
func (c *Console) sortPaymethods(ctx *gin.Context) {
	var req struct {
		IDs []int64 `json:"ids"`
	}
	if err := ctx.ShouldBindJSON(&req); err != nil || len(req.IDs) == 0 {
		httpapi.Fail(ctx, http.StatusBadRequest, "invalid", `body must be {"ids": [id, …]}`, "ids")
		return
	}
	if err := c.methods.Sort(ctx.Request.Context(), req.IDs, current(ctx).Login); err != nil {
		httpapi.Error(ctx, err)
		return
	}
	ctx.JSON(http.StatusOK, gin.H{"message": msgSorted})
}

// audit records an action the console took through a package that does not audit it
// itself; a failure to record is logged loudly.
func (c *Console) audit(ctx *gin.Context, action string, id int64, detail any) {
	target := ""
	if id != 0 {
		target = strconv.FormatInt(id, 10)
	}
	if err := audit.Record(ctx.Request.Context(), c.deps.Store.DB, current(ctx).Login, action, target, detail); err != nil {
		c.log.Error("admin: audit", "action", action, "target", target, "err", err)
	}
}
