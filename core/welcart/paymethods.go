package welcart

import (
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/paymethod"
)

// PaymentAnswer is the JSON of payment_ajax: Welcart's {meta_id, meta_row} (the id the
// operation touched, -1 when refused, as Welcart's usces_add_system_option answers a duplicate
// name; and every method as Welcart's editable rows, see paymentRows), plus the status, the
// refusal and the list as data for a bridge that keeps Welcart's usces_payment_method in step.
type PaymentAnswer struct {
	Status         string             `json:"status"`
	MetaID         int64              `json:"meta_id"`
	MetaRow        template.HTML      `json:"meta_row"`
	Message        string             `json:"message,omitempty"`
	Field          string             `json:"field,omitempty"`
	PaymentMethods []paymethod.Method `json:"payment_methods"`
}

// paymentAjax is action=payment_ajax. The operation is mode=add|update|delete|sort, or
// Welcart's own flags (update=1, delete=1, sort=1, otherwise add). Fields keep Welcart's
// names: name, explanation, settlement, module, use, sort and id for update; newname,
// newexplanation, newsettlement and newmodule are accepted for add as Welcart's form posts
// them; idstr (ids comma-separated, in the new order) for sort.
//
// Every refusal is HTTP 200 with meta_id -1, which is what Welcart's script checks after an
// add or an update (it then shows its own error and keeps the table), and meta_row carries
// the message above the rows, which is what its script shows after a delete or a sort (it
// replaces the table with meta_row whatever the answer).
//
// Payment methods are the daemon's, shared by every shop: with a shop key the answer is NG,
// meta_id -1, and nothing changes. One shop stopping 後払い（atone）must not stop it for all.
func (f *facade) paymentAjax(c *gin.Context) {
	ctx := c.Request.Context()
	if !isAdmin(c) {
		// The rows are not shown to a shop key either: the refusal alone.
		c.JSON(http.StatusOK, PaymentAnswer{Status: statusNG, MetaID: -1, Message: msgAdminRequired,
			MetaRow: refusalRow(msgAdminRequired), PaymentMethods: []paymethod.Method{}})
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
		pm, err = f.d.Methods.Add(ctx, methodOf(c, "new"), httpapi.Actor(c))
		if err == nil {
			id = pm.ID
		}
	case "update":
		if id, err = strconv.ParseInt(c.PostForm("id"), 10, 64); err != nil {
			f.paymentAnswer(c, -1, &paymethod.RuleError{Field: "id", Message: msgBadID})
			return
		}
		_, err = f.d.Methods.Update(ctx, id, methodOf(c, ""), httpapi.Actor(c))
	case "delete":
		if id, err = strconv.ParseInt(c.PostForm("id"), 10, 64); err != nil {
			f.paymentAnswer(c, -1, &paymethod.RuleError{Field: "id", Message: msgBadID})
			return
		}
		err = f.d.Methods.Delete(ctx, id, httpapi.Actor(c))
	case "sort":
		var ids []int64
		ids, err = idList(c.DefaultPostForm("idstr", c.PostForm("ids")))
		if err != nil {
			f.paymentAnswer(c, -1, &paymethod.RuleError{Field: "idstr", Message: msgBadID})
			return
		}
		err = f.d.Methods.Sort(ctx, ids, httpapi.Actor(c))
	default:
		f.paymentAnswer(c, -1, &paymethod.RuleError{Field: "mode", Message: msgUnknownMode})
		return
	}
	if err != nil {
		f.paymentAnswer(c, -1, err)
		return
	}
	f.paymentAnswer(c, id, nil)
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
func (f *facade) paymentAnswer(c *gin.Context, id int64, err error) {
	ctx := c.Request.Context()
	a := PaymentAnswer{Status: statusOK, MetaID: id}
	if err != nil {
		d := fault.Of(err)
		if d.Kind == fault.Internal {
			fail(c, err)
			return
		}
		a.Status, a.MetaID, a.Message, a.Field = statusNG, -1, d.Message, d.Field
		if a.Field == "" && d.Kind == fault.NotFound {
			// What payment_ajax looks up is the method its id names.
			a.Field = "id"
		}
	}
	ms, err := f.d.Methods.List(ctx, false)
	if err != nil {
		fail(c, err)
		return
	}
	allowed, err := f.d.Methods.Allowed(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	if a.MetaRow, err = paymentRows(ms, allowed, a.Message); err != nil {
		fail(c, err)
		return
	}
	if ms == nil {
		ms = []paymethod.Method{}
	}
	a.PaymentMethods = ms
	c.JSON(http.StatusOK, a)
}

type paymentRow struct {
	paymethod.Method
	Codes []codeOption
}

type codeOption struct {
	Code, Label string
	Selected    bool
}

// paymentRows renders 基本設定 > 支払方法's rows for tbody#payment-list, in storefront order,
// each an editable table#payment-ID with what Welcart's script reads and binds: the inputs
// payment[ID][name], [use] (radios [use_activate], [use_deactivate]), [explanation],
// [settlement], [module] and the hidden [sort], found by id; the buttons deletepayment[ID] and
// updatepayment[ID] calling payment.post('del'|'update', ID); div#payment_loading-ID; and the
// table ids its drag-sort sends as idstr. A refusal, when given, heads the rows.
func paymentRows(ms []paymethod.Method, allowed map[string]string, refusal string) (template.HTML, error) {
	rows := make([]paymentRow, len(ms))
	for i, m := range ms {
		rows[i] = paymentRow{Method: m, Codes: codeOptions(allowed, m.Settlement)}
	}
	return render("payment-rows", struct {
		Refusal string
		Rows    []paymentRow
	}{refusal, rows})
}

// refusalRow is a refusal alone in meta_row.
func refusalRow(msg string) template.HTML {
	h, err := paymentRows(nil, nil, msg)
	if err != nil {
		return ""
	}
	return h
}

// codeOptions is the 決済種別 select: Welcart's own codes in Welcart's order, then the codes of
// the modules in use by module. A code no longer allowed (its module was unselected) stays,
// marked, so that updating the row does not change it silently.
func codeOptions(allowed map[string]string, cur string) []codeOption {
	var out []codeOption
	for _, code := range paymethod.BaseOrder {
		if _, ok := allowed[code]; ok {
			out = append(out, codeOption{Code: code, Label: paymethod.BaseCodes[code]})
		}
	}
	bySlug := map[string][]string{}
	for code, slug := range allowed {
		if _, base := paymethod.BaseCodes[code]; !base {
			bySlug[slug] = append(bySlug[slug], code)
		}
	}
	for _, slug := range slices.Sorted(maps.Keys(bySlug)) {
		codes := bySlug[slug]
		slices.Sort(codes)
		for _, code := range codes {
			label := slug
			if len(codes) > 1 {
				label += "（" + code + "）"
			}
			out = append(out, codeOption{Code: code, Label: label})
		}
	}
	found := false
	for i := range out {
		if out[i].Code == cur {
			out[i].Selected, found = true, true
		}
	}
	if !found && cur != "" {
		out = append(out, codeOption{Code: cur, Label: cur + "（利用できません）", Selected: true})
	}
	return out
}
