package settlement

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
)

// Adapters is what the service needs of the module host.
type Adapters interface {
	Get(ctx context.Context, slug string) (plugins.Adapter, error)
}

// Change describes one status change caused by a provider's answer, for observers.
type Change struct {
	Settlement *Settlement
	From, To   Status
	Op         Operation
	Result     plugins.TransactionResult
}

// Observer acts inside the transaction of a change (outbound events, continuation
// contracts, metrics): if it fails, the change does not happen.
type Observer interface {
	SettlementChanged(ctx context.Context, tx *gorm.DB, c Change) error
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, tx *gorm.DB, c Change) error

// SettlementChanged calls f.
func (f ObserverFunc) SettlementChanged(ctx context.Context, tx *gorm.DB, c Change) error {
	return f(ctx, tx, c)
}

// ErrUnavailable means the adapter could not take the call (module failed, stopped, not
// configured, or it refused before reaching the provider). Nothing moved; the settlement is
// as it was. Callers answer 503.
var ErrUnavailable = errors.New("settlement: payment module unavailable")

// ErrNotFound is returned for an unknown settlement.
var ErrNotFound = errors.New("settlement: no such settlement")

// Result is what an operation did: the settlement as it is now and the provider's answer.
// A declined or undefined outcome is a Result, not an error.
type Result struct {
	Settlement *Settlement
	Outcome    plugins.Outcome
	Provider   plugins.TransactionResult
}

// Service runs settlement operations through adapters: it claims the settlement, calls the
// provider, and records the answer with its history row, error-log row and events in one
// transaction.
type Service struct {
	st        *store.Store
	adapters  Adapters
	log       *slog.Logger
	observers []Observer

	// CallTimeout bounds one provider call; an answer later than that is undefined.
	CallTimeout time.Duration
	// Lease is how long a claimed (in-flight) settlement is left alone by the janitor.
	Lease time.Duration
	// MaxResolve is how many failed reference attempts the janitor makes before it writes
	// the settlement to the error log for a person to look at.
	MaxResolve int
	// OnCall, when set, is told of every provider call: module, operation, outcome, time.
	OnCall func(module, op, outcome string, took time.Duration)
}

// observe reports a finished call to OnCall.
func (sv *Service) observe(s *Settlement, op Operation, start time.Time, res plugins.Result, err error) {
	if sv.OnCall == nil {
		return
	}
	out := res.Outcome
	if err != nil {
		out = plugins.OutcomeOf(err)
	}
	sv.OnCall(s.Module, string(op), out.String(), time.Since(start))
}

// NewService returns a Service.
func NewService(st *store.Store, adapters Adapters, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{st: st, adapters: adapters, log: log, CallTimeout: 45 * time.Second, Lease: 2 * time.Minute, MaxResolve: 8}
}

// Observe adds an observer of every change.
func (sv *Service) Observe(o Observer) { sv.observers = append(sv.observers, o) }

// NewTransID makes a link key (リンクキー): unique, unguessable, and short enough for every
// provider's merchant reference field.
func NewTransID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "ks" + hex.EncodeToString(b[:])
}

// nextAttempt numbers attempts TransID-1, TransID-2, …: a retry after NG must reach the
// provider with a new merchant reference (atone refuses a reused shop_transaction_no).
func nextAttempt(transID, cur string) string {
	n := 0
	if i := strings.LastIndexByte(cur, '-'); i >= 0 {
		n, _ = strconv.Atoi(cur[i+1:])
	}
	return fmt.Sprintf("%s-%d", transID, n+1)
}

// New builds (does not store) the pending settlement of an order, with its link key and
// first attempt, so that the widget can be prepared before anything is written.
func New(orderID, shopID, amount int64, module, code string) *Settlement {
	id := NewTransID()
	return &Settlement{OrderID: orderID, ShopID: shopID, Module: module, SettlementCode: code, TransID: id,
		Attempt: nextAttempt(id, ""), Amount: amount, Status: Pending}
}

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

func (sv *Service) adapter(ctx context.Context, s *Settlement) (plugins.Adapter, error) {
	ad, err := sv.adapters.Get(ctx, s.Module)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, s.Module, err)
	}
	return ad, nil
}

func (sv *Service) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, sv.CallTimeout)
}

// Prepare asks the adapter for the widget of the settlement's current attempt. After a
// decline it starts a new attempt. Nothing moves money here.
func (sv *Service) Prepare(ctx context.Context, s *Settlement, po plugins.Order, authToken, actor string) (plugins.CheckoutResult, error) {
	if s.Status == Failed && s.ID != 0 {
		err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			s.Attempt, s.Reason = nextAttempt(s.TransID, s.Attempt), ""
			s.WcTransID = ""
			return Apply(ctx, tx, s, Pending, History{Operation: OpCheckout, Actor: actor, Amount: s.Amount, Message: "再試行"})
		})
		if err != nil {
			return plugins.CheckoutResult{}, err
		}
	}
	if err := Allowed(OpConfirm, s.Status); err != nil {
		return plugins.CheckoutResult{}, err
	}
	if inFlight(s) {
		return plugins.CheckoutResult{}, &OperationError{Op: OpConfirm, From: s.Status}
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
// references the transaction and compares it with the order.
func (sv *Service) Confirm(ctx context.Context, id int64, payload []byte, po plugins.Order, actor string) (Result, error) {
	s, err := sv.Get(ctx, 0, id)
	if err != nil {
		return Result{}, err
	}
	if s.Status == Unknown {
		if r, err := sv.Resolve(ctx, id, actor); err == nil && r.Settlement.Status != Unknown {
			s = r.Settlement
		}
	}
	switch s.Status {
	case Authorized, Captured, Cancelled:
		// Already confirmed (the webhook got here first, or the page posted twice).
		return Result{Settlement: s, Outcome: plugins.Processed}, nil
	case Failed, Unknown:
		return Result{Settlement: s, Outcome: outcomeOfStatus(s.Status)}, nil
	}
	if inFlight(s) {
		// Pending with a provider transaction is an operation in flight (売上計上, 取消, …),
		// not a checkout: a late or replayed widget result must not race it.
		return Result{Settlement: s, Outcome: plugins.Pending}, nil
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{}, err
	}
	po.Attempt = s.Attempt
	cctx, cancel := sv.callCtx(ctx)
	defer cancel()
	start := time.Now()
	res, callErr := ad.Confirm(cctx, plugins.ConfirmRequest{Payload: payload, Order: po})
	sv.observe(s, OpConfirm, start, res.Result, callErr)
	r, err := sv.finish(ctx, s, OpConfirm, Pending, callErr, res, actor)
	if errors.Is(err, ErrConflict) {
		// The provider's webhook (or a second post of the page) recorded the same answer
		// first: answer with what it recorded.
		if cur, gerr := sv.Get(ctx, 0, id); gerr == nil && cur.Status != Pending {
			return Result{Settlement: cur, Outcome: outcomeOfStatus(cur.Status), Provider: res}, nil
		}
	}
	return r, err
}

// inFlight reports a settlement claimed by an operation: pending while it already has a
// provider transaction. A checkout still waiting for the buyer has none.
func inFlight(s *Settlement) bool { return s.Status == Pending && s.WcTransID != "" }

func outcomeOfStatus(st Status) plugins.Outcome {
	switch st {
	case Failed:
		return plugins.Declined
	case Unknown:
		return plugins.Undefined
	case Pending:
		return plugins.Pending
	}
	return plugins.Processed
}

// Capture is 売上計上: only from 仮売上.
func (sv *Service) Capture(ctx context.Context, shopID, id int64, actor string) (Result, error) {
	return sv.operate(ctx, shopID, id, OpCapture, actor, func(ctx context.Context, ad plugins.Adapter, s *Settlement) (plugins.TransactionResult, error) {
		return ad.Capture(ctx, plugins.CaptureRequest{ProviderID: s.WcTransID})
	})
}

// Cancel is 取消: from 仮売上 or 売上計上, irreversible. It does not cancel the order.
func (sv *Service) Cancel(ctx context.Context, shopID, id int64, actor string) (Result, error) {
	return sv.operate(ctx, shopID, id, OpCancel, actor, func(ctx context.Context, ad plugins.Adapter, s *Settlement) (plugins.TransactionResult, error) {
		return ad.Cancel(ctx, plugins.CancelRequest{ProviderID: s.WcTransID})
	})
}

// Modify is 取引修正: the provider replaces the transaction with one for the order as it is
// now; the settlement keeps its status with the new transaction and amount.
func (sv *Service) Modify(ctx context.Context, shopID, id int64, po plugins.Order, actor string) (Result, error) {
	return sv.operate(ctx, shopID, id, OpModify, actor, func(ctx context.Context, ad plugins.Adapter, s *Settlement) (plugins.TransactionResult, error) {
		po.Attempt = nextAttempt(s.TransID, s.Attempt)
		res, err := ad.Modify(ctx, plugins.ModifyRequest{ProviderID: s.WcTransID, Order: po, Settled: s.CapturedAt != nil})
		if err == nil && res.Attempt == "" {
			// The new transaction carries the new attempt even when the adapter does not echo
			// it; the next 取引修正 must not reuse it.
			res.Attempt = po.Attempt
		}
		return res, err
	})
}

type call func(ctx context.Context, ad plugins.Adapter, s *Settlement) (plugins.TransactionResult, error)

// operate claims the settlement (status → pending, so a second request or replica is refused
// with 409 instead of calling the provider twice), calls the provider, and records the answer.
func (sv *Service) operate(ctx context.Context, shopID, id int64, op Operation, actor string, f call) (Result, error) {
	s, err := sv.Get(ctx, shopID, id)
	if err != nil {
		return Result{}, err
	}
	if s.Status == Unknown {
		// Never act on a settlement whose last call has no known answer: ask first.
		r, err := sv.Resolve(ctx, id, actor)
		if err != nil {
			return Result{}, err
		}
		s = r.Settlement
	}
	if err := Allowed(op, s.Status); err != nil {
		return Result{Settlement: s}, err
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{Settlement: s}, err
	}
	prior := s.Status
	err = sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		after := time.Now().UTC().Add(sv.Lease)
		s.ResolveAfter = &after
		return Apply(ctx, tx, s, Pending, History{Operation: op, Amount: s.Amount, ProviderID: s.WcTransID, Message: "処理中", Actor: actor})
	})
	if errors.Is(err, ErrConflict) {
		return Result{Settlement: s}, &OperationError{Op: op, From: Pending}
	}
	if err != nil {
		return Result{}, err
	}
	cctx, cancel := sv.callCtx(ctx)
	defer cancel()
	start := time.Now()
	res, callErr := f(cctx, ad, s)
	sv.observe(s, op, start, res.Result, callErr)
	return sv.finish(ctx, s, op, prior, callErr, res, actor)
}

// target is where a processed operation leaves the settlement.
func target(op Operation, prior Status, res plugins.TransactionResult) Status {
	switch op {
	case OpCapture:
		return Captured
	case OpCancel:
		return Cancelled
	case OpModify:
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

// finish records the provider's answer to a call made from the pending state. prior is the
// status to return to when nothing moved.
func (sv *Service) finish(ctx context.Context, s *Settlement, op Operation, prior Status, callErr error, res plugins.TransactionResult, actor string) (Result, error) {
	now := time.Now().UTC()
	outcome := res.Outcome
	if callErr != nil {
		outcome = plugins.OutcomeOf(callErr)
		res.Outcome = outcome
		if len(res.Messages) == 0 {
			res.Messages = []string{callErr.Error()}
		}
	}
	// Believe a processed answer only if it is about what was asked: the same amount (or,
	// for a modification, the order's new amount). Anything else is a question for a person.
	mismatch := outcome == plugins.Processed && op == OpCapture && res.Amount != 0 && res.Amount != s.Amount
	h := History{Operation: op, Amount: s.Amount, ProviderID: s.WcTransID, Outcome: outcome.String(),
		Code: res.Code, Message: strings.Join(res.Messages, " / "), Actor: actor}
	var to Status
	var unavailable bool
	switch {
	case mismatch:
		to, h.Code, h.Message = Unknown, "KESSAI_AMOUNT", fmt.Sprintf("金額が一致しません（依頼 %d円、応答 %d円）", s.Amount, res.Amount)
	case outcome == plugins.Processed:
		to = target(op, prior, res)
		if res.ProviderID != "" {
			s.WcTransID = res.ProviderID
			h.ProviderID = res.ProviderID
		}
		if op == OpModify || op == OpConfirm {
			if res.Amount != 0 {
				s.Amount = res.Amount
			}
			h.Amount = s.Amount
			if res.Attempt != "" {
				s.Attempt = res.Attempt
			}
		}
		if to == Captured && s.CapturedAt == nil {
			t := now
			if !res.SettledAt.IsZero() {
				t = res.SettledAt.UTC()
			}
			s.CapturedAt = &t
		}
		if to == Failed {
			s.Reason = res.Reason
		}
		s.ResolveAfter, s.ResolveAttempts = nil, 0
	case outcome == plugins.Declined && (op == OpConfirm && res.State == plugins.StateDeclined):
		// 与信NG: the buyer's authorization was refused. The order may be tried again.
		to, s.Reason = Failed, res.Reason
		if res.ProviderID != "" {
			s.WcTransID, h.ProviderID = res.ProviderID, res.ProviderID
		}
		s.ResolveAfter = nil
	case outcome == plugins.Declined, outcome == plugins.NotAttempted:
		// Refused (a second 売上計上, a forged widget result, bad input) or never sent: nothing
		// moved, so the settlement returns to where it was.
		to, s.ResolveAfter = prior, nil
		unavailable = outcome == plugins.NotAttempted && callErr != nil
	case outcome == plugins.Pending:
		to = Pending
		if res.ProviderID != "" {
			s.WcTransID = res.ProviderID
		}
		after := now.Add(time.Minute)
		s.ResolveAfter = &after
	default: // Undefined: no one knows whether money moved; the janitor asks the provider.
		to = Unknown
		if res.ProviderID != "" {
			s.WcTransID = res.ProviderID
		}
		after := now.Add(30 * time.Second)
		s.ResolveAfter, s.ResolveAttempts = &after, 0
	}
	from := s.Status
	err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := Apply(ctx, tx, s, to, h); err != nil {
			return err
		}
		if to == Failed || mismatch || (outcome == plugins.Declined && to != Failed) {
			if err := sv.writeErrorLog(ctx, tx, s, op, res, h); err != nil {
				return err
			}
		}
		if to != from || op == OpModify {
			c := Change{Settlement: s, From: prior, To: to, Op: op, Result: res}
			for _, o := range sv.observers {
				if err := o.SettlementChanged(ctx, tx, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: record answer: %w", op, s.TransID, err)
	}
	if unavailable {
		return Result{Settlement: s, Outcome: outcome, Provider: res}, fmt.Errorf("%w: %s", ErrUnavailable, callErr)
	}
	return Result{Settlement: s, Outcome: outcome, Provider: res}, nil
}

func (sv *Service) writeErrorLog(ctx context.Context, tx *gorm.DB, s *Settlement, op Operation, res plugins.TransactionResult, h History) error {
	result := strings.ToUpper(s.Module) + " " + strings.ToUpper(string(op)) + " " + strings.ToUpper(res.Outcome.String())
	if s.Status == Failed && op == OpConfirm {
		result = strings.ToUpper(s.Module) + " AUTHORIZE NG"
	}
	data := map[string]any{
		"settlement_id": s.ID, "order_id": s.OrderID, "operation": op.Label(), "outcome": h.Outcome,
		"code": h.Code, "message": h.Message, "provider_id": h.ProviderID, "amount": s.Amount, "attempt": s.Attempt,
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
