package paymethod

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// What module selection needs of payment methods: Welcart refuses to unselect a module while an
// activated method uses its codes, and deactivates a module's methods when it goes.

// CountActive counts the activated methods using any of codes, read through tx so that a
// selection holding its lock sees what it is about to change.
func CountActive(ctx context.Context, tx *gorm.DB, codes ...string) (int64, error) {
	if len(codes) == 0 {
		return 0, nil
	}
	var n int64
	if err := tx.WithContext(ctx).Model(&Method{}).Where("settlement IN ? AND "+quoteUse(tx)+" = ?", codes, Activate).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count payment methods: %w", err)
	}
	return n, nil
}

// ActiveByCode counts the activated methods of each settlement code, in one query.
func ActiveByCode(ctx context.Context, db *gorm.DB) (map[string]int, error) {
	var counts []struct {
		Settlement string
		N          int
	}
	if err := db.WithContext(ctx).Model(&Method{}).Select("settlement, COUNT(*) AS n").
		Where(quoteUse(db)+" = ?", Activate).Group("settlement").Scan(&counts).Error; err != nil {
		return nil, fmt.Errorf("count payment methods: %w", err)
	}
	out := make(map[string]int, len(counts))
	for _, c := range counts {
		out[c.Settlement] = c.N
	}
	return out, nil
}

// DeactivateCodes sets every method using any of codes to 停止, in tx: the module serving them
// is being unselected. A Methods cache sees the change within its few seconds.
func DeactivateCodes(ctx context.Context, tx *gorm.DB, codes ...string) error {
	if len(codes) == 0 {
		return nil
	}
	err := tx.WithContext(ctx).Model(&Method{}).Where("settlement IN ?", codes).
		Updates(map[string]any{"use": Deactivate, "updated_at": tx.NowFunc()}).Error
	if err != nil {
		return fmt.Errorf("deactivate payment methods of %s: %w", strings.Join(codes, ", "), err)
	}
	return nil
}

// quoteUse quotes the column named use, a reserved word in MySQL.
func quoteUse(tx *gorm.DB) string {
	var b strings.Builder
	tx.Dialector.QuoteTo(&b, "use")
	return b.String()
}
