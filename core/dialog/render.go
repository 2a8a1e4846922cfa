package dialog

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"

	"github.com/kessai/kessai/core/settlement"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("dialog").ParseFS(templateFS, "templates/*.html"))

func render(name string, data any) (template.HTML, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	// html/template escaped every value on the way in.
	return template.HTML(b.String()), nil //nolint:gosec // output of html/template
}

// Variant is where the dialog is shown.
type Variant int

const (
	// Console is the admin console's dialog: 取消 is #cancel-settlement and 利用金額 is text;
	// 取引修正 goes through 受注編集's 設定を更新, not a button. For a module that takes
	// partial amounts, 売上計上 and 取消 take the amount in #settlement-amount.
	Console Variant = iota
	// Welcart renders the dialog for Welcart's own admin scripts, as a Welcart settlement
	// module does: 取消 is #delete-settlement (mode delete_<module>), and 利用金額 is the field
	// #amount_change, beside the hidden #amount, with 利用額変更 (#change-settlement). Its
	// buttons are for the whole amount: Welcart's scripts send no other.
	Welcart
)

type dialogData struct {
	Module, TransID string
	Notice          string
	ProviderID      string
	State           template.HTML
	Amount          int64
	AmountField     bool // 利用金額 as Welcart's #amount_change and #amount
	PartialField    bool // the console's #settlement-amount for 売上計上 and 取消 (empty: the whole)
	CapturedOn      string
	Buttons         []button
	History         []Row
}

type button struct {
	ID, Class, Mode, Label, Confirm string
}

// buttons name the dialog's operations for each variant. Welcart's scripts bind a module's
// buttons by id: #capture-settlement, #delete-settlement and #change-settlement, posting the
// modes capture_<module>, delete_<module> and change_<module>. The console binds data-mode,
// and names 取消 cancel.
var buttons = map[settlement.Operation]struct {
	welcart        string // the id's and the mode's prefix for Welcart's scripts
	console        string // the console's; "" when the console does not offer it here
	label, confirm string
}{
	settlement.OpCapture: {"capture", "capture", "売上計上", confirmCapture},
	settlement.OpCancel:  {"delete", "cancel", "取消", confirmCancel},
	settlement.OpModify:  {"change", "", "利用額変更", confirmChange},
}

// HTML renders the dialog (Welcart's #settlement-response content): 取引参照, 利用金額,
// 売上計上日, the buttons of the operations offered with Welcart's confirmations in
// data-confirm, and the history table 利用額変更 / 処理区分 / 処理日時.
func (d Dialog) HTML(v Variant) (template.HTML, error) {
	s := d.Settlement
	data := dialogData{Module: s.Module, TransID: s.TransID, Notice: d.Notice, ProviderID: d.ProviderID, Amount: d.Amount,
		AmountField: v == Welcart, PartialField: v == Console && d.Amounts, CapturedOn: d.CapturedOn, History: d.History}
	var err error
	if data.State, err = Badge(d.State); err != nil {
		return "", err
	}
	for _, op := range d.Ops {
		b := buttons[op]
		name := b.console
		if v == Welcart {
			name = b.welcart
		}
		if name == "" {
			continue
		}
		class := "settlement-" + cmp.Or(b.console, b.welcart) // the console's style of 取消 on both
		data.Buttons = append(data.Buttons, button{ID: name + "-settlement", Class: class, Mode: name + "_" + s.Module,
			Label: b.label, Confirm: b.confirm})
	}
	return render("dialog", data)
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
