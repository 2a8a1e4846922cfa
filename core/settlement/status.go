// Package settlement records what happened to an order's money: one settlement per order (or
// per continuation charge), one history row per provider call, and the only place where a
// settlement's status may change.
package settlement

import (
	"errors"
	"fmt"
	"slices"
)

// Status is a settlement's state. Four are shown to people as Welcart shows them; pending and
// unknown are transient states that only kessai has.
type Status string

// The statuses.
const (
	// Pending: checkout prepared or a call in flight; no money has moved as far as kessai knows.
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
)

// Statuses lists every status, in the order tables show them.
var Statuses = []Status{Pending, Authorized, Captured, Cancelled, Failed, Unknown}

var labels = map[Status]string{
	Pending:    "処理中",
	Authorized: "仮売上",
	Captured:   "売上計上",
	Cancelled:  "取消済み",
	Failed:     "決済エラー",
	Unknown:    "確認中",
}

// Label is the Japanese badge text (仮売上, 売上計上, 取消済み, 決済エラー, …).
func (s Status) Label() string {
	if l, ok := labels[s]; ok {
		return l
	}
	return string(s)
}

// transitions is the whole state machine. A status may move only to the statuses listed for
// it.
//
// Pending doubles as the in-flight state: before an operation calls the provider, the
// settlement moves from 仮売上 or 売上計上 to pending (a claim no second request or replica can
// also take), and the provider's answer moves it on. Whether the operation itself is allowed
// (売上計上 only from 仮売上, …) is checked against the status before the claim; see Check.
// Self-transitions mark operations that keep the status but change the transaction (取引修正
// replaces the provider transaction of an authorized or captured settlement).
var transitions = map[Status][]Status{
	Pending:    {Pending, Authorized, Captured, Cancelled, Failed, Unknown},
	Authorized: {Pending, Authorized, Captured, Cancelled, Unknown},
	Captured:   {Pending, Captured, Cancelled, Unknown},
	Cancelled:  {},
	// A declined checkout may be tried again by the buyer in the widget: a new attempt.
	Failed: {Pending},
	// The janitor's Reference settles an unknown settlement into whatever the provider says.
	Unknown: {Pending, Authorized, Captured, Cancelled, Failed},
}

// CanTransition reports whether the state machine allows from → to.
func CanTransition(from, to Status) bool {
	return slices.Contains(transitions[from], to)
}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { _, ok := transitions[s]; return ok }

// ErrTransition is wrapped by every refused status change; callers answer 409 on it.
var ErrTransition = errors.New("settlement: status change not allowed")

// ErrConflict means the settlement changed under us (another request or replica got there
// first); the caller reloads and decides again.
var ErrConflict = errors.New("settlement: changed concurrently")

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
