package settlement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/plugins"
)

// codeMismatch is what adapters answer when the provider's transaction does not match the
// order (another attempt's, another amount).
const codeMismatch = plugins.CodeMismatch

// Get loads a settlement; shopID 0 means any shop.
func (sv *Service) Get(ctx context.Context, shopID, id int64) (*Settlement, error) {
	var s Settlement
	q := sv.st.DB.WithContext(ctx).Where("id = ?", id)
	if shopID != 0 {
		q = q.Where("shop_id = ?", shopID)
	}
	if err := q.First(&s).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("settlement %d: %w", id, err)
	}
	return &s, nil
}

// ForOrder returns the order's own settlement (not continuation charges), or ErrNotFound.
func (sv *Service) ForOrder(ctx context.Context, orderID int64) (*Settlement, error) {
	var s Settlement
	err := sv.st.DB.WithContext(ctx).Where("order_id = ? AND continuation_charge_id IS NULL", orderID).Order("id").First(&s).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("settlement of order %d: %w", orderID, err)
	}
	return &s, nil
}

// ForOrders returns each order's own settlement (continuation charges have their own lists),
// keyed by order id, for a page of orders: one query, whatever the page's size. An order
// without one is absent.
func (sv *Service) ForOrders(ctx context.Context, orderIDs []int64) (map[int64]*Settlement, error) {
	out := make(map[int64]*Settlement, len(orderIDs))
	if len(orderIDs) == 0 {
		return out, nil
	}
	var ss []Settlement
	err := sv.st.DB.WithContext(ctx).Where("order_id IN ? AND continuation_charge_id IS NULL", orderIDs).Order("id").Find(&ss).Error
	if err != nil {
		return nil, fmt.Errorf("settlements of %d orders: %w", len(orderIDs), err)
	}
	for i := range ss {
		if _, ok := out[ss[i].OrderID]; !ok {
			out[ss[i].OrderID] = &ss[i]
		}
	}
	return out, nil
}

// OfOrder returns the settlement of order orderID whose link key is transID: the order's own,
// or one of its continuation charges'; ErrNotFound otherwise.
func (sv *Service) OfOrder(ctx context.Context, orderID int64, transID string) (*Settlement, error) {
	var s Settlement
	err := sv.st.DB.WithContext(ctx).Where("order_id = ? AND trans_id = ?", orderID, transID).First(&s).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("settlement %s of order %d: %w", transID, orderID, err)
	}
	return &s, nil
}

func (sv *Service) adapter(ctx context.Context, s *Settlement) (plugins.Adapter, error) {
	ad, err := sv.adapters.Get(ctx, s.Module)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, s.Module, err)
	}
	return ad, nil
}

// detach is the context of a provider call and the recording of its answer: it keeps the
// caller's values but not its cancellation, so a client that hangs up never decides what
// kessai records, and it has a deadline of its own.
func (sv *Service) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), sv.CallTimeout+30*time.Second)
}

func (sv *Service) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, sv.CallTimeout)
}

// busy is the refusal of op while s is held by another operation.
func busy(op Operation, s *Settlement) error {
	return &OperationError{Op: op, From: s.Status, Busy: true}
}

// begin claims s and writes a ahead of the call, in one transaction: the claim is a
// compare-and-set on the version s was read with and succeeds only when no live claim holds
// the row. On ErrBusy nothing was written.
func (sv *Service) begin(ctx context.Context, s *Settlement, a *Attempt) error {
	now := sv.now()
	until := now.Add(sv.Lease)
	err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Settlement{}).
			Where("id = ? AND version = ? AND (claimed_until IS NULL OR claimed_until < ?)", s.ID, s.Version, now).
			Updates(map[string]any{"claimed_by": sv.Owner, "claimed_until": until, "version": s.Version + 1, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrBusy
		}
		if a == nil {
			return nil
		}
		a.ID, a.SettlementID, a.State, a.PriorStatus, a.CreatedAt = 0, s.ID, AttemptOpen, s.Status, now
		return tx.Create(a).Error
	})
	if errors.Is(err, ErrBusy) {
		return ErrBusy
	}
	if err != nil {
		return fmt.Errorf("claim %s: %w", s.TransID, err)
	}
	s.Version++
	s.ClaimedBy, s.ClaimedUntil = sv.Owner, &until
	return nil
}

// release gives a claim back without a change (nothing was sent).
func (sv *Service) release(ctx context.Context, s *Settlement, a *Attempt) {
	err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if a != nil && a.ID != 0 {
			if err := tx.Model(&Attempt{}).Where("id = ?", a.ID).Updates(map[string]any{"state": AttemptDone, "outcome": plugins.NotAttempted.String()}).Error; err != nil {
				return err
			}
		}
		res := tx.Model(&Settlement{}).Where("id = ? AND version = ?", s.ID, s.Version).
			Updates(map[string]any{"claimed_by": "", "claimed_until": nil, "version": s.Version + 1})
		if res.Error == nil && res.RowsAffected == 1 {
			s.Version++
			s.ClaimedBy, s.ClaimedUntil = "", nil
		}
		return res.Error
	})
	if err != nil {
		sv.log.Warn("settlement: release claim", "settlement", s.ID, "err", err)
	}
}

// Prepare asks the adapter for the widget of the settlement's current attempt. After a
// decline, or for a checkout the janitor called かご落ち, it starts a new attempt. Nothing
// moves money here.
func (sv *Service) Prepare(ctx context.Context, s *Settlement, po plugins.Order, authToken, actor string) (plugins.CheckoutResult, error) {
	if s.ID != 0 {
		if s.Claimed(sv.now()) || s.Status == Unknown || s.Orphaned(sv.now()) {
			return plugins.CheckoutResult{}, busy(OpConfirm, s)
		}
		if s.Status == Failed || s.Status == Abandoned {
			err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				no, err := nextAttemptNo(ctx, tx, s)
				if err != nil {
					return err
				}
				s.Attempt, s.Reason, s.WcTransID, s.ResolveAfter, s.ResolveAttempts = no, "", "", nil, 0
				return Apply(ctx, tx, s, Pending, History{Operation: OpCheckout, Actor: actor, Amount: s.Amount, Message: "再試行"})
			})
			if errors.Is(err, ErrConflict) {
				return plugins.CheckoutResult{}, busy(OpConfirm, s)
			}
			if err != nil {
				return plugins.CheckoutResult{}, err
			}
		}
	}
	if err := Allowed(OpConfirm, s.Status); err != nil {
		return plugins.CheckoutResult{}, err
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return plugins.CheckoutResult{}, err
	}
	po.Attempt = s.Attempt
	cctx, cancel := sv.callCtx(ctx)
	defer cancel()
	start := time.Now()
	res, err := ad.PrepareCheckout(cctx, plugins.CheckoutRequest{Order: po, AuthToken: authToken})
	sv.observe(s, OpCheckout, start, res.Result, err)
	if err != nil {
		return plugins.CheckoutResult{}, fmt.Errorf("%w: prepare checkout %s: %v", ErrUnavailable, s.TransID, err)
	}
	return res, nil
}

// Confirm checks the widget's result with the provider and records it: 仮売上, 売上計上 (when
// the module settles at once) or 決済エラー. The payload is never trusted: the adapter
// references the transaction and compares it with the order. The payload is written ahead
// in the attempt, so a result whose answer is lost is confirmed again from it. A transaction
// the widget paid that does not match the order (a stale attempt, another amount) is
// refused and cancelled at the provider.
func (sv *Service) Confirm(ctx context.Context, id int64, payload []byte, po plugins.Order, actor string) (Result, error) {
	s, err := sv.Get(ctx, 0, id)
	if err != nil {
		return Result{}, err
	}
	if s.Status == Unknown || s.Orphaned(sv.now()) {
		if r, err := sv.Resolve(ctx, id, actor); err == nil {
			s = r.Settlement
		} else if cur, gerr := sv.Get(ctx, 0, id); gerr == nil {
			s = cur
		}
	}
	if s.Claimed(sv.now()) {
		// Another result, the provider's webhook or an operation holds it: a late or replayed
		// widget result must not race it. Its answer will be the settlement's.
		return Result{Settlement: s, Outcome: plugins.Pending}, nil
	}
	switch s.Status {
	case Authorized, Captured, Cancelled:
		// Already confirmed (the webhook got here first, or the page posted twice).
		return Result{Settlement: s, Outcome: plugins.Processed}, nil
	case Failed, Unknown:
		return Result{Settlement: s, Outcome: outcomeOfStatus(s.Status)}, nil
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{}, err
	}
	po.Attempt = s.Attempt
	req, _ := json.Marshal(confirmRequest{Payload: json.RawMessage(validJSON(payload)), Order: po})
	a := &Attempt{Kind: OpConfirm, AttemptNo: s.Attempt, Amount: po.Amount, Request: string(req), Actor: actor}
	if err := sv.begin(ctx, s, a); errors.Is(err, ErrBusy) {
		cur, gerr := sv.Get(ctx, 0, id)
		if gerr != nil {
			return Result{}, gerr
		}
		return Result{Settlement: cur, Outcome: outcomeOfStatus(cur.Status)}, nil
	} else if err != nil {
		return Result{}, err
	}
	dctx, cancel := sv.detach(ctx)
	defer cancel()
	return sv.confirm(dctx, ad, s, a, payload, po, actor)
}

// confirm makes the confirm call of attempt a (first time, or again from the stored payload
// after a lost answer) and records it; a stray transaction is voided.
func (sv *Service) confirm(ctx context.Context, ad plugins.Adapter, s *Settlement, a *Attempt, payload []byte, po plugins.Order, actor string) (Result, error) {
	cctx, cancel := sv.callCtx(ctx)
	start := time.Now()
	res, callErr := ad.Confirm(cctx, plugins.ConfirmRequest{Payload: payload, Order: po})
	cancel()
	sv.observe(s, OpConfirm, start, res.Result, callErr)
	stray := callErr == nil && res.Outcome == plugins.Declined && res.Code == codeMismatch && res.ProviderID != ""
	var strayRes plugins.TransactionResult
	if stray {
		// The stray's id must not become the order's transaction.
		strayRes = res
		res.ProviderID, res.Amount, res.State, res.Attempt = "", 0, plugins.StateUnknown, ""
	}
	r, err := sv.record(ctx, s, a, callErr, res, actor, nil)
	if err == nil && stray {
		sv.voidStray(ctx, ad, r.Settlement, strayRes, actor)
	}
	return r, err
}

// validJSON keeps a payload as JSON in the attempt; anything else is stored as a string.
func validJSON(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

func outcomeOfStatus(st Status) plugins.Outcome {
	switch st {
	case Failed:
		return plugins.Declined
	case Unknown:
		return plugins.Undefined
	case Pending, Abandoned:
		return plugins.Pending
	}
	return plugins.Processed
}

// Capture is 売上計上 of the whole amount: only from 仮売上.
func (sv *Service) Capture(ctx context.Context, shopID, id int64, actor string) (Result, error) {
	return sv.CaptureAmount(ctx, shopID, id, 0, actor)
}

// CaptureAmount is 売上計上 of amount yen: 0 or the settlement's amount is the whole of it. Less
// captures that much and releases the rest of the authorization, as card acquirers do: the
// settlement becomes 売上計上 for the amount captured. A partial amount needs a module that
// announced plugins.CanPartial (ErrPartialUnsupported otherwise); one below 0 or above the
// settlement's amount is ErrAmount. Both are refused before anything is written or sent.
func (sv *Service) CaptureAmount(ctx context.Context, shopID, id, amount int64, actor string) (Result, error) {
	return sv.operate(ctx, shopID, id, OpCapture, amount, actor, nil, func(ctx context.Context, ad plugins.Adapter, s *Settlement, a *Attempt) (plugins.TransactionResult, error) {
		req := plugins.CaptureRequest{ProviderID: a.TargetID}
		if a.Amount != s.Amount {
			// The whole amount is sent as 0, as it always was: a module without partial
			// captures need not compare it.
			req.Amount = a.Amount
		}
		return ad.Capture(ctx, req)
	}, nil)
}

// Cancel is 取消 of the whole amount: from 仮売上 or 売上計上, irreversible. It does not cancel
// the order.
func (sv *Service) Cancel(ctx context.Context, shopID, id int64, actor string) (Result, error) {
	return sv.CancelAmount(ctx, shopID, id, 0, actor)
}

// CancelAmount is 取消 of amount yen: 0 or the settlement's (remaining) amount is the whole 取消
// (取消済み). Less is 一部取消 (OpRefund): the settlement keeps its status and its amount is
// reduced by amount. The rules on amounts are CaptureAmount's.
func (sv *Service) CancelAmount(ctx context.Context, shopID, id, amount int64, actor string) (Result, error) {
	return sv.operate(ctx, shopID, id, OpCancel, amount, actor, nil, func(ctx context.Context, ad plugins.Adapter, s *Settlement, a *Attempt) (plugins.TransactionResult, error) {
		req := plugins.CancelRequest{ProviderID: a.TargetID}
		if a.Kind == OpRefund {
			req.Amount = a.Amount
		}
		return ad.Cancel(ctx, req)
	}, nil)
}

// amountRequest is what an attempt of a partial amount keeps in Request: the amount asked for
// and the settlement's amount before it, which recovery compares with the provider's.
type amountRequest struct {
	Amount int64 `json:"amount"`
	Before int64 `json:"before"`
}

// before is the settlement's amount when a partial 売上計上 or 一部取消 was sent, or 0 for any
// other attempt.
func (a *Attempt) before() int64 {
	var req amountRequest
	if (a.Kind != OpCapture && a.Kind != OpRefund) || json.Unmarshal([]byte(a.Request), &req) != nil {
		return 0
	}
	return req.Before
}

// Also runs inside the transaction that records a processed answer. If it fails, nothing of
// the answer but the attempt is recorded, and recovery finishes the settlement.
type Also func(tx *gorm.DB, r Result) error

// modifyRequest is what a 取引修正 attempt keeps: the order sent, and the edited order row its
// caller will save once the 取引修正 is proven (at once, or by recovery after a lost answer).
type modifyRequest struct {
	Order plugins.Order   `json:"order"`
	Edit  json.RawMessage `json:"edit,omitempty"`
}

// ModifyEdit returns the edited order row a 取引修正 attempt carries, or nil.
func (a *Attempt) ModifyEdit() json.RawMessage {
	if a == nil || a.Kind != OpModify {
		return nil
	}
	var req modifyRequest
	if json.Unmarshal([]byte(a.Request), &req) != nil {
		return nil
	}
	return req.Edit
}

// Modify is 取引修正: the provider replaces the transaction with one for the order as it is
// now; the settlement keeps its status with the new transaction and amount. edit, if not
// nil, is the edited order row, kept in the attempt for the observer that saves it in the
// transaction that proves the 取引修正 (Change.Attempt.ModifyEdit).
func (sv *Service) Modify(ctx context.Context, shopID, id int64, po plugins.Order, actor string, edit json.RawMessage) (Result, error) {
	prep := func(ctx context.Context, s *Settlement, a *Attempt) error {
		no, err := nextAttemptNo(ctx, sv.st.DB, s)
		if err != nil {
			return err
		}
		po.Attempt = no
		req, _ := json.Marshal(modifyRequest{Order: po, Edit: edit})
		a.AttemptNo, a.Amount, a.Request = no, po.Amount, string(req)
		return nil
	}
	return sv.operate(ctx, shopID, id, OpModify, 0, actor, prep, func(ctx context.Context, ad plugins.Adapter, s *Settlement, a *Attempt) (plugins.TransactionResult, error) {
		res, err := ad.Modify(ctx, plugins.ModifyRequest{ProviderID: a.TargetID, Order: po, Settled: s.CapturedAt != nil})
		if err == nil && res.Attempt == "" && res.Outcome == plugins.Processed {
			// The new transaction carries the new attempt even when the adapter does not echo it.
			res.Attempt = po.Attempt
		}
		return res, err
	}, nil)
}

type call func(ctx context.Context, ad plugins.Adapter, s *Settlement, a *Attempt) (plugins.TransactionResult, error)

// operate runs one operation on an authorized or captured settlement: claim and attempt,
// the call on a detached context, the answer recorded. amount is a 売上計上's or 取消's (0: the
// whole amount); a 取消 of less than the whole is run as OpRefund.
func (sv *Service) operate(ctx context.Context, shopID, id int64, op Operation, amount int64, actor string,
	prep func(context.Context, *Settlement, *Attempt) error, f call, also Also) (Result, error) {
	s, err := sv.Get(ctx, shopID, id)
	if err != nil {
		return Result{}, err
	}
	if amount < 0 {
		return Result{Settlement: s}, amountError(s)
	}
	if s.Status == Unknown || s.Orphaned(sv.now()) {
		// Never act on a settlement whose last call has no known answer: ask first.
		r, err := sv.Resolve(ctx, id, actor)
		if err != nil && !errors.Is(err, ErrUnresolved) {
			return Result{}, err
		}
		if s, err = sv.Get(ctx, shopID, id); err != nil {
			return Result{}, err
		}
		if s.Status == Unknown {
			return r, busy(op, s)
		}
	}
	if s.Claimed(sv.now()) {
		return Result{Settlement: s}, busy(op, s)
	}
	if err := Allowed(op, s.Status); err != nil {
		return Result{Settlement: s}, err
	}
	if amount > s.Amount {
		return Result{Settlement: s}, amountError(s)
	}
	partial := amount > 0 && amount < s.Amount
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{Settlement: s}, err
	}
	// An operation the adapter did not announce is refused here: no claim, no attempt, no call.
	if err := offered(ctx, ad, s, op); err != nil {
		return Result{Settlement: s}, err
	}
	a := &Attempt{Kind: op, TargetID: s.WcTransID, Amount: s.Amount, Actor: actor}
	if partial {
		// OpRefund needs plugins.CanPartial, which is the module's word for partial captures
		// as well as partial 取消.
		if ok, err := offers(ctx, ad, OpRefund); err != nil {
			return Result{Settlement: s}, err
		} else if !ok {
			return Result{Settlement: s}, ErrPartialUnsupported
		}
		if op == OpCancel {
			a.Kind = OpRefund
		}
		req, _ := json.Marshal(amountRequest{Amount: amount, Before: s.Amount})
		a.Amount, a.Request = amount, string(req)
	}
	if prep != nil {
		if err := prep(ctx, s, a); err != nil {
			return Result{}, err
		}
	}
	if err := sv.begin(ctx, s, a); errors.Is(err, ErrBusy) {
		return Result{Settlement: s}, busy(op, s)
	} else if err != nil {
		return Result{}, err
	}
	dctx, cancel := sv.detach(ctx)
	defer cancel()
	cctx, ccancel := sv.callCtx(dctx)
	start := time.Now()
	res, callErr := f(cctx, ad, s, a)
	ccancel()
	sv.observe(s, a.Kind, start, res.Result, callErr)
	return sv.record(dctx, s, a, callErr, res, actor, also)
}

// Charge charges a continuation's stored token for s, a pending charge settlement its
// caller created: the same claim, attempt and recording as every other operation, so a
// charge whose answer is lost is resolved like any other. A request without a token, or for a
// module whose adapter does not offer charges (CanCharge), is recorded as 決済エラー without a
// call.
func (sv *Service) Charge(ctx context.Context, s *Settlement, req plugins.ChargeRequest, actor string) (Result, error) {
	if s.Status != Pending {
		return Result{Settlement: s}, &OperationError{Op: OpCharge, From: s.Status}
	}
	req.Order.Attempt = s.Attempt
	snap, _ := json.Marshal(req.Order)
	a := &Attempt{Kind: OpCharge, AttemptNo: s.Attempt, Amount: s.Amount, Request: string(snap), Actor: actor}
	if err := sv.begin(ctx, s, a); errors.Is(err, ErrBusy) {
		return Result{Settlement: s}, busy(OpCharge, s)
	} else if err != nil {
		return Result{}, err
	}
	dctx, cancel := sv.detach(ctx)
	defer cancel()
	var res plugins.TransactionResult
	var callErr error
	ad, err := sv.adapter(ctx, s)
	can := false
	if err == nil && req.Token != "" {
		can, err = offers(ctx, ad, OpCharge)
	}
	switch {
	case req.Token == "":
		res.Outcome, res.Messages = plugins.NotAttempted, []string{msgNoToken}
	case err != nil:
		res.Outcome, res.Messages = plugins.NotAttempted, []string{err.Error()}
	case !can:
		res.Outcome, res.Messages = plugins.NotAttempted, []string{fmt.Sprintf(msgUnsupported, s.Module, OpCharge.Label())}
	default:
		cctx, ccancel := sv.callCtx(dctx)
		start := time.Now()
		res, callErr = ad.Charge(cctx, req)
		ccancel()
		sv.observe(s, OpCharge, start, res.Result, callErr)
	}
	return sv.record(dctx, s, a, callErr, res, actor, nil)
}

// msgNoToken is the 決済エラー of a continuation whose first order left no token.
const msgNoToken = "クレジットカードが登録されていません。"

// msgStrayKept is the error log's note on a stray transaction the module cannot cancel.
const msgStrayKept = "注文と一致しない取引 %s を取消できません（%s）。決済代行会社の管理画面で取消してください。"

// target is where a processed operation leaves the settlement.
func target(op Operation, prior Status, res plugins.TransactionResult) Status {
	switch op {
	case OpCapture:
		return Captured
	case OpCancel:
		return Cancelled
	case OpRefund:
		// The rest stays where it was; a provider that says the transaction is now cancelled
		// is believed.
		if res.State == plugins.StateCancelled {
			return Cancelled
		}
		return prior
	case OpModify:
		if res.State == plugins.StateCaptured {
			return Captured
		}
		return prior
	}
	switch res.State {
	case plugins.StateCaptured:
		return Captured
	case plugins.StateCancelled:
		return Cancelled
	case plugins.StateDeclined:
		return Failed
	}
	return Authorized
}

// record writes the answer to attempt a: the attempt, the settlement's status and history,
// the error log and the observers' rows, in one transaction that is a compare-and-set on the
// claim's version. If that transaction fails, the attempt alone is written with what the
// provider said, so recovery can finish it; the settlement keeps its claim until the lease
// runs out and the janitor takes over.
func (sv *Service) record(ctx context.Context, s *Settlement, a *Attempt, callErr error, res plugins.TransactionResult, actor string, also Also) (Result, error) {
	now := sv.now()
	op, prior := a.Kind, a.PriorStatus
	outcome := res.Outcome
	if callErr != nil {
		outcome = plugins.OutcomeOf(callErr)
		res.Outcome = outcome
		if len(res.Messages) == 0 {
			res.Messages = []string{callErr.Error()}
		}
	}
	// Believe a processed answer only if it is about what was asked: the same amount (a
	// 売上計上's, whole or part; what a 一部取消 leaves of s.Amount, still the amount before the
	// call), and for calls that create a transaction the same merchant reference.
	mismatch := ""
	if outcome == plugins.Processed {
		switch {
		case op == OpCapture && res.Amount != 0 && res.Amount != a.Amount:
			mismatch = fmt.Sprintf("金額が一致しません（依頼 %d円、応答 %d円）", a.Amount, res.Amount)
		case op == OpRefund && res.Amount != 0 && res.State != plugins.StateCancelled && res.Amount != s.Amount-a.Amount:
			mismatch = fmt.Sprintf("金額が一致しません（一部取消 %d円の残額 %d円、応答 %d円）", a.Amount, s.Amount-a.Amount, res.Amount)
		case (op == OpCharge || op == OpModify) && res.Amount != 0 && res.Amount != a.Amount:
			mismatch = fmt.Sprintf("金額が一致しません（依頼 %d円、応答 %d円）", a.Amount, res.Amount)
		case (op == OpCharge || op == OpModify) && res.Attempt != "" && res.Attempt != a.AttemptNo:
			mismatch = fmt.Sprintf("取引番号が一致しません（依頼 %s、応答 %s）", a.AttemptNo, res.Attempt)
		}
	}
	amount := s.Amount
	if op == OpModify || op == OpCharge {
		amount = a.Amount
	}
	h := History{Operation: op, Amount: amount, ProviderID: s.WcTransID, Outcome: outcome.String(),
		Code: res.Code, Message: strings.Join(res.Messages, " / "), Actor: actor}
	if res.ProviderID != "" {
		a.ProviderID = res.ProviderID
	}
	a.Outcome, a.Code, a.AnsweredAt, a.State = outcome.String(), res.Code, &now, AttemptDone
	var to Status
	unavailable := false
	errorLog := false
	switch {
	case mismatch != "":
		to, h.Code, h.Message, errorLog = Unknown, "KESSAI_AMOUNT", mismatch, true
		a.State = AttemptOpen
		after := now.Add(30 * time.Second)
		s.ResolveAfter, s.ResolveAttempts = &after, 0
	case outcome == plugins.Processed:
		to = target(op, prior, res)
		if res.ProviderID != "" {
			s.WcTransID, h.ProviderID = res.ProviderID, res.ProviderID
		}
		if op == OpModify || op == OpConfirm || op == OpCharge {
			if res.Amount != 0 {
				s.Amount = res.Amount
			}
			h.Amount = s.Amount
			if op == OpModify {
				s.Attempt = a.AttemptNo
			}
		}
		if note := partialNote(s, a); note != "" {
			// The settlement's amount is what is captured, or what the 一部取消 left.
			if a.Kind == OpCapture {
				s.Amount = a.Amount
			} else if to != Cancelled {
				s.Amount -= a.Amount
			}
			if h.Amount = s.Amount; h.Message != "" {
				note += " / " + h.Message
			}
			h.Message = note
		}
		if to == Captured && s.CapturedAt == nil {
			t := now
			if !res.SettledAt.IsZero() {
				t = res.SettledAt.UTC()
			}
			s.CapturedAt = &t
		}
		if to == Failed {
			s.Reason, errorLog = res.Reason, true
		}
		s.ResolveAfter, s.ResolveAttempts = nil, 0
	case (outcome == plugins.Declined && (op == OpConfirm && res.State == plugins.StateDeclined)) ||
		((outcome == plugins.Declined || outcome == plugins.NotAttempted) && op == OpCharge):
		// 与信NG: the buyer's authorization was refused; or a continuation charge that was
		// refused or never sent: 決済エラー, which may be tried again.
		to, s.Reason, errorLog = Failed, res.Reason, true
		if res.ProviderID != "" {
			s.WcTransID, h.ProviderID = res.ProviderID, res.ProviderID
		}
		s.ResolveAfter = nil
	case outcome == plugins.Declined, outcome == plugins.NotAttempted:
		// Refused (a second 売上計上, a forged widget result, bad input) or never sent: nothing
		// moved, so the settlement stays where it was.
		to, s.ResolveAfter = prior, nil
		errorLog = outcome == plugins.Declined
		unavailable = outcome == plugins.NotAttempted && callErr != nil
	case outcome == plugins.Pending:
		// The provider has not decided: a webhook or a later reference will say.
		to, a.State = Pending, AttemptOpen
		if (op != OpConfirm && op != OpCharge) || (res.ProviderID == "" && s.WcTransID == "") {
			// Only a pending answer that names its transaction can be looked up later.
			to = Unknown
		}
		after := now.Add(time.Minute)
		s.ResolveAfter = &after
	default: // Undefined: no one knows whether money moved; the janitor asks the provider.
		to, a.State = Unknown, AttemptOpen
		if op == OpConfirm && res.ProviderID != "" && s.WcTransID == "" {
			// The widget named its transaction: keep it, so the janitor can reference it.
			s.WcTransID = res.ProviderID
		}
		after := now.Add(30 * time.Second)
		s.ResolveAfter, s.ResolveAttempts = &after, 0
	}
	result := Result{Settlement: s, Outcome: outcome, Provider: res}
	if mismatch != "" {
		result.Outcome = plugins.Undefined
	}
	err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := saveAttempt(ctx, tx, a); err != nil {
			return err
		}
		if err := Apply(ctx, tx, s, to, h); err != nil {
			return err
		}
		if errorLog {
			if err := sv.writeErrorLog(ctx, tx, s, op, res, h); err != nil {
				return err
			}
		}
		// A 一部取消 keeps the status but changes the money: observers are told, as of a 取引修正.
		if to != prior || op == OpModify || op == OpCharge || op == OpRefund {
			c := Change{Settlement: s, From: prior, To: to, Op: op, Result: res, Attempt: a}
			for _, o := range sv.observers {
				if err := o.SettlementChanged(ctx, tx, c); err != nil {
					return err
				}
			}
		}
		if also != nil && outcome == plugins.Processed && mismatch == "" {
			return also(tx, result)
		}
		return nil
	})
	if err != nil {
		// Keep at least what the provider said, so that recovery need not guess.
		a.State = AttemptOpen
		if werr := saveAttempt(ctx, sv.st.DB.WithContext(ctx), a); werr != nil {
			sv.log.Error("settlement: answer not recorded", "settlement", s.ID, "attempt", a.ID, "err", werr)
		}
		return Result{}, fmt.Errorf("%s %s: record answer: %w", op, s.TransID, err)
	}
	if unavailable {
		return result, fmt.Errorf("%w: %s", ErrUnavailable, callErr)
	}
	return result, nil
}

// partialNote is the history's words for a partial 売上計上 or a 一部取消 attempt a made on s
// (s.Amount still the amount before it), or "" for any other attempt.
func partialNote(s *Settlement, a *Attempt) string {
	switch {
	case a.Kind == OpRefund:
		return fmt.Sprintf("一部取消 %d円（残額 %d円）", a.Amount, s.Amount-a.Amount)
	case a.Kind == OpCapture && a.Amount != s.Amount:
		return fmt.Sprintf("一部売上計上 %d円（与信 %d円のうち、残り %d円の与信は解放）", a.Amount, s.Amount, s.Amount-a.Amount)
	}
	return ""
}

func saveAttempt(ctx context.Context, tx *gorm.DB, a *Attempt) error {
	upd := map[string]any{"state": a.State, "outcome": a.Outcome, "code": a.Code, "answered_at": a.AnsweredAt}
	if a.ProviderID != "" {
		// Only ever set: the provider's webhook may have named the transaction while the call
		// was in flight (NoteProviderID), and a lost answer knows nothing better.
		upd["provider_id"] = a.ProviderID
	}
	err := tx.WithContext(ctx).Model(&Attempt{}).Where("id = ?", a.ID).Updates(upd).Error
	if err != nil {
		return fmt.Errorf("attempt %d: %w", a.ID, err)
	}
	return nil
}

func (sv *Service) writeErrorLog(ctx context.Context, tx *gorm.DB, s *Settlement, op Operation, res plugins.TransactionResult, h History) error {
	result := strings.ToUpper(s.Module) + " " + strings.ToUpper(string(op)) + " " + strings.ToUpper(res.Outcome.String())
	if s.Status == Failed && op == OpConfirm {
		result = strings.ToUpper(s.Module) + " AUTHORIZE NG"
	}
	if op == OpCharge {
		result = strings.ToUpper(s.Module) + " CONTINUATION NG"
	}
	data := map[string]any{
		"settlement_id": s.ID, "order_id": s.OrderID, "operation": op.Label(), "outcome": h.Outcome,
		"code": h.Code, "message": h.Message, "provider_id": h.ProviderID, "amount": h.Amount, "attempt": s.Attempt,
	}
	if res.Reason != "" {
		data["reason"] = res.Reason
	}
	if res.Field != "" {
		data["field"] = res.Field
	}
	oid := s.OrderID
	return errlog.Write(ctx, tx, s.TransID, s.Module, result, data, &oid)
}

// voidStray cancels at the provider a transaction the widget paid that does not match the
// order, so that no money stays authorized for nothing. Only a transaction of this
// settlement's own attempts is voided (a stale widget, a wrong amount); one that belongs to
// another settlement, or that kessai never sent, is left alone and written to the error log:
// a forged result must not cancel somebody else's payment.
func (sv *Service) voidStray(ctx context.Context, ad plugins.Adapter, s *Settlement, stray plugins.TransactionResult, actor string) {
	own := strings.HasPrefix(stray.Attempt, s.TransID+"-")
	live := stray.State == plugins.StateAuthorized || stray.State == plugins.StateCaptured
	var holders int64
	if err := sv.st.DB.WithContext(ctx).Model(&Settlement{}).Where("wc_trans_id = ?", stray.ProviderID).Count(&holders).Error; err != nil {
		sv.log.Warn("settlement: stray transaction", "settlement", s.ID, "err", err)
		return
	}
	if !own || !live || holders > 0 {
		if !own {
			_ = errlog.Write(ctx, sv.st.DB.WithContext(ctx), s.TransID, s.Module, strings.ToUpper(s.Module)+" FOREIGN TRANSACTION", map[string]any{
				"settlement_id": s.ID, "order_id": s.OrderID, "provider_id": stray.ProviderID, "attempt": stray.Attempt,
				"message": "この注文のものではない取引が決済結果として送られました。取引は変更していません。",
			}, &s.OrderID)
		}
		return
	}
	if can, err := offers(ctx, ad, OpVoid); err != nil {
		sv.log.Warn("settlement: stray transaction", "settlement", s.ID, "err", err)
		return
	} else if !can {
		// The module cannot cancel: a person must, at the provider.
		_ = errlog.Write(ctx, sv.st.DB.WithContext(ctx), s.TransID, s.Module, strings.ToUpper(s.Module)+" STRAY TRANSACTION", map[string]any{
			"settlement_id": s.ID, "order_id": s.OrderID, "provider_id": stray.ProviderID, "attempt": stray.Attempt,
			"message": fmt.Sprintf(msgStrayKept, stray.ProviderID, fmt.Sprintf(msgUnsupported, s.Module, OpCancel.Label())),
		}, &s.OrderID)
		return
	}
	// The stray's own merchant reference is kept in Request, not AttemptNo: it is an earlier
	// attempt of this settlement, which webhooks must keep finding as the confirm it was.
	a := &Attempt{Kind: OpVoid, TargetID: stray.ProviderID, Request: stray.Attempt, Amount: stray.Amount, Actor: actor}
	if err := sv.begin(ctx, s, a); err != nil {
		sv.log.Warn("settlement: void stray: claim", "settlement", s.ID, "err", err)
		return
	}
	cctx, cancel := sv.callCtx(ctx)
	start := time.Now()
	res, callErr := ad.Cancel(cctx, plugins.CancelRequest{ProviderID: stray.ProviderID})
	cancel()
	sv.observe(s, OpVoid, start, res.Result, callErr)
	sv.recordVoid(ctx, s, a, res, callErr, actor, true)
}

// recordVoid writes a void's answer: a history row and an error-log row, no status change.
// While its answer is unknown the attempt stays open and the janitor asks again.
func (sv *Service) recordVoid(ctx context.Context, s *Settlement, a *Attempt, res plugins.TransactionResult, callErr error, actor string, holding bool) {
	now := sv.now()
	outcome := res.Outcome
	if callErr != nil {
		outcome = plugins.OutcomeOf(callErr)
	}
	a.Outcome, a.Code, a.AnsweredAt = outcome.String(), res.Code, &now
	a.State = AttemptDone
	msg := fmt.Sprintf("注文と一致しない取引 %s（%s、%d円）を取消しました。", a.TargetID, a.Request, a.Amount)
	switch outcome {
	case plugins.Processed:
	case plugins.Declined, plugins.NotAttempted:
		msg = fmt.Sprintf("注文と一致しない取引 %s を取消できませんでした: %s", a.TargetID, strings.Join(res.Messages, " / "))
	default:
		a.State = AttemptOpen
		msg = fmt.Sprintf("注文と一致しない取引 %s の取消に応答がありません。状態を確認します。", a.TargetID)
	}
	err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := saveAttempt(ctx, tx, a); err != nil {
			return err
		}
		if holding {
			res := tx.Model(&Settlement{}).Where("id = ? AND version = ?", s.ID, s.Version).
				Updates(map[string]any{"claimed_by": "", "claimed_until": nil, "version": s.Version + 1})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 1 {
				s.Version++
				s.ClaimedBy, s.ClaimedUntil = "", nil
			}
		}
		h := History{Operation: OpVoid, Amount: a.Amount, ProviderID: a.TargetID, Outcome: outcome.String(), Code: res.Code, Message: msg, Actor: actor}
		if err := Record(ctx, tx, s, h); err != nil {
			return err
		}
		return errlog.Write(ctx, tx, s.TransID, s.Module, strings.ToUpper(s.Module)+" STRAY TRANSACTION", map[string]any{
			"settlement_id": s.ID, "order_id": s.OrderID, "provider_id": a.TargetID, "outcome": outcome.String(), "message": msg,
		}, &s.OrderID)
	})
	if err != nil {
		sv.log.Error("settlement: record void", "settlement", s.ID, "err", err)
	}
}

// Abandon records that the buyer closed the widget (かご落ち). The settlement stays pending so
// that the buyer may come back and pay.
func (sv *Service) Abandon(ctx context.Context, id int64, actor string) (*Settlement, error) {
	s, err := sv.Get(ctx, 0, id)
	if err != nil {
		return nil, err
	}
	if s.Status != Pending {
		return s, Allowed(OpConfirm, s.Status)
	}
	err = Record(ctx, sv.st.DB, s, History{Operation: OpAbandon, Amount: s.Amount, Actor: actor, Message: "購入者がウィジェットを閉じました"})
	return s, err
}
