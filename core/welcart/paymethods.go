package welcart

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/paymethod"
)

// PaymentAnswer is the JSON of payment_ajax: Welcart's {meta_id, meta_row} (the id the
// operation touched, -1 when refused, as Welcart's usces_add_system_option returns for a
// duplicate name; and every row of 基本設定 > 支払方法 as HTML), plus the status, the refusal
// and the list as data for a bridge that keeps Welcart's usces_payment_method in step.
type PaymentAnswer struct {
	Status         string             `json:"status"`
	MetaID         int64              `json:"meta_id"`
	MetaRow        template.HTML      `json:"meta_row"`
	Message        string             `json:"message,omitempty"`
	Field          string             `json:"field,omitempty"`
	PaymentMethods []paymethod.Method `json:"payment_methods"`
}

type paymentRow struct {
	paymethod.Method
	UseLabel string
}

// useLabels are Welcart's 'Activate' / 'Deactivate'.
var useLabels = map[string]string{paymethod.Activate: "使用", paymethod.Deactivate: "停止"}

// paymentAjax is action=payment_ajax. The operation is mode=add|update|delete|sort, or
// Welcart's own flags (update=1, delete=1, sort=1, otherwise add). Fields keep Welcart's
// names: name, explanation, settlement, module, use, sort and id for update; newname,
// newexplanation, newsettlement and newmodule are accepted for add as Welcart's form posts
// them; idstr (ids comma-separated, in the new order) for sort.
//
// Payment methods are the daemon's, shared by every shop: with a shop key the answer is NG,
// meta_id -1, and nothing changes. One shop stopping 後払い（atone）must not stop it for all.
func (f *facade) paymentAjax(c *gin.Context) {
	ctx := c.Request.Context()
	if !isAdmin(c) {
		c.JSON(http.StatusOK, PaymentAnswer{Status: statusNG, MetaID: -1, Message: msgAdminRequired,
			PaymentMethods: []paymethod.Method{}})
		return
	}
	mode := c.PostForm("mode")
	if mode == "" {
		mode = "add"
		for _, m := range []string{"update", "delete", "sort"} {
			if _, ok := c.GetPostForm(m); ok {
				mode = m
				break
			}
		}
	}
	var id int64
	var err error
	switch mode {
	case "add":
		var pm *paymethod.Method
		pm, err = f.d.Methods.Add(ctx, methodOf(c, "new"))
		if err == nil {
			id = pm.ID
		}
	case "update":
		if id, err = strconv.ParseInt(c.PostForm("id"), 10, 64); err != nil {
			f.paymentAnswer(c, http.StatusBadRequest, -1, &paymethod.RuleError{Field: "id", Message: msgBadID})
			return
		}
		_, err = f.d.Methods.Update(ctx, id, methodOf(c, ""))
	case "delete":
		if id, err = strconv.ParseInt(c.PostForm("id"), 10, 64); err != nil {
			f.paymentAnswer(c, http.StatusBadRequest, -1, &paymethod.RuleError{Field: "id", Message: msgBadID})
			return
		}
		err = f.d.Methods.Delete(ctx, id)
	case "sort":
		var ids []int64
		ids, err = idList(c.DefaultPostForm("idstr", c.PostForm("ids")))
		if err != nil {
			f.paymentAnswer(c, http.StatusBadRequest, -1, &paymethod.RuleError{Field: "idstr", Message: msgBadID})
			return
		}
		err = f.d.Methods.Sort(ctx, ids)
	default:
		ng(c, msgUnknownMode)
		return
	}
	if err != nil {
		f.paymentAnswer(c, http.StatusOK, -1, err)
		return
	}
	// Audited as the console's own edits are, with the admin token's name as the actor.
	if err := audit.Record(ctx, f.d.Store.DB, httpapi.Actor(c), "paymethod."+mode, strconv.FormatInt(id, 10),
		map[string]any{"via": "welcart", "name": c.PostForm("name")}); err != nil {
		internal(c, err)
		return
	}
	f.paymentAnswer(c, http.StatusOK, id, nil)
}

// methodOf reads a payment method from the form; prefix is "new" for Welcart's add form.
func methodOf(c *gin.Context, prefix string) paymethod.Method {
	field := func(name string) string {
		if v, ok := c.GetPostForm(prefix + name); ok && prefix != "" {
			return strings.TrimSpace(v)
		}
		return strings.TrimSpace(c.PostForm(name))
	}
	use := field("use")
	if use == "" {
		use = paymethod.Activate // Welcart's default when the field is absent
	}
	return paymethod.Method{Name: field("name"), Explanation: field("explanation"), Settlement: field("settlement"),
		Module: field("module"), Use: use}
}

// idList reads "3,1,2" (Welcart's idstr) or "3:1:2".
func idList(s string) ([]int64, error) {
	var out []int64
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ':' }) {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// paymentAnswer answers with every row as it is now; err, when set, is the refusal.
func (f *facade) paymentAnswer(c *gin.Context, code int, id int64, err error) {
	ms, lerr := f.d.Methods.List(c.Request.Context(), false)
	if lerr != nil {
		internal(c, lerr)
		return
	}
	rows := make([]paymentRow, len(ms))
	for i, m := range ms {
		rows[i] = paymentRow{Method: m, UseLabel: useLabels[m.Use]}
	}
	html, rerr := render("payment-rows", rows)
	if rerr != nil {
		internal(c, rerr)
		return
	}
	if ms == nil {
		ms = []paymethod.Method{}
	}
	a := PaymentAnswer{Status: statusOK, MetaID: id, MetaRow: html, PaymentMethods: ms}
	if err != nil {
		var re *paymethod.RuleError
		switch {
		case errors.As(err, &re):
			a.Message, a.Field = re.Message, re.Field
		case errors.Is(err, paymethod.ErrNotFound):
			code, a.Message = http.StatusNotFound, msgMethodNotFound
		default:
			internal(c, err)
			return
		}
		a.Status, a.MetaID = statusNG, -1
	}
	c.JSON(code, a)
}
