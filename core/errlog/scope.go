package errlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/option"
)

// The …For functions are the error log as one shop sees it, for a shop's own credential (the
// Welcart façade with a shop key). A row is the shop of its order's: the order's shop never
// changes, so the row needs no copy of it. A row without an order (a notification for a
// transaction kessai does not know) belongs to no shop and only an admin sees it. shopID 0 is
// every row, as for the order functions: the admin's view.

// ofShop narrows q to the rows of shopID's orders.
func ofShop(q *gorm.DB, shopID int64) *gorm.DB {
	orders := q.Session(&gorm.Session{NewDB: true}).Table("orders").Select("id").Where("shop_id = ?", shopID)
	return q.Where("order_id IN (?)", orders)
}

// ListFor is List of the shop's rows.
func ListFor(ctx context.Context, db *gorm.DB, shopID int64, limit, offset int) ([]Entry, int64, error) {
	if shopID == 0 {
		return List(ctx, db, limit, offset)
	}
	var total int64
	if err := ofShop(db.WithContext(ctx).Model(&Entry{}), shopID).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("list error log of shop %d: %w", shopID, err)
	}
	var out []Entry
	q := ofShop(db.WithContext(ctx), shopID).Order("id DESC")
	if limit > 0 {
		q = q.Limit(limit).Offset(offset)
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("list error log of shop %d: %w", shopID, err)
	}
	return out, total, nil
}

// GetFor is Get of a row of the shop's; another shop's row is ErrNotFound, as a missing one is.
func GetFor(ctx context.Context, db *gorm.DB, shopID, id int64) (*Entry, error) {
	if shopID == 0 {
		return Get(ctx, db, id)
	}
	var e Entry
	err := ofShop(db.WithContext(ctx), shopID).Where("id = ?", id).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error log %d of shop %d: %w", id, shopID, err)
	}
	return &e, nil
}

// DeleteFor is Delete of the shop's rows among ids (all of them when ids is nil); other rows
// are left alone. The notice clears when no row of any shop remains. Shop 0 is every shop.
func DeleteFor(ctx context.Context, db *gorm.DB, shopID int64, ids []int64) (int64, error) {
	if ids != nil && len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("1 = 1")
		if shopID != 0 {
			q = ofShop(tx, shopID)
		}
		if ids != nil {
			q = q.Where("id IN ?", ids)
		}
		res := q.Delete(&Entry{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		var left int64
		if err := tx.Model(&Entry{}).Count(&left).Error; err != nil {
			return err
		}
		if left == 0 {
			return option.Delete(ctx, tx, noticeOption)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete error log of shop %d: %w", shopID, err)
	}
	return n, nil
}

// NoticeFor is the shop's notice: the time of its newest row, zero when it has none.
func NoticeFor(ctx context.Context, db *gorm.DB, shopID int64) (time.Time, error) {
	if shopID == 0 {
		return Notice(ctx, db)
	}
	var e Entry
	err := ofShop(db.WithContext(ctx), shopID).Order("id DESC").Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("error log notice of shop %d: %w", shopID, err)
	}
	return e.Datetime, nil
}
