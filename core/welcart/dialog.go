package welcart

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"fmt"
	"html/template"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/jst"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("welcart").ParseFS(templateFS, "templates/*.html"))

// tokyo is where Welcart shows times: the database keeps UTC.
var tokyo = jst.Tokyo

const (
	datetimeLayout = "2006-01-02 15:04:05"
	dateLayout     = "2006-01-02"
)

func render(name string, data any) (template.HTML, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	// html/template escaped every value on the way in.
	return template.HTML(b.String()), nil //nolint:gosec // output of html/template
}

// View is what one opening of the 決済情報 dialog knows besides the settlement and its
// history.
type View struct {
	// Reference is the provider's answer to 取引参照, or to the operation just performed; nil
	// when the provider was not asked (the dialog then shows kessai's record).
	Reference *plugins.TransactionResult
	// Notice is shown above the table: a refusal, an unreachable provider.
	Notice string
	// Welcart renders the dialog for Welcart's own admin scripts, as a Welcart settlement module
	// does: 取消 is #delete-settlement (mode delete_<module>), and 利用金額 is the field
	// #amount_change, beside the hidden #amount, with 利用額変更 (#change-settlement) when the
	// amount may change. Without it the dialog is the console's: 取消 is #cancel-settlement and
	// 利用金額 is text.
	Welcart bool
}

type dialogData struct {
	Module, TransID string
	Notice          string
	ProviderID      string
	State           template.HTML
	Amount          int64
	AmountField     bool // 利用金額 as Welcart's #amount_change and #amount
	CapturedOn      string
	Buttons         []button
	History         []historyRow
}

type button struct {
	ID, Class, Mode, Label, Confirm string
}

type historyRow struct {
	No     int
	Amount int64
	Label  string
	At     string
}

// buttons are the dialog's operations in Welcart's order, each offered only when the
// settlement's status allows it (settlement's rules: 売上計上 from 仮売上, 取消 from 仮売上 or
// 売上計上, 取引修正 from both). Welcart's scripts bind a module's buttons by id:
// #capture-settlement, #delete-settlement and #change-settlement, posting the modes
// capture_<module>, delete_<module> and change_<module>. The console binds data-mode, and
// names 取消 cancel.
var buttons = []struct {
	op             settlement.Operation
	welcart        string // the id's and the mode's prefix for Welcart's scripts
	console        string // the console's; "" when the console does not offer it here
	label, confirm string
}{
	{settlement.OpCapture, "capture", "capture", "売上計上", confirmCapture},
	{settlement.OpCancel, "delete", "cancel", "取消", confirmCancel},
	{settlement.OpModify, "change", "", "利用額変更", confirmChange},
}

// Dialog renders the 決済情報 dialog of s (Welcart's #settlement-response content): 取引参照
// (the provider's view when v.Reference is set), 利用金額, 売上計上日, the buttons the status
// allows with Welcart's confirmations in data-confirm, and the history table 利用額変更 /
// 処理区分 / 処理日時. The admin console shows the same HTML.
func Dialog(ctx context.Context, db *gorm.DB, s *settlement.Settlement, v View) (template.HTML, error) {
	hs, err := settlement.Histories(ctx, db, s.ID)
	if err != nil {
		return "", fmt.Errorf("dialog %s: %w", s.TransID, err)
	}
	d := dialogData{Module: s.Module, TransID: s.TransID, Notice: v.Notice, ProviderID: s.WcTransID, Amount: s.Amount}
	d.State, err = Badge(s.Status)
	if err != nil {
		return "", err
	}
	if s.CapturedAt != nil {
		d.CapturedOn = s.CapturedAt.In(tokyo).Format(dateLayout)
	}
	if r := v.Reference; r != nil && r.Outcome == plugins.Processed {
		if r.ProviderID != "" {
			d.ProviderID = r.ProviderID
		}
		if r.Amount != 0 {
			d.Amount = r.Amount
		}
		if st, ok := statusOf[r.State]; ok {
			if d.State, err = Badge(st); err != nil {
				return "", err
			}
			if st != s.Status && d.Notice == "" {
				d.Notice = fmt.Sprintf(msgRefMismatch, st.Label(), s.Status.Label())
			}
		}
		if !r.SettledAt.IsZero() {
			d.CapturedOn = r.SettledAt.In(tokyo).Format(dateLayout)
		}
	}
	d.AmountField = v.Welcart
	for _, b := range buttons {
		if settlement.Allowed(b.op, s.Status) != nil {
			continue
		}
		name := b.console
		if v.Welcart {
			name = b.welcart
		}
		// A continuation charge is its period's amount: 利用額変更 is refused there (later
		// periods follow the order's 受注編集), so it is not offered.
		if name == "" || (b.op == settlement.OpModify && s.ContinuationChargeID != nil) {
			continue
		}
		class := "settlement-" + cmp.Or(b.console, b.welcart) // the console's style of 取消 on both
		d.Buttons = append(d.Buttons, button{ID: name + "-settlement", Class: class, Mode: name + "_" + s.Module,
			Label: b.label, Confirm: b.confirm})
	}
	d.History = historyRows(hs)
	return render("dialog", d)
}

// statusOf maps the provider's state to the status whose label the dialog shows.
var statusOf = map[plugins.State]settlement.Status{
	plugins.StateAuthorized: settlement.Authorized,
	plugins.StateCaptured:   settlement.Captured,
	plugins.StateCancelled:  settlement.Cancelled,
	plugins.StateDeclined:   settlement.Failed,
}

// historyRows keeps the rows where money changed state as the provider confirmed it (or an
// authorization failed), leaving out in-flight claims, references and refused calls, which
// Welcart's table does not show either.
func historyRows(hs []settlement.History) []historyRow {
	var out []historyRow
	for _, h := range hs {
		if h.StatusTo == settlement.Pending || h.Operation == settlement.OpReference {
			continue
		}
		if h.Outcome != plugins.Processed.String() && h.StatusTo != settlement.Failed {
			continue
		}
		if h.StatusFrom == h.StatusTo && h.Operation != settlement.OpModify {
			continue
		}
		out = append(out, historyRow{No: len(out) + 1, Amount: h.Amount, Label: operationLabel(h), At: h.CreatedAt.In(tokyo).Format(datetimeLayout)})
	}
	return out
}

// operationLabel is the 処理区分. Operations an admin asks for keep their own name (売上計上,
// 取消, 取引修正); an authorization or a resolution shows the state it left, because the
// atone module's table shows its first row as 仮売上 (or 売上計上 with 即時売上確定).
func operationLabel(h settlement.History) string {
	switch h.Operation {
	case settlement.OpCapture, settlement.OpCancel, settlement.OpModify:
		return h.Operation.Label()
	}
	return h.StatusTo.Label()
}

// badgeClass follows Welcart's card-* classes for the status badge beside the 決済ID.
var badgeClass = map[settlement.Status]string{
	settlement.Authorized: "card-auth",
	settlement.Captured:   "card-capture",
	settlement.Cancelled:  "card-delete",
	settlement.Failed:     "card-error",
	settlement.Pending:    "card-pending",
	settlement.Unknown:    "card-unknown",
	settlement.Abandoned:  "card-pending",
}

// Badge renders the status badge Welcart shows beside the 決済ID and in the 決済状況 row
// (#settlement-status), e.g. <span class="acting-status card-auth">仮売上</span>.
func Badge(st settlement.Status) (template.HTML, error) {
	return render("badge", struct{ Class, Label string }{badgeClass[st], st.Label()})
}

func message(msg string) template.HTML {
	h, err := render("message", msg)
	if err != nil {
		return template.HTML(template.HTMLEscapeString(msg)) //nolint:gosec // escaped
	}
	return h
}
