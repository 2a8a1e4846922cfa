package settlement

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// FunnelRow is one payment method's checkout funnel, counted from the settlement history so that
// every replica and every restart agrees.
type FunnelRow struct {
	PaymentName string `json:"payment_name"`
	// Prepared counts checkouts whose widget was handed to the buyer.
	Prepared int64 `json:"prepared"`
	// Succeeded counts checkouts that became 仮売上 or 売上計上.
	Succeeded int64 `json:"succeeded"`
	// NG counts checkouts the provider declined (与信NG → 決済エラー).
	NG int64 `json:"ng"`
	// Cancelled counts checkouts whose buyer closed the widget (かご落ち).
	Cancelled int64 `json:"cancelled"`
	// Rate is Succeeded / Prepared.
	Rate float64 `json:"conversion_rate"`
}

// Funnel counts a shop's checkouts per payment method (shopID 0: every shop's), by the payment
// method the order names, which payments (order.Payments) hands over as each order's id and
// payment_name. Continuation charges are no checkouts and are left out.
func Funnel(ctx context.Context, db *gorm.DB, shopID int64, payments *gorm.DB) ([]FunnelRow, error) {
	q := `SELECT o.payment_name,
	  COUNT(DISTINCT s.id) AS prepared,
	  COUNT(DISTINCT CASE WHEN h.operation = 'confirm' AND h.status_to IN ('authorized', 'captured') THEN s.id END) AS succeeded,
	  COUNT(DISTINCT CASE WHEN h.operation = 'confirm' AND h.status_to = 'error' THEN s.id END) AS ng,
	  COUNT(DISTINCT CASE WHEN h.operation = 'abandon' THEN s.id END) AS cancelled
	FROM settlements s
	JOIN (?) o ON o.id = s.order_id
	LEFT JOIN settlement_history h ON h.settlement_id = s.id
	WHERE s.continuation_charge_id IS NULL AND (? = 0 OR s.shop_id = ?)
	GROUP BY o.payment_name
	ORDER BY o.payment_name`
	var rows []FunnelRow
	if err := db.WithContext(ctx).Raw(q, payments, shopID, shopID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("funnel of shop %d: %w", shopID, err)
	}
	for i := range rows {
		if rows[i].Prepared > 0 {
			rows[i].Rate = float64(rows[i].Succeeded) / float64(rows[i].Prepared)
		}
	}
	if rows == nil {
		rows = []FunnelRow{}
	}
	return rows, nil
}
