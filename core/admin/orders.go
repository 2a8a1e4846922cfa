package admin

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/jst"
)

// Commerce is what the order screens (受注リスト, 受注編集 with its 決済情報 dialog,
// 決済エラーログ) and the dashboard's order widgets work on. The daemon builds these after the
// console, so it hands them over with MountCommerce.
type Commerce struct {
	Orders      *order.Orders
	Settlements *settlement.Service

	// continuations tells 受注編集 what an edit did to the order's contract; set by
	// MountContinuations.
	continuations *continuation.Service
}

// MountCommerce fills the reserved 受注リスト and 決済エラーログ entries, adds 受注編集 and the
// settlement and error-log actions, and turns on the 決済エラー notice and the dashboard's
// order widgets. Like AddPage, it must be called before the server starts serving.
func (c *Console) MountCommerce(d Commerce) {
	c.commerce = &d
	c.dialogs = dialog.New(c.deps.Store.DB, d.Settlements)
	c.AddPage(Page{Path: PathOrders, Handler: c.orderList})
	c.AddPage(Page{Path: PathErrorLog, Handler: c.errorLogList})
	r := c.authed
	r.GET(PathOrders+"/:id", c.orderEdit)
	r.POST(PathOrders+"/:id", c.updateOrder)
	r.POST(PathOrders+"/:id/settlement/:op", c.settlementOp)
	r.GET(PathErrorLog+"/:id", c.errorLogDetail)
	r.POST(PathErrorLog+"/export", c.errorLogExport)
	r.POST(PathErrorLog+"/delete", c.errorLogDelete)
}

// settlementNotice is the time of the last settlement error while error-log rows remain,
// formatted for the notice; "" when there is nothing to show or the order screens are not
// mounted. Welcart shows the notice on every admin screen (admin_notices) until the log is
// emptied, so the layout asks on every page.
func (c *Console) settlementNotice(ctx context.Context) string {
	if c.commerce == nil {
		return ""
	}
	t, err := errlog.Notice(ctx, c.deps.Store.DB)
	if err != nil {
		c.log.Warn("admin: settlement notice", "err", err)
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return t.In(jst.Tokyo).Format("2006-01-02 15:04:05")
}

// ordersPerPage is Welcart's default page size of the order list.
const ordersPerPage = 50

// searchFields are the 検索項目 of the order list's search box.
var searchFields = []choiceView{
	{Value: "order_number", Label: "注文番号"},
	{Value: "name", Label: "氏名"},
	{Value: "email", Label: "メールアドレス"},
}

// listedStatuses are the 決済状況 an admin filters on: the four Welcart shows, then kessai's
// transient ones.
var listedStatuses = []settlement.Status{settlement.Authorized, settlement.Captured, settlement.Cancelled, settlement.Failed, settlement.Pending, settlement.Unknown, settlement.Abandoned}

// orderListView is the 受注リスト page.
type orderListView struct {
	Rows  []orderRow
	Total int64
	Page  int
	Pages int
	Query orderQuery

	Fields      []choiceView
	Processes   []choiceView
	Payments    []choiceView
	Settlements []choiceView
}

// orderQuery is the list's search and filters, as they travel in the URL.
type orderQuery struct {
	Field, Word, Process, Payment, Settlement, From, To string
}

// URL is the list's address for page n with the same search and filters.
func (q orderQuery) URL(n int) string {
	v := url.Values{}
	for k, s := range map[string]string{"s_field": q.Field, "s_word": q.Word, "process": q.Process, "payment": q.Payment,
		"settlement": q.Settlement, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if n > 1 {
		v.Set("paged", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return Prefix + PathOrders
	}
	return Prefix + PathOrders + "?" + v.Encode()
}

// Prev is the page before this one, or this one at the start (Welcart's pager).
func (v orderListView) Prev() int { return max(v.Page-1, 1) }

// Next is the page after this one, or this one at the end.
func (v orderListView) Next() int { return min(v.Page+1, v.Pages) }

// orderRow is one line of the list, in the manual's columns.
type orderRow struct {
	order.Order
	Date       string
	Process    string
	Settlement *settlement.Settlement
	Badge      template.HTML
}

// TotalYen is 総合計金額 as Welcart prints it (¥13,824).
func (r orderRow) TotalYen() string { return yen(r.Total) }

// Member is 会員No, blank for a guest as in Welcart.
func (r orderRow) Member() string {
	if r.MemberID == 0 {
		return ""
	}
	return strconv.FormatInt(r.MemberID, 10)
}

func yen(n int64) string { return "¥" + comma(n) }

// comma groups digits by three: 13824 → 13,824.
func comma(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// processChoices are the 対応状況 options; an empty value means 新規受付.
func processChoices(cur string) []choiceView {
	var out []choiceView
	for _, tok := range order.ProcessTokens {
		out = append(out, choiceView{Value: tok, Label: processLabel(tok), Checked: tok == cur})
	}
	return out
}

// processLabel names a 対応状況 token the way order does (order keeps its table private).
func processLabel(tok string) string {
	if tok == "" {
		return order.Order{}.ProcessLabel()
	}
	return order.Order{Status: tok + ","}.ProcessLabel()
}

// processOf is the order's 対応状況 token ("" for 新規受付).
func processOf(o order.Order) string {
	for _, tok := range order.ProcessTokens {
		if tok != "" && o.Has(tok) {
			return tok
		}
	}
	return ""
}

// dayStart parses a date field (YYYY-MM-DD) as the start of that day where the admin lives.
func (c *Console) dayStart(s string) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02", s, jst.Tokyo)
	return t, err == nil
}

func (c *Console) orderList(ctx *gin.Context) {
	rc := ctx.Request.Context()
	q := orderQuery{Field: ctx.Query("s_field"), Word: strings.TrimSpace(ctx.Query("s_word")), Process: ctx.Query("process"),
		Payment: ctx.Query("payment"), Settlement: ctx.Query("settlement"), From: ctx.Query("from"), To: ctx.Query("to")}
	page, _ := strconv.Atoi(ctx.Query("paged"))
	page = max(page, 1)
	f := order.Filter{PaymentName: q.Payment, Limit: ordersPerPage, Offset: (page - 1) * ordersPerPage}
	for _, tok := range order.ProcessTokens {
		if tok != "" && tok == q.Process || tok == "" && q.Process == "new" {
			f.Process = q.Process
		}
	}
	q.Process = f.Process
	switch q.Field {
	case "name":
		f.Name = q.Word
	case "email":
		f.Email = q.Word
	default:
		q.Field = "order_number"
		f.Number = q.Word
	}
	if t, ok := c.dayStart(q.From); ok {
		f.From = t
	} else {
		q.From = ""
	}
	if t, ok := c.dayStart(q.To); ok {
		f.To = t.AddDate(0, 0, 1) // the whole day named
	} else {
		q.To = ""
	}
	if st := settlement.Status(q.Settlement); st.Valid() {
		// order.Filter knows nothing of settlements (the two packages are kept apart on
		// purpose): settlement names the orders, the order list keeps those.
		f.IDsIn = c.commerce.Settlements.OrdersIn(st)
	} else {
		q.Settlement = ""
	}
	list, total, err := c.commerce.Orders.List(rc, f)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	byOrder, err := c.settlementsOf(rc, list)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	v := orderListView{Total: total, Page: page, Pages: max(int((total+ordersPerPage-1)/ordersPerPage), 1), Query: q}
	for _, o := range list {
		row := orderRow{Order: o, Date: o.Date.In(jst.Tokyo).Format("2006-01-02 15:04"), Process: o.ProcessLabel(), Settlement: byOrder[o.ID]}
		if row.Settlement != nil {
			if row.Badge, err = dialog.Badge(row.Settlement.Status); err != nil {
				c.fail(ctx, err)
				return
			}
		}
		v.Rows = append(v.Rows, row)
	}
	if err := c.fillListChoices(ctx, &v); err != nil {
		c.fail(ctx, err)
		return
	}
	c.render(ctx, http.StatusOK, c.pages["orders.html"], View{Title: "受注リスト", Path: PathOrders, Data: v})
}

func (c *Console) fillListChoices(ctx *gin.Context, v *orderListView) error {
	q := v.Query
	for _, f := range searchFields {
		f.Checked = f.Value == q.Field
		v.Fields = append(v.Fields, f)
	}
	v.Processes = []choiceView{{Value: "", Label: "対応状況", Checked: q.Process == ""}}
	for _, ch := range processChoices(q.Process) {
		if ch.Value == "" {
			ch.Value, ch.Checked = "new", q.Process == "new"
		}
		v.Processes = append(v.Processes, ch)
	}
	v.Payments = []choiceView{{Value: "", Label: "支払方法", Checked: q.Payment == ""}}
	methods, err := c.methods.List(ctx.Request.Context(), false)
	if err != nil {
		return err
	}
	for _, m := range methods {
		v.Payments = append(v.Payments, choiceView{Value: m.Name, Label: m.Name, Checked: m.Name == q.Payment})
	}
	v.Settlements = []choiceView{{Value: "", Label: "決済状況", Checked: q.Settlement == ""}}
	for _, st := range listedStatuses {
		v.Settlements = append(v.Settlements, choiceView{Value: string(st), Label: st.Label(), Checked: string(st) == q.Settlement})
	}
	return nil
}

// settlementsOf returns each listed order's own settlement (continuation charges have their
// own list), read in one query.
func (c *Console) settlementsOf(ctx context.Context, list []order.Order) (map[int64]*settlement.Settlement, error) {
	ids := make([]int64, len(list))
	for i, o := range list {
		ids[i] = o.ID
	}
	return c.commerce.Settlements.ForOrders(ctx, ids)
}
