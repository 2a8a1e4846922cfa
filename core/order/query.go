package order

import (
	"context"
	"fmt"
	"strconv"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
)

// This file holds what other packages may ask of the orders table: answers, and subqueries
// (store.Subquery) they filter their own rows by, so that nobody else reads orders.

// PaidWith counts the orders, of every shop, that name the payment method name: a method
// orders still name cannot be deleted.
func PaidWith(ctx context.Context, db *gorm.DB, name string) (int64, error) {
	var n int64
	if err := db.WithContext(ctx).Model(&Order{}).Where("order_payment_name = ?", name).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("orders paid with %s: %w", name, err)
	}
	return n, nil
}

// Payments is a subquery of every order's id and the payment method it names (id,
// payment_name), for the settlements' funnel to count checkouts per method.
func Payments(db *gorm.DB) *gorm.DB {
	return store.Subquery(db.Model(&Order{}).Select("id, order_payment_name AS payment_name"))
}

// OfShop is a subquery of the ids of shopID's orders, for the rows of other tables that belong
// to a shop through their order (the error log's).
func OfShop(db *gorm.DB, shopID int64) *gorm.DB {
	return store.Subquery(db.Model(&Order{}).Select("id").Where("shop_id = ?", shopID))
}

// Numbered is a subquery of the ids of the orders whose number, as shown, is number: an order
// without one shows its id, zero-padded (DecoID), and is found by that id.
func Numbered(db *gorm.DB, number string) *gorm.DB {
	id, _ := strconv.ParseInt(number, 10, 64)
	return store.Subquery(db.Model(&Order{}).Select("id").
		Where("order_number = ? OR (COALESCE(order_number, '') = '' AND id = ?)", number, id))
}

// Mailed is a subquery of the ids of the orders whose Eメール contains part.
func Mailed(db *gorm.DB, part string) *gorm.DB {
	return store.Subquery(db.Model(&Order{}).Select("id").Where(store.Contains("order_email", part)))
}

// ByIDs reads the orders with the given ids, of any shop, keyed by id: a page of another
// package's rows, each with its order, in one query. An id without an order is absent.
func ByIDs(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]Order, error) {
	out := make(map[int64]Order, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var os []Order
	if err := db.WithContext(ctx).Where("id IN ?", ids).Find(&os).Error; err != nil {
		return nil, fmt.Errorf("%d orders: %w", len(ids), err)
	}
	for _, o := range os {
		out[o.ID] = o
	}
	return out, nil
}
