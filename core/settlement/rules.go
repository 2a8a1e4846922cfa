package settlement

import (
	"context"
	"fmt"
	"slices"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/plugins"
)

// rules says from which statuses an operation may start. The transition table says how a
// stored status may move; these say what an admin or shop may ask for.
var rules = map[Operation][]Status{
	OpCapture: {Authorized},
	OpCancel:  {Authorized, Captured},
	OpRefund:  {Authorized, Captured},
	OpModify:  {Authorized, Captured},
	OpConfirm: {Pending, Abandoned},
}

var ruleMessages = map[Operation]string{
	OpCapture: "売上計上できるのは仮売上の取引だけです。",
	OpCancel:  "取消できるのは仮売上または売上計上の取引だけです。",
	OpRefund:  "一部取消できるのは仮売上または売上計上の取引だけです。",
	OpModify:  "取引修正できるのは仮売上または売上計上の取引だけです。",
	OpConfirm: "この決済はすでに処理済みです。",
}

// needs is the capability an adapter must announce (Description.Capabilities) before the
// engine asks it for an operation; the operations absent here are always offered.
var needs = map[Operation]plugins.Capability{
	OpCapture: plugins.CanCapture,
	OpCancel:  plugins.CanCancel,
	OpVoid:    plugins.CanCancel,
	OpModify:  plugins.CanModify,
	OpCharge:  plugins.CanCharge,
	// Offers(module, OpRefund) is also how a screen asks whether the module takes partial
	// amounts at all: CanPartial covers partial 売上計上 too.
	OpRefund: plugins.CanPartial,
}

// ErrUnsupported means the settlement's payment module does not offer the operation: its
// adapter did not announce the capability, and was not called.
var ErrUnsupported = fault.Sentinel("settlement: operation not offered by the payment module",
	fault.Conflict, codeUnsupported, "決済モジュールはこの操作に対応していません。")

// codeUnsupported answers an operation the settlement's payment module does not offer.
const codeUnsupported = "operation_not_supported"

// ErrPartialUnsupported refuses a 売上計上 or 取消 of less than the whole amount for a module
// that did not announce plugins.CanPartial. Nothing was written or sent.
var ErrPartialUnsupported = fault.Sentinel("settlement: partial amount not offered by the payment module",
	fault.Invalid, "partial_not_supported", "この決済モジュールは一部の売上計上・取消に対応していません。").WithField("amount")

// ErrAmount refuses a 売上計上 or 取消 amount below 0 or above the settlement's amount; the
// error returned says the settlement's amount. Nothing was written or sent.
var ErrAmount = fault.Sentinel("settlement: amount out of range", fault.Invalid, "invalid_amount",
	"金額は1円以上、決済金額以下で指定してください。").WithField("amount")

// amountError is ErrAmount with s's amount in its message.
func amountError(s *Settlement) error {
	return ErrAmount.WithMessage(fmt.Sprintf("金額は1円以上、決済金額（%d円）以下で指定してください。", s.Amount))
}

// msgBusy refuses an operation while another one holds the settlement; msgUnsupported one its
// module does not offer.
const (
	msgBusy        = "この決済は別の操作を処理中です。完了してから再度お試しください。"
	msgUnsupported = "決済モジュール（%s）は%sに対応していません。"
)

// OperationError refuses an operation the settlement's status does not allow, one that
// arrives while another operation holds the settlement (Busy), or one its payment module does
// not offer (Unsupported). Nothing was sent to the provider.
type OperationError struct {
	Op   Operation
	From Status
	// Busy: another operation is in flight (the settlement is claimed, or its last call has
	// no known answer yet).
	Busy bool
	// Unsupported: the module (Module, its slug) did not announce the capability Op needs.
	Unsupported bool
	Module      string
}

func (e *OperationError) Error() string {
	switch {
	case e.Unsupported:
		return fmt.Sprintf("%s (%s: %s)", fmt.Sprintf(msgUnsupported, e.Module, e.Op.Label()), e.From.Label(), e.Op)
	case e.Busy:
		return fmt.Sprintf("%s (%s: %s)", msgBusy, e.From.Label(), e.Op)
	}
	return fmt.Sprintf("%s (%s: %s)", ruleMessages[e.Op], e.From.Label(), e.Op)
}

// Message is the Japanese refusal shown to people.
func (e *OperationError) Message() string {
	switch {
	case e.Unsupported:
		return fmt.Sprintf(msgUnsupported, e.Module, e.Op.Label())
	case e.Busy:
		return msgBusy + "（現在の状態: " + e.From.Label() + "）"
	}
	return ruleMessages[e.Op] + "（現在の状態: " + e.From.Label() + "）"
}

// Fault implements fault.Describer: a conflict with the settlement's status or its module,
// told in Message's words.
func (e *OperationError) Fault() fault.Detail {
	code := codeConflict
	if e.Unsupported {
		code = codeUnsupported
	}
	return fault.Detail{Kind: fault.Conflict, Code: code, Message: e.Message()}
}

// Is makes errors.Is(err, ErrBusy) hold for a busy refusal.
func (e *OperationError) Is(target error) bool { return target == ErrBusy && e.Busy }

// Unwrap makes errors.Is(err, ErrUnsupported) hold for an operation the module does not
// offer, and errors.Is(err, ErrTransition) for the others.
func (e *OperationError) Unwrap() error {
	if e.Unsupported {
		return ErrUnsupported
	}
	return ErrTransition
}

// Offers reports whether the module's adapter announced the capability op needs (always, for
// the operations every adapter offers). It asks the module host, which answers from the
// running adapter's description without calling it; an unavailable module is ErrUnavailable.
func (sv *Service) Offers(ctx context.Context, module string, op Operation) (bool, error) {
	if _, optional := needs[op]; !optional {
		return true, nil
	}
	ad, err := sv.adapters.Get(ctx, module)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %v", ErrUnavailable, module, err)
	}
	return offers(ctx, ad, op)
}

func offers(ctx context.Context, ad plugins.Adapter, op Operation) (bool, error) {
	c, optional := needs[op]
	if !optional {
		return true, nil
	}
	d, err := ad.Describe(ctx)
	if err != nil {
		return false, fmt.Errorf("%w: describe: %v", ErrUnavailable, err)
	}
	return d.Can(c), nil
}

// offered refuses op on s with an Unsupported *OperationError when ad does not offer it.
func offered(ctx context.Context, ad plugins.Adapter, s *Settlement, op Operation) error {
	ok, err := offers(ctx, ad, op)
	if err != nil {
		return err
	}
	if !ok {
		return &OperationError{Op: op, From: s.Status, Unsupported: true, Module: s.Module}
	}
	return nil
}

// Allowed returns an *OperationError when op may not start from status from.
func Allowed(op Operation, from Status) error {
	if allowed, ok := rules[op]; ok && !slices.Contains(allowed, from) {
		return &OperationError{Op: op, From: from}
	}
	return nil
}
