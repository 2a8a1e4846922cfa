// Package settlement records what happened to an order's money: one settlement per order (or
// per continuation charge), one history row per provider call, and the only place where a
// settlement's status may change.
package settlement

import (
	"fmt"
	"slices"

	"github.com/kessai/kessai/core/fault"
)

// Status is a settlement's state. Four are shown to people as Welcart shows them; pending and
// unknown are transient states that only kessai has.
type Status string

// The statuses.
const (
	// Pending: a checkout (or continuation charge) waiting for the provider's first answer; no
	// money has moved as far as kessai knows. An operation in flight is not a status but a
	// claim on the row (Settlement.ClaimedUntil).
	Pending Status = "pending"
	// Authorized is 仮売上: the provider authorized (与信) the amount; it is not yet captured.
	Authorized Status = "authorized"
	// Captured is 売上計上: the sale is settled with the provider.
	Captured Status = "captured"
	// Cancelled is 取消済み: refunded or voided with the provider. Irreversible.
	Cancelled Status = "cancelled"
	// Failed is 決済エラー: the provider declined (NG) or the attempt failed for good.
	Failed Status = "error"
	// Unknown: a call got no answer (timeout, adapter crash). Money may or may not have moved;
	// the janitor asks the provider (Reference) and nothing is retried blindly.
	Unknown Status = "unknown"
	// Abandoned is かご落ち: a checkout whose widget never answered within the configured time
	// and of which the provider knows nothing. The buyer may still come back and pay.
	Abandoned Status = "abandoned"
)

// Statuses lists every status, in the order tables show them.
var Statuses = []Status{Pending, Authorized, Captured, Cancelled, Failed, Unknown, Abandoned}

var labels = map[Status]string{
	Pending:    "処理中",
	Authorized: "仮売上",
	Captured:   "売上計上",
	Cancelled:  "取消済み",
	Failed:     "決済エラー",
	Unknown:    "確認中",
	Abandoned:  "かご落ち",
}

// Label is the Japanese badge text (仮売上, 売上計上, 取消済み, 決済エラー, …).
func (s Status) Label() string {
	if l, ok := labels[s]; ok {
		return l
	}
	return string(s)
}

// transitions is the whole state machine. A status may move only to the statuses listed for
// it. Statuses hold money states only: an operation in flight is a claim with a lease on the
// row, never a status, so a claim that dies leaves the last proven money state behind.
// Self-transitions mark answers that keep the status but change the record (取引修正 replaces
// the provider transaction of an authorized or captured settlement; a refused call returns
// the settlement to where it was).
//
// A reference (the janitor, 取引参照, reconciliation) proves where the provider stands, so it
// may also correct a status that turned out wrong: a 決済エラー the provider holds as
// authorized, or a 取消済み whose transaction the provider still holds live.
var transitions = map[Status][]Status{
	Pending:    {Pending, Authorized, Captured, Cancelled, Failed, Unknown, Abandoned},
	Authorized: {Authorized, Captured, Cancelled, Unknown},
	Captured:   {Authorized, Captured, Cancelled, Unknown},
	Cancelled:  {Authorized, Captured},
	// A declined checkout may be tried again by the buyer in the widget: a new attempt.
	Failed: {Pending, Authorized, Captured, Cancelled},
	// The janitor's Reference settles an unknown settlement into whatever the provider says.
	Unknown: {Pending, Authorized, Captured, Cancelled, Failed, Unknown},
	// The buyer came back (a new checkout) or the provider's webhook says they paid after all.
	Abandoned: {Pending, Authorized, Captured, Cancelled, Failed, Abandoned},
}

// CanTransition reports whether the state machine allows from → to.
func CanTransition(from, to Status) bool {
	return slices.Contains(transitions[from], to)
}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { _, ok := transitions[s]; return ok }

// ErrTransition is wrapped by every refused status change: a conflict with the settlement's
// status.
var ErrTransition = fault.Sentinel("settlement: status change not allowed", fault.Conflict, codeConflict, msgConflict)

// ErrConflict means the settlement changed under us (another request or replica got there
// first); the caller reloads and decides again.
var ErrConflict = fault.Sentinel("settlement: changed concurrently", fault.Conflict, codeConflict, msgConflict)

// codeConflict and msgConflict answer a settlement whose status does not allow what was asked,
// or no longer does.
const (
	codeConflict = "status_conflict"
	msgConflict  = "決済の状態が変わったため処理できません。状態を確認してください。"
)

// TransitionError says which change was refused.
type TransitionError struct{ From, To Status }

func (e *TransitionError) Error() string {
	return fmt.Sprintf("settlement: %s (%s) cannot become %s (%s)", e.From.Label(), e.From, e.To.Label(), e.To)
}

// Unwrap makes errors.Is(err, ErrTransition) hold.
func (e *TransitionError) Unwrap() error { return ErrTransition }

// Check returns a *TransitionError when from → to is not allowed.
func Check(from, to Status) error {
	if !CanTransition(from, to) {
		return &TransitionError{From: from, To: to}
	}
	return nil
}

// ErrBusy is wrapped by a refusal that arrived while another operation holds the settlement:
// a conflict, and the client may try again once it is done.
var ErrBusy = fault.Sentinel("settlement: another operation is in flight", fault.Conflict, codeConflict, msgBusy)
