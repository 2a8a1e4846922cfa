package admin

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
)

// Messages of the 継続課金 screens. Those the contracts' rules produce (次回課金日は…以降で
// 指定してください。, 再決済 refusals) come from package continuation and are shown as they are.
const (
	msgBadChargingDate  = "次回課金日の値が不正です。" // Welcart's continuation_update
	msgBadContractDate  = "次回契約更新日の値が不正です。"
	msgPriceNotNumber   = "決済金額は半角数字で入力してください。"
	msgContCaptured     = "売上計上しました。"
	msgContCancelled    = "取消しました。"
	msgContRetried      = "再決済しました。"
	msgContRetryNG      = "再決済の結果は決済エラーです。" // and why, from the provider's answer
	msgContRetryUnknown = "再決済の応答がありませんでした。取引の状態を確認中です。重複して再決済しないよう、状態が確定するまでお待ちください。"
	msgSettingsSaved    = "継続課金設定を更新しました。"
	msgContConcluded    = "課金の状態を確定しました: %s"
	msgContNotCharged   = "atone に取引がないものとして決済エラーにしました。再決済できます。"
	// The 受注編集 notice of an edit that changed the contract's 決済金額.
	msgContPriceChanged = "継続課金の決済金額を%s円に変更しました。次回課金日 %s の課金から適用されます（過去の課金の金額は変わりません）。"
	// Welcart's confirmations of the 決済情報 dialog, and the manual's warnings that go with them.
	confirmContCapture = "売上計上処理を実行します。よろしいですか？"
	confirmContCancel  = "取消処理を実行します。決済取消後に同じデータで再決済することは出来ません。よろしいですか？"
	confirmContRetry   = "再決済処理を実行します。新たに決済が実行されます。よろしいですか？"
	// kessai's: a person's answer for a charge whose answer was lost.
	confirmContConclude = "入力した内容で課金の状態を確定します。決済IDが空欄の場合は、決済代行会社に取引がないものとして決済エラーにします（再決済できます）。よろしいですか？"
)

// contPerPage is the 継続課金会員リスト's page size, as the order list's.
const contPerPage = 50

// continuationScreens are 継続課金会員リスト (with 継続課金設定) and 継続課金会員情報, over the
// contracts' service. The service is the only writer: each action is one of its calls, audited
// there with the admin's login (売上計上 and 取消 are audited here, as on 受注編集).
type continuationScreens struct {
	c  *Console
	sv *continuation.Service
}

// MountContinuations fills the reserved 継続課金会員リスト entry and adds 継続課金会員情報 with
// its edits, the per-charge 売上計上, 取消 and 再決済, and the 継続課金設定 form. Like AddPage,
// it must be called before the server starts serving.
//
//	GET  /admin/continuations                             list, filters, search, 継続課金設定
//	POST /admin/continuations/settings                    継続課金設定 (自動処理の実行時間, result mail)
//	GET  /admin/continuations/:id                         継続課金会員情報
//	POST /admin/continuations/:id                         更新 (次回契約更新日, 次回課金日, 決済金額, 契約)
//	POST /admin/continuations/:id/charges/:cid/:op        capture | cancel | retry of one charge,
//	                                                      conclude (provider_id, reason) of a 確認中 one
func (c *Console) MountContinuations(sv *continuation.Service) {
	s := &continuationScreens{c: c, sv: sv}
	if c.commerce != nil {
		c.commerce.continuations = sv
	}
	c.AddPage(Page{Path: PathContinuations, Handler: s.list})
	r := c.authed
	r.POST(PathContinuations+"/settings", s.saveSettings)
	r.GET(PathContinuations+"/:id", s.detail)
	r.POST(PathContinuations+"/:id", s.update)
	r.POST(PathContinuations+"/:id/charges/:cid/:op", s.chargeOp)
}

func contPath(id int64) string { return fmt.Sprintf("%s/%d", PathContinuations, id) }

// contQuery is the list's filters and search as they travel in the URL.
type contQuery struct {
	Status string // continuation | cancellation | ""
	Failed bool   // 決済エラーのみ
	Field  string // order_number | member | email
	Word   string
}

// URL is the list's address for page n with the same filters.
func (q contQuery) URL(n int) string {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Failed {
		v.Set("failed", "1")
	}
	if q.Word != "" {
		v.Set("s_field", q.Field)
		v.Set("s_word", q.Word)
	}
	if n > 1 {
		v.Set("paged", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return Prefix + PathContinuations
	}
	return Prefix + PathContinuations + "?" + v.Encode()
}

// contSearchFields are the search box's 検索項目.
var contSearchFields = []choiceView{
	{Value: "order_number", Label: "注文番号"},
	{Value: "member", Label: "会員No"},
	{Value: "email", Label: "Eメール"},
}

// contRow is one line of the list, in continueMemberList's columns.
type contRow struct{ continuation.View }

// TotalYen is 総合計金額 (¥2,160).
func (r contRow) TotalYen() string { return yen(r.OrderTotal) }

// AppliedOn is お申込み日 as the list shows it: the day only.
func (r contRow) AppliedOn() string { return dayOf(r.ApplicationDate) }

// Active is 契約 継続中 (green) rather than 停止中 (red).
func (r contRow) Active() bool { return r.Status == continuation.Active }

func dayOf(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

// contListView is the 継続課金会員リスト page.
type contListView struct {
	Rows     []contRow
	Total    int64
	Page     int
	Pages    int
	Query    contQuery
	Fields   []choiceView
	Statuses []choiceView
	Settings contSettingsForm
}

// Prev is the page before this one, or this one at the start (Welcart's pager).
func (v contListView) Prev() int { return max(v.Page-1, 1) }

// Next is the page after this one, or this one at the end.
func (v contListView) Next() int { return min(v.Page+1, v.Pages) }

// contSettingsForm is the 継続課金設定 block: 自動処理の実行時間 as DL Seller's hour and
// 10-minute selects, and the address of the run's result mail.
type contSettingsForm struct {
	Hour, Minute string
	AdminMail    string
	Hours        []choiceView
	Minutes      []choiceView
	Errors       map[string]string // by continuation.FieldError.Field: run_time, admin_mail
}

func newSettingsForm(hour, minute, mail string, errs map[string]string) contSettingsForm {
	f := contSettingsForm{Hour: hour, Minute: minute, AdminMail: mail, Errors: errs}
	for h := range 24 {
		v := fmt.Sprintf("%02d", h)
		f.Hours = append(f.Hours, choiceView{Value: v, Label: v, Checked: v == hour})
	}
	for m := 0; m < 60; m += 10 {
		v := fmt.Sprintf("%02d", m)
		f.Minutes = append(f.Minutes, choiceView{Value: v, Label: v, Checked: v == minute})
	}
	return f
}

func (s *continuationScreens) list(ctx *gin.Context) {
	set, err := s.sv.Settings(ctx.Request.Context())
	if err != nil {
		s.c.fail(ctx, err)
		return
	}
	hour, minute, _ := strings.Cut(set.RunTime, ":")
	s.showList(ctx, http.StatusOK, "", newSettingsForm(hour, minute, set.AdminMail, nil))
}

// showList renders the list with the settings block f (as saved, or as submitted with its
// refusals).
func (s *continuationScreens) showList(ctx *gin.Context, status int, errMsg string, f contSettingsForm) {
	rc := ctx.Request.Context()
	q := contQuery{Status: ctx.Query("status"), Failed: ctx.Query("failed") != "", Field: ctx.Query("s_field"), Word: strings.TrimSpace(ctx.Query("s_word"))}
	if st := continuation.Status(q.Status); st != continuation.Active && st != continuation.Stopped {
		q.Status = ""
	}
	switch q.Field {
	case "member", "email":
	default:
		q.Field = "order_number"
	}
	page, _ := strconv.Atoi(ctx.Query("paged"))
	page = max(page, 1)
	views, total, err := s.find(rc, q, page)
	if err != nil {
		s.c.fail(ctx, err)
		return
	}
	v := contListView{Total: total, Page: page, Pages: max(int((total+contPerPage-1)/contPerPage), 1), Query: q, Settings: f}
	for _, w := range views {
		v.Rows = append(v.Rows, contRow{w})
	}
	for _, fld := range contSearchFields {
		fld.Checked = fld.Value == q.Field
		v.Fields = append(v.Fields, fld)
	}
	v.Statuses = []choiceView{{Value: "", Label: "契約", Checked: q.Status == ""}}
	for _, st := range []continuation.Status{continuation.Active, continuation.Stopped} {
		v.Statuses = append(v.Statuses, choiceView{Value: string(st), Label: st.Label(), Checked: string(st) == q.Status})
	}
	s.c.render(ctx, status, s.c.pages["continuations.html"], View{Title: "継続課金会員リスト", Path: PathContinuations, Error: errMsg, Data: v})
}

// find returns the page's contracts, searched by continuation.Filter: 契約, 会員No, 注文番号,
// Eメール and 決済エラーのみ.
func (s *continuationScreens) find(ctx context.Context, q contQuery, page int) ([]continuation.View, int64, error) {
	f := continuation.Filter{Status: continuation.Status(q.Status), Failed: q.Failed, Limit: contPerPage, Offset: (page - 1) * contPerPage}
	switch {
	case q.Word == "":
	case q.Field == "member":
		n, err := strconv.ParseInt(q.Word, 10, 64)
		if err != nil || n <= 0 {
			return nil, 0, nil // 会員No is a number: nothing else can match
		}
		f.MemberID = n
	case q.Field == "email":
		f.Email = q.Word
	case q.Field == "order_number":
		f.OrderNumber = q.Word
	}
	return s.sv.List(ctx, f)
}

func (s *continuationScreens) saveSettings(ctx *gin.Context) {
	hour, minute := ctx.PostForm("run_hour"), ctx.PostForm("run_minute")
	mail := strings.TrimSpace(ctx.PostForm("admin_mail"))
	set := continuation.Settings{RunTime: hour + ":" + minute, AdminMail: mail}
	err := s.sv.SaveSettings(ctx.Request.Context(), set, current(ctx).Login)
	switch fs := fault.Of(err).Fields; {
	case len(fs) > 0:
		errs := map[string]string{}
		for _, e := range fs {
			errs[e.Field] = e.Message
		}
		s.showList(ctx, http.StatusUnprocessableEntity, msgSettingsFailed, newSettingsForm(hour, minute, mail, errs))
	case err != nil:
		s.c.fail(ctx, err)
	default:
		s.c.redirectFlash(ctx, PathContinuations, msgSettingsSaved)
	}
}

// contForm is the 継続課金情報 form as shown: the contract's values, or what the admin
// submitted with the refusals next to their fields.
type contForm struct {
	NextContracting string
	NextCharging    string
	Price           string
	Status          string
	Errors          map[string]string // by field: next_contracting, next_charging, price, status
}

// contStatusChoice is one option of 契約: 継続中/停止 while active, 停止中/再開 while stopped.
type contStatusChoice struct {
	Value, Label string
	Selected     bool
}

// contCharge is one history row with what its 決済情報 may do.
type contCharge struct {
	continuation.ChargeView
	No         int
	Badge      template.HTML
	CanCapture bool
	CanCancel  bool
}

// AmountYen is 決済金額 (1,082円).
func (r contCharge) AmountYen() string { return comma(r.Amount) + "円" }

// Failed is the 決済エラー badge of the row.
func (r contCharge) Failed() bool { return r.Status == settlement.Failed }

// PaymentID is 決済ID: the provider's transaction, or kessai's key before the provider gave one.
func (r contCharge) PaymentID() string {
	if r.ProviderID != "" {
		return r.ProviderID
	}
	return r.TransID
}

// contPrice is one line of 決済金額の変更履歴.
type contPrice struct{ continuation.PriceChange }

// FromYen and ToYen are the amounts before and after (1,082円).
func (p contPrice) FromYen() string { return comma(p.From) + "円" }
func (p contPrice) ToYen() string   { return comma(p.To) + "円" }

// contDetailView is the 継続課金会員情報 page.
type contDetailView struct {
	continuation.Detail
	Form    contForm
	Choices []contStatusChoice
	Charges []contCharge
	Prices  []contPrice

	ConfirmCapture, ConfirmCancel, ConfirmRetry, ConfirmConclude string
}

// Contractor is 契約者名.
func (v contDetailView) Contractor() string { return strings.TrimSpace(v.Name1 + " " + v.Name2) }

// OrderPriceYen is 受注時金額.
func (v contDetailView) OrderPriceYen() string { return comma(v.OrderPrice) + "円" }

// Active is 契約 継続中.
func (v contDetailView) Active() bool { return v.Status == continuation.Active }

func formOfContract(d *continuation.Detail) contForm {
	return contForm{NextContracting: d.NextContracting.String(), NextCharging: d.NextCharging.String(),
		Price: strconv.FormatInt(d.Price, 10), Status: string(d.Status)}
}

// loadContract reads the contract of the path, answering 404 itself when there is none.
func (s *continuationScreens) loadContract(ctx *gin.Context) (*continuation.Detail, bool) {
	id, ok := pathID(ctx)
	if !ok {
		s.notFound(ctx)
		return nil, false
	}
	d, err := s.sv.Get(ctx.Request.Context(), 0, id)
	if err != nil {
		s.fail(ctx, err)
		return nil, false
	}
	return d, true
}

// fail is the console's fail under 継続課金会員情報.
func (s *continuationScreens) fail(ctx *gin.Context, err error) {
	s.c.failPage(ctx, View{Title: "継続課金会員情報", Path: PathContinuations}, err)
}

func (s *continuationScreens) notFound(ctx *gin.Context) { s.fail(ctx, continuation.ErrNotFound) }

func (s *continuationScreens) detail(ctx *gin.Context) {
	d, ok := s.loadContract(ctx)
	if !ok {
		return
	}
	s.showDetail(ctx, http.StatusOK, d, formOfContract(d), "")
}

func (s *continuationScreens) showDetail(ctx *gin.Context, status int, d *continuation.Detail, f contForm, errMsg string) {
	v := contDetailView{Detail: *d, Form: f,
		ConfirmCapture: confirmContCapture, ConfirmCancel: confirmContCancel, ConfirmRetry: confirmContRetry, ConfirmConclude: confirmContConclude}
	// The choices follow the stored state, as Welcart's select does: 継続中 offers 停止 and
	// 停止中 offers 再開; the selected one is what the form carries.
	if d.Status == continuation.Active {
		v.Choices = []contStatusChoice{{string(continuation.Active), "継続中", false}, {string(continuation.Stopped), "停止", false}}
	} else {
		v.Choices = []contStatusChoice{{string(continuation.Stopped), "停止中", false}, {string(continuation.Active), "再開", false}}
	}
	for i := range v.Choices {
		v.Choices[i].Selected = v.Choices[i].Value == f.Status
	}
	prices, err := s.sv.PriceChanges(ctx.Request.Context(), d.ID)
	if err != nil {
		s.c.fail(ctx, err)
		return
	}
	for _, p := range prices {
		v.Prices = append(v.Prices, contPrice{p})
	}
	// A button is shown when the status allows its operation and the module offers it.
	rc := ctx.Request.Context()
	captures, cancels := s.c.offers(rc, d.Module, settlement.OpCapture), s.c.offers(rc, d.Module, settlement.OpCancel)
	for i, ch := range d.Charges {
		row := contCharge{ChargeView: ch, No: len(d.Charges) - i,
			CanCapture: captures && ch.SettlementID != 0 && settlement.Allowed(settlement.OpCapture, ch.Status) == nil,
			CanCancel:  cancels && ch.SettlementID != 0 && settlement.Allowed(settlement.OpCancel, ch.Status) == nil}
		var err error
		if row.Badge, err = dialog.Badge(ch.Status); err != nil {
			s.c.fail(ctx, err)
			return
		}
		v.Charges = append(v.Charges, row)
	}
	s.c.render(ctx, status, s.c.pages["continuations_detail.html"], View{Title: "継続課金会員情報", Path: PathContinuations, Error: errMsg, Data: v})
}

// update is 更新: only the fields the admin changed are sent, so that a price change is not
// refused over a 次回課金日 nobody touched; the service applies Welcart's rules to the rest.
func (s *continuationScreens) update(ctx *gin.Context) {
	d, ok := s.loadContract(ctx)
	if !ok {
		return
	}
	f := contForm{NextContracting: strings.TrimSpace(ctx.PostForm("next_contracting")), NextCharging: strings.TrimSpace(ctx.PostForm("next_charging")),
		Price: strings.TrimSpace(ctx.PostForm("price")), Status: ctx.PostForm("status"), Errors: map[string]string{}}
	var u continuation.Update
	if f.NextCharging != d.NextCharging.String() {
		if dt, err := continuation.ParseDate(f.NextCharging); err != nil {
			f.Errors["next_charging"] = msgBadChargingDate
		} else {
			u.NextCharging = &dt
		}
	}
	if f.NextContracting != d.NextContracting.String() {
		var dt continuation.Date // empty: no renewal date
		var err error
		if f.NextContracting != "" {
			dt, err = continuation.ParseDate(f.NextContracting)
		}
		if err != nil {
			f.Errors["next_contracting"] = msgBadContractDate
		} else {
			u.NextContracting = &dt
		}
	}
	if p := strings.ReplaceAll(f.Price, ",", ""); p != strconv.FormatInt(d.Price, 10) {
		if n, err := strconv.ParseInt(p, 10, 64); err != nil {
			f.Errors["price"] = msgPriceNotNumber
		} else {
			u.Price = &n
		}
	}
	if f.Status != string(d.Status) {
		st := continuation.Status(f.Status)
		u.Status = &st
	}
	if len(f.Errors) > 0 {
		s.showDetail(ctx, http.StatusUnprocessableEntity, d, f, msgSettingsFailed)
		return
	}
	_, err := s.sv.Update(ctx.Request.Context(), d.ID, u, current(ctx).Login)
	switch fs := fault.Of(err).Fields; {
	case len(fs) > 0:
		for _, e := range fs {
			f.Errors[e.Field] = e.Message
		}
		s.showDetail(ctx, http.StatusUnprocessableEntity, d, f, msgSettingsFailed)
	case err != nil:
		s.fail(ctx, err)
	default:
		s.c.redirectFlash(ctx, contPath(d.ID), msgUpdated)
	}
}

// chargeOp is one button of a history row's 決済情報: 売上計上, 取消 or 再決済. The answer
// comes back as a message on the reloaded 継続課金会員情報.
func (s *continuationScreens) chargeOp(ctx *gin.Context) {
	id, ok := pathID(ctx)
	cid, err := strconv.ParseInt(ctx.Param("cid"), 10, 64)
	if !ok || err != nil || cid <= 0 {
		s.notFound(ctx)
		return
	}
	rc, login, back := ctx.Request.Context(), current(ctx).Login, contPath(id)
	switch op := ctx.Param("op"); op {
	case "retry":
		res, err := s.sv.Retry(rc, id, cid, login)
		switch {
		case err != nil:
			s.refuse(ctx, back, err)
		case res.Outcome == plugins.Processed:
			s.c.redirectFlash(ctx, back, msgContRetried)
		case res.Outcome == plugins.Undefined:
			s.c.redirectWarning(ctx, back, msgContRetryUnknown)
		default:
			s.c.redirectError(ctx, back, msgContRetryNG+s.why(rc, res.Charge.SettlementID))
		}
	case "conclude":
		// Audited by the service, with the reason.
		res, err := s.sv.Conclude(rc, id, cid, strings.TrimSpace(ctx.PostForm("provider_id")), ctx.PostForm("reason"), settlementActor(login))
		switch {
		case err != nil:
			s.refuse(ctx, back, err)
		case res.Settlement != nil && res.Settlement.Status == settlement.Failed:
			s.c.redirectFlash(ctx, back, msgContNotCharged)
		case res.Settlement != nil:
			s.c.redirectFlash(ctx, back, fmt.Sprintf(msgContConcluded, res.Settlement.Status.Label()))
		default:
			s.c.redirectFlash(ctx, back, msgUpdated)
		}
	case "capture", "cancel":
		call, done := s.sv.Capture, msgContCaptured
		if op == "cancel" {
			call, done = s.sv.Cancel, msgContCancelled
		}
		res, err := call(rc, id, cid, settlementActor(login))
		detail := map[string]any{"charge_id": cid}
		if err == nil {
			detail["outcome"] = res.Outcome.String()
			if res.Settlement != nil {
				detail["status"] = res.Settlement.Status.Label()
			}
		}
		if err == nil || !errors.Is(err, continuation.ErrNotFound) {
			// The money operations are what the audit log is for; settlement records the
			// provider's side in its own history.
			if aerr := audit.Record(rc, s.c.deps.Store.DB, login, "continuation."+op, fmt.Sprintf("continuation:%d", id), detail); aerr != nil {
				s.c.log.Error("admin: audit", "action", "continuation."+op, "err", aerr)
			}
		}
		switch {
		case errors.Is(err, settlement.ErrUnresolved):
			s.c.redirectWarning(ctx, back, dialog.MsgNoAnswer)
		case err != nil:
			s.refuse(ctx, back, err)
		case res.Outcome == plugins.Processed:
			s.c.redirectFlash(ctx, back, done)
		case res.Outcome == plugins.Undefined:
			s.c.redirectWarning(ctx, back, dialog.MsgNoAnswer)
		default:
			s.c.redirectError(ctx, back, dialog.ProviderMessage(res.Provider.Result))
		}
	default:
		s.notFound(ctx)
	}
}

// priceNotice is what 受注編集 says when the saved edit moved the order's contract to a new
// 決済金額 (continuation follows the order's total): from which 次回課金日 it applies. "" when
// the order has no contract, or its 決済金額 did not change.
func (c *Console) priceNotice(ctx context.Context, before, after *order.Order) string {
	if c.commerce == nil || c.commerce.continuations == nil || (before.Total == after.Total && before.CartJSON == after.CartJSON) {
		return ""
	}
	d, err := c.commerce.continuations.ForOrder(ctx, 0, after.ID)
	if err != nil {
		if !errors.Is(err, continuation.ErrNotFound) {
			c.log.Warn("admin: contract of an edited order", "order", after.ID, "err", err)
		}
		return ""
	}
	ps, err := c.commerce.continuations.PriceChanges(ctx, d.ID)
	if err != nil || len(ps) == 0 || ps[0].Via != "受注編集" || ps[0].To != d.Price || ps[0].To != after.Total {
		return ""
	}
	return fmt.Sprintf(msgContPriceChanged, comma(d.Price), d.NextCharging)
}

// why is the provider's answer to a charge that failed, from its settlement's last history
// row: atone's message and code, or kessai's note when nothing was sent.
func (s *continuationScreens) why(ctx context.Context, settlementID int64) string {
	h, err := settlement.LastFailure(ctx, s.c.deps.Store.DB, settlementID)
	if err != nil {
		s.c.log.Error("admin: history of a failed charge", "settlement", settlementID, "err", err)
	}
	if h.Message == "" && !dialog.ProviderCode(h.Code) {
		return ""
	}
	return dialog.ProviderMessage(plugins.Result{Messages: []string{h.Message}, Code: h.Code})
}

// refuse shows a refusal on the contract's page, in its own words. A contract or a charge
// that is not there leaves no page to go back to, and kessai's own failure is no refusal:
// both are the error page.
func (s *continuationScreens) refuse(ctx *gin.Context, back string, err error) {
	if k := fault.KindOf(err); k == fault.NotFound || k == fault.Internal {
		s.fail(ctx, err)
		return
	}
	s.c.refuseTo(ctx, back, err)
}
