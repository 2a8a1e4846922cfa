package settlement

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/plugins"
)

// Difference is one way a settlement differs from the provider's view of its transaction.
type Difference struct {
	SettlementID int64
	OrderID      int64
	TransID      string
	ProviderID   string
	// Field is what differs: "status", "amount" or "transaction" (the provider does not know
	// the transaction), or "unresolved" for a settlement still waiting for an answer.
	Field    string
	Kessai   string
	Provider string
	// Fixed says the provider's view was applied (with --fix).
	Fixed bool
	// Error says why the settlement could not be compared or fixed.
	Error string
}

// Reconcile references every settlement that is not final (pending with a transaction,
// unknown, 仮売上, 売上計上) and every other one changed since since, and returns where kessai's
// record differs from the provider's. With fix, each difference is corrected to the
// provider's view through the engine: under the settlement's claim, compare-and-set on its
// version, with a history row and the observers' events. Settlements held by an operation in
// flight are skipped; unknown ones are resolved from their attempts first.
func (sv *Service) Reconcile(ctx context.Context, since time.Time, fix bool, actor string) ([]Difference, error) {
	q := sv.st.DB.WithContext(ctx).Model(&Settlement{}).
		Where("status IN ? OR (status = ? AND wc_trans_id <> '') OR updated_at >= ?", []Status{Unknown, Authorized, Captured}, Pending, since.UTC())
	return sv.reconcile(ctx, q, fix, actor)
}

// ReconcileRecent is the janitor's share of reconciliation: the settlements whose last change
// is between age+span and age old, corrected to the provider's view. Called every span, it
// looks at each settlement once, age after it settled down, so a drift is found minutes after
// it happened rather than at the next manual run.
func (sv *Service) ReconcileRecent(ctx context.Context, age, span time.Duration) ([]Difference, error) {
	now := sv.now()
	q := sv.st.DB.WithContext(ctx).Model(&Settlement{}).
		Where("updated_at >= ? AND updated_at < ? AND wc_trans_id <> '' AND status <> ?", now.Add(-age-span), now.Add(-age), Pending)
	return sv.reconcile(ctx, q, true, "janitor")
}

func (sv *Service) reconcile(ctx context.Context, q *gorm.DB, fix bool, actor string) ([]Difference, error) {
	var ids []int64
	if err := q.Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	var diffs []Difference
	for _, id := range ids {
		d, ok, err := sv.reconcileOne(ctx, id, fix, actor)
		if err != nil {
			return diffs, err
		}
		if ok {
			diffs = append(diffs, d)
		}
	}
	return diffs, nil
}

func (sv *Service) reconcileOne(ctx context.Context, id int64, fix bool, actor string) (Difference, bool, error) {
	s, err := sv.Get(ctx, 0, id)
	if err != nil {
		return Difference{}, false, err
	}
	d := Difference{SettlementID: s.ID, OrderID: s.OrderID, TransID: s.TransID, ProviderID: s.WcTransID}
	if s.Claimed(sv.now()) {
		return d, false, nil
	}
	if s.Status == Unknown || s.Orphaned(sv.now()) {
		if !fix {
			d.Field, d.Kessai, d.Provider = "unresolved", s.Status.Label(), "?"
			return d, true, nil
		}
		r, err := sv.Resolve(ctx, id, actor)
		if err != nil {
			d.Field, d.Kessai, d.Provider, d.Error = "unresolved", s.Status.Label(), "?", err.Error()
			return d, true, nil
		}
		d.Field, d.Kessai, d.Provider, d.Fixed = "unresolved", Unknown.Label(), r.Settlement.Status.Label(), true
		return d, true, nil
	}
	if s.WcTransID == "" {
		return d, false, nil
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		d.Field, d.Error = "transaction", err.Error()
		return d, true, nil
	}
	cctx, cancel := sv.callCtx(ctx)
	res, err := ad.Reference(cctx, plugins.ReferenceRequest{ProviderID: s.WcTransID, Attempt: s.Attempt})
	cancel()
	if err != nil {
		d.Field, d.Error = "transaction", err.Error()
		return d, true, nil
	}
	if res.Outcome == plugins.Declined && res.State == plugins.StateUnknown {
		d.Field, d.Kessai, d.Provider = "transaction", s.WcTransID, "該当の取引が存在しません"
		return d, true, nil
	}
	to, known := statusOf(res.State)
	if res.Outcome != plugins.Processed || !known {
		d.Field, d.Error = "transaction", "the provider did not answer"
		return d, true, nil
	}
	switch {
	case to != s.Status:
		d.Field, d.Kessai, d.Provider = "status", s.Status.Label(), to.Label()
	case res.Amount != 0 && res.Amount != s.Amount:
		d.Field, d.Kessai, d.Provider = "amount", fmt.Sprint(s.Amount), fmt.Sprint(res.Amount)
	default:
		return d, false, nil
	}
	if !fix {
		return d, true, nil
	}
	if err := Check(s.Status, to); err != nil {
		d.Error = err.Error()
		return d, true, nil
	}
	from := s.Status
	if res.Amount != 0 {
		s.Amount = res.Amount
	}
	if to == Captured && s.CapturedAt == nil {
		t := sv.now()
		if !res.SettledAt.IsZero() {
			t = res.SettledAt.UTC()
		}
		s.CapturedAt = &t
	}
	h := History{Operation: OpReconcile, Amount: s.Amount, ProviderID: s.WcTransID, Outcome: res.Outcome.String(),
		Message: fmt.Sprintf("照合により修正: %s → %s（%s）", d.Kessai, d.Provider, d.Field), Actor: actor}
	err = sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := Apply(ctx, tx, s, to, h); err != nil {
			return err
		}
		c := Change{Settlement: s, From: from, To: to, Op: OpReconcile, Result: res}
		for _, o := range sv.observers {
			if err := o.SettlementChanged(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Changed meanwhile (compare-and-set lost): the next pass looks again.
		d.Error = err.Error()
		return d, true, nil
	}
	d.Fixed = true
	return d, true, nil
}
