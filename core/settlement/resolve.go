package settlement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/plugins"
)

// ErrUnresolved means the provider could not say where the transaction stands (no answer, or
// it does not know it); the settlement stays unknown and the janitor asks again later.
var ErrUnresolved = errors.New("settlement: provider could not confirm the transaction yet")

// statusOf maps the provider's state to the settlement status it proves.
func statusOf(st plugins.State) (Status, bool) {
	switch st {
	case plugins.StateAuthorized:
		return Authorized, true
	case plugins.StateCaptured:
		return Captured, true
	case plugins.StateCancelled:
		return Cancelled, true
	case plugins.StateDeclined:
		return Failed, true
	}
	return "", false
}

// Reference is 取引参照: it asks the provider and records the answer in the history. A
// settlement left pending or unknown by a lost answer is settled by what the provider says.
func (sv *Service) Reference(ctx context.Context, shopID, id int64, actor string) (Result, error) {
	s, err := sv.Get(ctx, shopID, id)
	if err != nil {
		return Result{}, err
	}
	if s.Status == Unknown || (s.Status == Pending && s.WcTransID != "" && leaseOver(s)) {
		return sv.Resolve(ctx, id, actor)
	}
	if s.WcTransID == "" {
		return Result{Settlement: s, Outcome: plugins.NotAttempted}, nil
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{Settlement: s}, err
	}
	cctx, cancel := sv.callCtx(ctx)
	defer cancel()
	start := time.Now()
	res, err := ad.Reference(cctx, plugins.ReferenceRequest{ProviderID: s.WcTransID, Attempt: s.Attempt})
	sv.observe(s, OpReference, start, res.Result, err)
	if err != nil {
		return Result{Settlement: s, Outcome: plugins.OutcomeOf(err)}, fmt.Errorf("%w: reference %s: %v", ErrUnavailable, s.TransID, err)
	}
	msg := "状態: " + res.State.String()
	if len(res.Messages) > 0 {
		msg += " / " + strings.Join(res.Messages, " / ")
	}
	err = Record(ctx, sv.st.DB, s, History{Operation: OpReference, Amount: res.Amount, ProviderID: s.WcTransID,
		Outcome: res.Outcome.String(), Code: res.Code, Message: msg, Actor: actor})
	return Result{Settlement: s, Outcome: res.Outcome, Provider: res}, err
}

func leaseOver(s *Settlement) bool {
	return s.ResolveAfter == nil || !s.ResolveAfter.After(time.Now().UTC())
}

// Resolve settles a pending or unknown settlement by Reference: whatever the provider says the
// transaction is, the settlement becomes. It never repeats the lost call. When the provider
// cannot say, it schedules another look with backoff, and after MaxResolve looks it writes the
// settlement to the error log for a person.
func (sv *Service) Resolve(ctx context.Context, id int64, actor string) (Result, error) {
	s, err := sv.Get(ctx, 0, id)
	if err != nil {
		return Result{}, err
	}
	if s.Status != Unknown && s.Status != Pending {
		return Result{Settlement: s, Outcome: outcomeOfStatus(s.Status)}, nil
	}
	if s.WcTransID == "" && s.Status == Pending && s.ContinuationChargeID == nil {
		// A checkout the buyer has not finished: nothing to ask the provider about yet.
		return Result{Settlement: s, Outcome: plugins.Pending}, nil
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{Settlement: s, Outcome: plugins.Undefined}, sv.reschedule(ctx, s, err.Error())
	}
	cctx, cancel := sv.callCtx(ctx)
	defer cancel()
	start := time.Now()
	res, callErr := ad.Reference(cctx, plugins.ReferenceRequest{ProviderID: s.WcTransID, Attempt: s.Attempt})
	sv.observe(s, OpResolve, start, res.Result, callErr)
	to, known := statusOf(res.State)
	if callErr != nil || res.Outcome != plugins.Processed || !known {
		why := "provider did not confirm the transaction"
		if callErr != nil {
			why = callErr.Error()
		} else if len(res.Messages) > 0 {
			why = strings.Join(res.Messages, " / ")
		}
		if err := sv.reschedule(ctx, s, why); err != nil {
			return Result{Settlement: s}, err
		}
		return Result{Settlement: s, Outcome: plugins.Undefined, Provider: res}, fmt.Errorf("%w: %s: %s", ErrUnresolved, s.TransID, why)
	}
	from := s.Status
	if res.Amount != 0 {
		s.Amount = res.Amount
	}
	if to == Captured && s.CapturedAt == nil {
		t := time.Now().UTC()
		if !res.SettledAt.IsZero() {
			t = res.SettledAt.UTC()
		}
		s.CapturedAt = &t
	}
	if to == Failed {
		s.Reason = res.Reason
	}
	s.ResolveAfter, s.ResolveAttempts = nil, 0
	h := History{Operation: OpResolve, Amount: s.Amount, ProviderID: s.WcTransID, Outcome: res.Outcome.String(),
		Message: "取引参照により確定: " + to.Label(), Actor: actor}
	err = sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := Apply(ctx, tx, s, to, h); err != nil {
			return err
		}
		c := Change{Settlement: s, From: from, To: to, Op: OpResolve, Result: res}
		for _, o := range sv.observers {
			if err := o.SettlementChanged(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Result{Settlement: s}, fmt.Errorf("resolve %s: %w", s.TransID, err)
	}
	return Result{Settlement: s, Outcome: plugins.Processed, Provider: res}, nil
}

// backoff is the janitor's wait before the n-th look (n from 1): 30s, 1m, 2m, … up to 1h.
func backoff(n int) time.Duration {
	d := 30 * time.Second << min(n-1, 7)
	return min(d, time.Hour)
}

// reschedule pushes the next look out and, once the looks are used up, writes the error log.
// It changes no status, so it writes no history row.
func (sv *Service) reschedule(ctx context.Context, s *Settlement, why string) error {
	s.ResolveAttempts++
	after := time.Now().UTC().Add(backoff(s.ResolveAttempts))
	s.ResolveAfter = &after
	return sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&Settlement{}).Where("id = ?", s.ID).Updates(map[string]any{
			"resolve_after": s.ResolveAfter, "resolve_attempts": s.ResolveAttempts}).Error
		if err != nil {
			return err
		}
		if s.ResolveAttempts == sv.MaxResolve {
			oid := s.OrderID
			return errlog.Write(ctx, tx, s.TransID, s.Module, strings.ToUpper(s.Module)+" UNRESOLVED", map[string]any{
				"settlement_id": s.ID, "order_id": s.OrderID, "provider_id": s.WcTransID, "attempt": s.Attempt,
				"status": s.Status.Label(), "message": "取引の状態を確認できません。決済代行会社の管理画面で確認してください。", "last_error": why,
			}, &oid)
		}
		return nil
	})
}

// ResolveDue is the janitor's pass: it claims up to limit pending or unknown settlements whose
// next look is due (SKIP LOCKED, so replicas take disjoint rows) and resolves each. It returns
// how many it looked at.
func (sv *Service) ResolveDue(ctx context.Context, limit int) (int, error) {
	now := time.Now().UTC()
	var ids []int64
	err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Unknown settlements are all looked at, with or without a provider id (then the
		// adapter may find the transaction by attempt, or after MaxResolve looks a person is
		// asked through the error log). Pending ones only when a call was made: a provider id,
		// or a continuation charge whose claim outlived its lease.
		q := tx.Model(&Settlement{}).
			Where("(status = ? OR (status = ? AND (wc_trans_id <> '' OR continuation_charge_id IS NOT NULL))) AND (resolve_after IS NULL OR resolve_after <= ?)",
				Unknown, Pending, now).
			Order("resolve_after").Limit(limit)
		if err := sv.st.SkipLocked(q).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		// The claim: push the next look out by a lease so another replica skips these rows
		// even after this transaction ends.
		lease := now.Add(sv.Lease)
		return tx.Model(&Settlement{}).Where("id IN ?", ids).Update("resolve_after", lease).Error
	})
	if err != nil {
		return 0, fmt.Errorf("janitor: claim: %w", err)
	}
	for _, id := range ids {
		if _, err := sv.Resolve(ctx, id, "janitor"); err != nil && !errors.Is(err, ErrUnresolved) {
			sv.log.Warn("janitor: resolve", "settlement", id, "err", err)
		}
	}
	return len(ids), nil
}
