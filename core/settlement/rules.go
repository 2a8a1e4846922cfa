package settlement

import (
	"fmt"
	"slices"
)

// rules says from which statuses an operation may start. The transition table says how a
// stored status may move; these say what an admin or shop may ask for.
var rules = map[Operation][]Status{
	OpCapture: {Authorized},
	OpCancel:  {Authorized, Captured},
	OpModify:  {Authorized, Captured},
	OpConfirm: {Pending, Abandoned},
}

var ruleMessages = map[Operation]string{
	OpCapture: "売上計上できるのは仮売上の取引だけです。",
	OpCancel:  "取消できるのは仮売上または売上計上の取引だけです。",
	OpModify:  "取引修正できるのは仮売上または売上計上の取引だけです。",
	OpConfirm: "この決済はすでに処理済みです。",
}

// msgBusy refuses an operation while another one holds the settlement.
const msgBusy = "この決済は別の操作を処理中です。完了してから再度お試しください。"

// OperationError refuses an operation the settlement's status does not allow, or one that
// arrives while another operation holds the settlement (Busy).
type OperationError struct {
	Op   Operation
	From Status
	// Busy: another operation is in flight (the settlement is claimed, or its last call has
	// no known answer yet).
	Busy bool
}

func (e *OperationError) Error() string {
	if e.Busy {
		return fmt.Sprintf("%s (%s: %s)", msgBusy, e.From.Label(), e.Op)
	}
	return fmt.Sprintf("%s (%s: %s)", ruleMessages[e.Op], e.From.Label(), e.Op)
}

// Message is the Japanese refusal shown to people.
func (e *OperationError) Message() string {
	if e.Busy {
		return msgBusy + "（現在の状態: " + e.From.Label() + "）"
	}
	return ruleMessages[e.Op] + "（現在の状態: " + e.From.Label() + "）"
}

// Is makes errors.Is(err, ErrBusy) hold for a busy refusal.
func (e *OperationError) Is(target error) bool { return target == ErrBusy && e.Busy }

// Unwrap makes errors.Is(err, ErrTransition) hold.
func (e *OperationError) Unwrap() error { return ErrTransition }

// Allowed returns an *OperationError when op may not start from status from.
func Allowed(op Operation, from Status) error {
	if allowed, ok := rules[op]; ok && !slices.Contains(allowed, from) {
		return &OperationError{Op: op, From: from}
	}
	return nil
}
