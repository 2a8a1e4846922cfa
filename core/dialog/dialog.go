// Package dialog is the 決済情報 dialog, the one the console's 受注編集 and Welcart's order
// screen (through the façade) both open on an order's settlement: what it shows (決済ID, the
// state, 利用金額, 売上計上日, the history in words), which operations it offers, what its
// operations (参照, 売上計上, 取消, 利用額変更) answer, in the same words wherever it is opened,
// and its markup.
package dialog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/jst"
)

const (
	datetimeLayout = "2006-01-02 15:04:05"
	dateLayout     = "2006-01-02"
)

// Dialog is one showing of the dialog: the settlement as it is now, seen through the
// provider's answer when there is one.
type Dialog struct {
	Settlement *settlement.Settlement // kessai's record, as it is now
	// OK says the operation did what was asked (Welcart's status OK); a refusal, a provider's
	// NG or a call without answer is not OK, and says why in Notice.
	OK bool
	// Outcome is the provider's answer to the operation; the zero value when none was asked.
	Outcome plugins.Outcome
	// Notice is shown above the table: a refusal, an unreachable provider, a disagreement.
	Notice string

	ProviderID string            // 決済ID
	State      settlement.Status // the state the provider reports, else kessai's
	Amount     int64             // 利用金額
	CapturedOn string            // 売上計上日 (Asia/Tokyo), "" before one
	Ops        []settlement.Operation
	// Amounts says 売上計上 and 取消 take an amount (less than the whole is a partial 売上計上
	// or 一部取消): the module announced partial amounts, and one of the two is offered.
	Amounts bool
	History []Row
}

// Row is one line of the history table: 利用額変更 / 処理区分 / 処理日時.
type Row struct {
	No     int
	Amount int64
	Label  string
	At     string
}

// ErrNoSettlement refuses to open the dialog on an order that is there but has no settlement
// with a provider (settlement.ErrNotFound would say the order is not found).
var ErrNoSettlement = settlement.ErrNotFound.WithMessage(MsgNoSettlement)

// Offered are the operations the dialog's buttons may start, in Welcart's order.
var Offered = []settlement.Operation{settlement.OpCapture, settlement.OpCancel, settlement.OpModify}

// Build makes the dialog of s with its history hs. ref is the provider's answer to 取引参照 or
// to the operation just performed (nil when the provider was not asked: the dialog then shows
// kessai's record); notice heads the dialog; offers tells whether s's module announced an
// operation (nil: every one). An operation is offered when s's status allows it and the module
// announced it; 利用額変更 never for a continuation charge, which is its period's amount (later
// periods follow the order's 受注編集).
func Build(s *settlement.Settlement, hs []settlement.History, ref *plugins.TransactionResult, notice string, offers func(settlement.Operation) bool) Dialog {
	d := Dialog{Settlement: s, Notice: notice, ProviderID: s.WcTransID, State: s.Status, Amount: s.Amount}
	if s.CapturedAt != nil {
		d.CapturedOn = s.CapturedAt.In(jst.Tokyo).Format(dateLayout)
	}
	if ref != nil && ref.Outcome == plugins.Processed {
		if ref.ProviderID != "" {
			d.ProviderID = ref.ProviderID
		}
		if ref.Amount != 0 {
			d.Amount = ref.Amount
		}
		if st, ok := stateOf[ref.State]; ok {
			d.State = st
			if st != s.Status && d.Notice == "" {
				d.Notice = fmt.Sprintf(MsgRefMismatch, st.Label(), s.Status.Label())
			}
		}
		if !ref.SettledAt.IsZero() {
			d.CapturedOn = ref.SettledAt.In(jst.Tokyo).Format(dateLayout)
		}
	}
	for _, op := range Offered {
		if settlement.Allowed(op, s.Status) != nil || (offers != nil && !offers(op)) {
			continue
		}
		if op == settlement.OpModify && s.ContinuationChargeID != nil {
			continue
		}
		d.Ops = append(d.Ops, op)
	}
	// Partial amounts are a capability like any other: offered as 一部取消 (OpRefund), which
	// needs what a partial 売上計上 needs.
	partial := settlement.Allowed(settlement.OpRefund, s.Status) == nil && (offers == nil || offers(settlement.OpRefund))
	d.Amounts = partial && (d.Offers(settlement.OpCapture) || d.Offers(settlement.OpCancel))
	d.History = rows(hs)
	return d
}

// Offers reports whether d offers op.
func (d Dialog) Offers(op settlement.Operation) bool {
	for _, o := range d.Ops {
		if o == op {
			return true
		}
	}
	return false
}

// stateOf maps the provider's state to the status whose label the dialog shows.
var stateOf = map[plugins.State]settlement.Status{
	plugins.StateAuthorized: settlement.Authorized,
	plugins.StateCaptured:   settlement.Captured,
	plugins.StateCancelled:  settlement.Cancelled,
	plugins.StateDeclined:   settlement.Failed,
}

// rows keeps the history rows where money changed state as the provider confirmed it (or an
// authorization failed), leaving out in-flight claims, references and refused calls, which
// Welcart's table does not show either.
func rows(hs []settlement.History) []Row {
	var out []Row
	for _, h := range hs {
		if h.StatusTo == settlement.Pending || h.Operation == settlement.OpReference {
			continue
		}
		if h.Outcome != plugins.Processed.String() && h.StatusTo != settlement.Failed {
			continue
		}
		if h.StatusFrom == h.StatusTo && h.Operation != settlement.OpModify && h.Operation != settlement.OpRefund {
			continue
		}
		out = append(out, Row{No: len(out) + 1, Amount: h.Amount, Label: operationLabel(h), At: h.CreatedAt.In(jst.Tokyo).Format(datetimeLayout)})
	}
	return out
}

// operationLabel is the 処理区分. Operations an admin asks for keep their own name (売上計上,
// 取消, 一部取消, 取引修正); an authorization or a resolution shows the state it left, because
// the atone module's table shows its first row as 仮売上 (or 売上計上 with 即時売上確定).
func operationLabel(h settlement.History) string {
	switch h.Operation {
	case settlement.OpCapture, settlement.OpCancel, settlement.OpRefund, settlement.OpModify:
		return h.Operation.Label()
	}
	return h.StatusTo.Label()
}

// Service opens the dialog and runs its operations through the settlement engine.
type Service struct {
	db          *gorm.DB
	settlements *settlement.Service
}

// New returns the dialog's service.
func New(db *gorm.DB, settlements *settlement.Service) *Service {
	return &Service{db: db, settlements: settlements}
}

// Show is the dialog of s as kessai recorded it, with notice above it, without asking the
// provider.
func (sv *Service) Show(ctx context.Context, s *settlement.Settlement, notice string) (Dialog, error) {
	return sv.show(ctx, s, nil, notice)
}

func (sv *Service) show(ctx context.Context, s *settlement.Settlement, ref *plugins.TransactionResult, notice string) (Dialog, error) {
	hs, err := settlement.Histories(ctx, sv.db, s.ID)
	if err != nil {
		return Dialog{}, fmt.Errorf("dialog %s: %w", s.TransID, err)
	}
	return Build(s, hs, ref, notice, sv.offers(ctx, s.Module)), nil
}

// offers asks the module host once per operation. When that cannot be told (the module is
// down) it says yes: the button stays, and the engine says why if it is pressed.
func (sv *Service) offers(ctx context.Context, module string) func(settlement.Operation) bool {
	return func(op settlement.Operation) bool {
		ok, err := sv.settlements.Offers(ctx, module, op)
		return ok || err != nil
	}
}

// Operate runs op (OpReference, OpCapture or OpCancel) on s for actor and answers the dialog
// to show next. shopID limits the call to that shop's settlements (0: any). A refusal (the
// status no longer allows op, the module is down or does not offer it, the provider said NG
// or did not answer) is the dialog's notice, not an error: err is kessai's own failure only.
func (sv *Service) Operate(ctx context.Context, shopID int64, s *settlement.Settlement, op settlement.Operation, actor string) (Dialog, error) {
	return sv.OperateAmount(ctx, shopID, s, op, 0, actor)
}

// OperateAmount is Operate with the amount of a 売上計上 or 取消 (0: the whole), as the
// dialog's amount field gives it when Amounts. A refused amount is the notice.
func (sv *Service) OperateAmount(ctx context.Context, shopID int64, s *settlement.Settlement, op settlement.Operation, amount int64, actor string) (Dialog, error) {
	var r settlement.Result
	var err error
	switch op {
	case settlement.OpReference:
		r, err = sv.settlements.Reference(ctx, shopID, s.ID, actor)
	case settlement.OpCapture:
		r, err = sv.settlements.CaptureAmount(ctx, shopID, s.ID, amount, actor)
	case settlement.OpCancel:
		r, err = sv.settlements.CancelAmount(ctx, shopID, s.ID, amount, actor)
	default:
		return Dialog{}, fmt.Errorf("dialog %s: %s is not one of its operations", s.TransID, op)
	}
	var ok bool
	var ref *plugins.TransactionResult
	notice := ""
	switch {
	case errors.Is(err, settlement.ErrUnresolved):
		notice = MsgNoAnswer
	case err != nil:
		msg, known := Refusal(err)
		if !known {
			return Dialog{}, fmt.Errorf("%s %s: %w", op, s.TransID, err)
		}
		notice = msg
	case r.Outcome == plugins.Processed:
		ok, ref = true, &r.Provider
	case r.Outcome == plugins.Pending:
		ok = true
	case r.Outcome == plugins.NotAttempted && op == settlement.OpReference:
		ok, notice = true, MsgNotReferenced
	case r.Outcome == plugins.Undefined:
		notice = MsgNoAnswer
	default:
		notice = ProviderMessage(r.Provider.Result)
	}
	now, err := sv.current(ctx, s, r.Settlement)
	if err != nil {
		return Dialog{}, err
	}
	d, err := sv.show(ctx, now, ref, notice)
	d.OK, d.Outcome = ok, r.Outcome
	return d, err
}

// current is the settlement as the operation left it; a refusal may come without it.
func (sv *Service) current(ctx context.Context, s, after *settlement.Settlement) (*settlement.Settlement, error) {
	if after != nil {
		return after, nil
	}
	now, err := sv.settlements.Get(ctx, 0, s.ID)
	if err != nil {
		return nil, fmt.Errorf("dialog %s: %w", s.TransID, err)
	}
	return now, nil
}

// Change is 利用額変更 (取引修正) from the dialog: the order edit e of o, whose settlement is s,
// through order.Update, the rules of every 受注編集. As with Operate, refusals are the
// notice. An edit the order's rules refuse (order.ValidationError) is returned as the error,
// for the caller to show field by field.
func (sv *Service) Change(ctx context.Context, o *order.Order, s *settlement.Settlement, e order.Edit, actor string) (Dialog, error) {
	if s.ContinuationChargeID != nil {
		// A charge is its period's amount; later periods follow the order's 受注編集.
		return sv.Show(ctx, s, MsgChargeChange)
	}
	res, err := order.Update(ctx, sv.db, sv.settlements, o, e, actor)
	var ve order.ValidationError
	if errors.As(err, &ve) {
		return Dialog{}, err
	}
	ok := false
	notice := ""
	switch {
	case err != nil:
		msg, known := Refusal(err)
		if !known {
			return Dialog{}, fmt.Errorf("change %s: %w", s.TransID, err)
		}
		notice = msg
	case res.Outcome != nil && res.Outcome.Outcome == plugins.Undefined:
		notice = MsgNoAnswer
	case res.Outcome != nil:
		notice = ProviderMessage(res.Outcome.Provider.Result)
	case res.Notice != "":
		notice = res.Notice
	case !res.ProviderUpdated:
		notice = MsgNoChange
	default:
		ok = true
	}
	now, err := sv.current(ctx, s, nil)
	if err != nil {
		return Dialog{}, err
	}
	d, err := sv.show(ctx, now, nil, notice)
	d.OK = ok
	if res.Outcome != nil {
		d.Outcome = res.Outcome.Outcome
	}
	return d, err
}

// ProviderMessage is a provider's refusal as people read it: its messages, and its code when
// the provider gave one (kessai's own KESSAI_… codes are for the logs, not for people).
func ProviderMessage(r plugins.Result) string {
	msg := strings.Join(r.Messages, " / ")
	if msg == "" {
		msg = MsgDeclined
	}
	if ProviderCode(r.Code) {
		msg += "（" + r.Code + "）"
	}
	return msg
}

// ProviderCode reports a code the provider gave (EATN0115), as opposed to none or kessai's own
// (KESSAI_NG, KESSAI_TIMEOUT…).
func ProviderCode(code string) bool { return code != "" && !strings.HasPrefix(code, "KESSAI_") }

// Refusal is the message of an operation's refusal, and whether err is one: an error that
// describes itself (a status that no longer allows the operation, a module that is down, an
// order or settlement that is not there) is told in its own words; any other is kessai's own
// failure, not a refusal.
func Refusal(err error) (string, bool) {
	d := fault.Of(err)
	if err == nil || d.Kind == fault.Internal {
		return "", false
	}
	return d.Message, true
}
