package continuation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/order"
)

// Audit actions that change a contract's 決済金額.
const (
	actionPrice  = "continuation.price"  // 受注編集 of the order
	actionUpdate = "continuation.update" // 継続課金会員情報
)

// FollowOrder is 取引修正（継続課金）: when 受注編集 changes the amount or the cart of an order
// with a contract, the contract's 決済金額 becomes the order's new total, as Welcart's does.
// Future periods are charged the new amount from the contract's 次回課金日; past charges,
// those in flight included, keep their own. It runs in the transaction that saves the edited
// order (after the 取引修正 is proven, when atone had to be told), and is recorded in the
// contract's history (the audit log, under the contract) with who asked for the edit. It is an
// order.Saved, which the daemon registers with order.OnSaved.
func FollowOrder(ctx context.Context, tx *gorm.DB, before, after *order.Order, actor string) error {
	if before.Total == after.Total && before.CartJSON == after.CartJSON {
		return nil
	}
	tx = tx.WithContext(ctx)
	var c Contract
	err := tx.Where("order_id = ?", after.ID).First(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("contract of order %d: %w", after.ID, err)
	}
	if c.Price == after.Total || after.Total < 1 {
		return nil
	}
	res := tx.Model(&Contract{}).Where("id = ? AND price = ?", c.ID, c.Price).
		Updates(map[string]any{"price": after.Total, "updated_at": tx.NowFunc()})
	if res.Error != nil {
		return fmt.Errorf("contract %d: 決済金額: %w", c.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("contract %d: 決済金額 changed meanwhile", c.ID)
	}
	return audit.Record(ctx, tx, actor, actionPrice, fmt.Sprintf("continuation:%d", c.ID), map[string]any{
		"order_id": c.OrderID, "via": "受注編集", "next_charging": c.NextCharging,
		"before": map[string]any{"price": c.Price}, "after": map[string]any{"price": after.Total},
	})
}

// PriceChange is one change of a contract's 決済金額, newest first in Detail.PriceChanges.
type PriceChange struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Via   string    `json:"via"` // 受注編集 or 継続課金会員情報
	From  int64     `json:"from"`
	To    int64     `json:"to"`
	// NextCharging is the 次回課金日 from which the new amount is charged.
	NextCharging Date `json:"next_charging"`
}

// priceChanges reads the contract's 決済金額 changes from the audit log, newest first.
func priceChanges(ctx context.Context, db *gorm.DB, id int64) ([]PriceChange, error) {
	es, err := audit.About(ctx, db, fmt.Sprintf("continuation:%d", id), []string{actionPrice, actionUpdate}, 50)
	if err != nil {
		return nil, fmt.Errorf("contract %d price changes: %w", id, err)
	}
	out := []PriceChange{}
	for _, e := range es {
		var d struct {
			Via          string `json:"via"`
			NextCharging Date   `json:"next_charging"`
			Before       struct {
				Price        int64 `json:"price"`
				NextCharging Date  `json:"next_charging"`
			} `json:"before"`
			After struct {
				Price        int64 `json:"price"`
				NextCharging Date  `json:"next_charging"`
			} `json:"after"`
		}
		if json.Unmarshal([]byte(e.Detail), &d) != nil || d.Before.Price == d.After.Price {
			continue
		}
		pc := PriceChange{At: e.CreatedAt, Actor: e.Actor, Via: d.Via, From: d.Before.Price, To: d.After.Price, NextCharging: d.NextCharging}
		if e.Action == actionUpdate {
			pc.Via, pc.NextCharging = "継続課金会員情報", d.After.NextCharging
		}
		out = append(out, pc)
	}
	return out, nil
}
