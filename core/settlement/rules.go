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
	OpConfirm: {Pending},
}

var ruleMessages = map[Operation]string{
	OpCapture: "売上計上できるのは仮売上の取引だけです。",
	OpCancel:  "取消できるのは仮売上または売上計上の取引だけです。",
	OpModify:  "取引修正できるのは仮売上または売上計上の取引だけです。",
	OpConfirm: "この決済はすでに処理済みです。",
}

// OperationError refuses an operation the settlement's status does not allow.
type OperationError struct {
	Op   Operation
	From Status
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("%s (%s: %s)", ruleMessages[e.Op], e.From.Label(), e.Op)
}

// Message is the Japanese refusal shown to people.
func (e *OperationError) Message() string {
	return ruleMessages[e.Op] + "（現在の状態: " + e.From.Label() + "）"
}

// Unwrap makes errors.Is(err, ErrTransition) hold.
func (e *OperationError) Unwrap() error { return ErrTransition }

// Allowed returns an *OperationError when op may not start from status from.
func Allowed(op Operation, from Status) error {
	if allowed, ok := rules[op]; ok && !slices.Contains(allowed, from) {
		return &OperationError{Op: op, From: from}
	}
	return nil
}
