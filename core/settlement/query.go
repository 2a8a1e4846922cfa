package settlement

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
)

// This file holds what other packages may ask of the settlement tables beyond one
// settlement's operations: subqueries for their lists, counts for the console's widgets, and
// history read for display.

// OrdersIn is a subquery of the ids of the orders whose own settlement is in status st, for an
// order list to narrow itself by 決済状況 without knowing settlements.
func (sv *Service) OrdersIn(st Status) *gorm.DB {
	return store.Subquery(sv.st.DB.Model(&Settlement{}).Select("order_id").Where("continuation_charge_id IS NULL AND status = ?", st))
}

// StatusCount is how many settlements are in a status, and their amount.
type StatusCount struct {
	Status Status
	N      int64
	Amount int64
}

// CountCreated counts the settlements created in [from, to), by their status now, with the sum
// of their amounts: the dashboard's day. Statuses no settlement is in are absent.
func CountCreated(ctx context.Context, db *gorm.DB, from, to time.Time) ([]StatusCount, error) {
	var rows []StatusCount
	err := db.WithContext(ctx).Model(&Settlement{}).
		Select("status, COUNT(*) AS n, COALESCE(SUM(amount), 0) AS amount").
		Where("created_at >= ? AND created_at < ?", from.UTC(), to.UTC()).
		Group("status").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("settlements created from %s to %s: %w", from, to, err)
	}
	return rows, nil
}

// LastFailure is the newest history row of settlementID that went to 決済エラー: the provider's
// message and code, or kessai's note when nothing was sent. A settlement that never failed
// answers a zero History.
func LastFailure(ctx context.Context, db *gorm.DB, settlementID int64) (History, error) {
	var h History
	err := db.WithContext(ctx).Where("settlement_id = ? AND status_to = ?", settlementID, Failed).
		Order("id DESC").Limit(1).Find(&h).Error
	if err != nil {
		return History{}, fmt.Errorf("settlement %d: last failure: %w", settlementID, err)
	}
	return h, nil
}

// ByIDs reads the settlements with the given ids, keyed by id: a contract's charges, each with
// its settlement, in one query. An id without a settlement is absent.
func ByIDs(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]Settlement, error) {
	out := make(map[int64]Settlement, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var ss []Settlement
	if err := db.WithContext(ctx).Where("id IN ?", ids).Find(&ss).Error; err != nil {
		return nil, fmt.Errorf("%d settlements: %w", len(ids), err)
	}
	for _, s := range ss {
		out[s.ID] = s
	}
	return out, nil
}

// OfTransaction returns module's settlement that points at the provider's transaction
// providerID, the oldest if several do; ErrNotFound when none does.
func OfTransaction(ctx context.Context, db *gorm.DB, module, providerID string) (*Settlement, error) {
	var s Settlement
	err := db.WithContext(ctx).Where("module = ? AND wc_trans_id = ?", module, providerID).Order("id").First(&s).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("settlement of %s transaction %s: %w", module, providerID, err)
	}
	return &s, nil
}

// OfLinkKey returns module's settlement whose link key (決済ID) is transID; ErrNotFound when
// there is none.
func OfLinkKey(ctx context.Context, db *gorm.DB, module, transID string) (*Settlement, error) {
	var s Settlement
	err := db.WithContext(ctx).Where("module = ? AND trans_id = ?", module, transID).First(&s).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("settlement %s of %s: %w", transID, module, err)
	}
	return &s, nil
}
