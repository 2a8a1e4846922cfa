package errlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/option"
)

// The …For functions are the error log as one credential sees it. A row is the shop of its
// order's: the order's shop never changes, so the row needs no copy of it, and which orders
// are a shop's is core/order's to say, handed over as a subquery of their ids (order.OfShop).
// A nil subquery is every row, the admin's view: a row without an order (a notification for a
// transaction kessai does not know) belongs to no shop and only an admin sees it.

// ofOrders narrows q to the rows of the orders whose ids the subquery orders selects.
func ofOrders(q, orders *gorm.DB) *gorm.DB {
	return q.Where("order_id IN (?)", orders)
}

// ListFor is List of the rows of orders' orders.
func ListFor(ctx context.Context, db, orders *gorm.DB, limit, offset int) ([]Entry, int64, error) {
	if orders == nil {
		return List(ctx, db, limit, offset)
	}
	var total int64
	if err := ofOrders(db.WithContext(ctx).Model(&Entry{}), orders).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("list a shop's error log: %w", err)
	}
	var out []Entry
	q := ofOrders(db.WithContext(ctx), orders).Order("id DESC")
	if limit > 0 {
		q = q.Limit(limit).Offset(offset)
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("list a shop's error log: %w", err)
	}
	return out, total, nil
}

// GetFor is Get of a row of orders' orders; another shop's row is ErrNotFound, as a missing
// one is.
func GetFor(ctx context.Context, db, orders *gorm.DB, id int64) (*Entry, error) {
	if orders == nil {
		return Get(ctx, db, id)
	}
	var e Entry
	err := ofOrders(db.WithContext(ctx), orders).Where("id = ?", id).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error log %d of a shop: %w", id, err)
	}
	return &e, nil
}

// DeleteFor is Delete of the rows of orders' orders among ids (all of them when ids is nil);
// other rows are left alone. The notice clears when no row of any shop remains.
func DeleteFor(ctx context.Context, db, orders *gorm.DB, ids []int64) (int64, error) {
	if ids != nil && len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("1 = 1")
		if orders != nil {
			q = ofOrders(tx, orders)
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
		return 0, fmt.Errorf("delete error log rows: %w", err)
	}
	return n, nil
}

// NoticeFor is the notice of orders' orders: the time of their newest row, zero when they have
// none.
func NoticeFor(ctx context.Context, db, orders *gorm.DB) (time.Time, error) {
	if orders == nil {
		return Notice(ctx, db)
	}
	var e Entry
	err := ofOrders(db.WithContext(ctx), orders).Order("id DESC").Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("a shop's error log notice: %w", err)
	}
	return e.Datetime, nil
}
