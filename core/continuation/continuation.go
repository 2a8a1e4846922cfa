// Package continuation owns 継続課金 contracts (WCEX DL Seller's usces_continuation): one
// contract per order with a continuation item, its charge per period, and the daily run that
// charges due contracts through the settlement engine, mails the contractor and the admin, and
// moves the contract's dates on.
//
// Money safety rests on rows, not on the scheduler: a run claims contracts with FOR UPDATE
// SKIP LOCKED and, in the same transaction, writes the period's charge row and moves
// 次回課金日 on, so no other runner (another replica, a catch-up run from the command line)
// sees the period as due again; a successful charge sets settled_period, and the unique key
// (continuation_id, settled_period) makes a second success for one period impossible. A call
// whose answer is lost leaves the settlement unknown for the janitor and is never repeated.
package continuation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins/jst"
)

// Status is a contract's 契約 state.
type Status string

// Contract states, with Welcart's values.
const (
	Active  Status = "continuation" // 継続中
	Stopped Status = "cancellation" // 停止中
)

// Label is the Japanese word the admin screens show.
func (s Status) Label() string {
	switch s {
	case Active:
		return "継続中"
	case Stopped:
		return "停止中"
	}
	return string(s)
}

// Contract is one row of continuations (usces_continuation).
type Contract struct {
	ID         int64 `gorm:"primaryKey"`
	OrderID    int64
	ShopID     int64
	MemberID   int64
	Division   string
	SKU        string `gorm:"column:sku"`
	Acting     string // settlement code of the order's payment, e.g. acting_atone
	Module     string // adapter slug
	OrderPrice int64  // 受注時金額
	Price      int64  // 決済金額: what each future period is charged
	Frequency  int
	// ChargingDay is 1–28, or 99 for the order's day.
	ChargingDay     int  `gorm:"column:chargingday"`
	Interval        int  `gorm:"column:interval"`
	StartDate       Date `gorm:"column:startdate"` // お申込み日 = 初回課金日
	NextCharging    Date // 次回課金日
	NextContracting Date // 次回契約更新日
	Status          Status
	Token           []byte // sealed
	FirstProviderID []byte // sealed
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName is the continuations table.
func (Contract) TableName() string { return "continuations" }

// Schedule is the contract's charging rule.
func (c Contract) Schedule() Schedule {
	return Schedule{Frequency: c.Frequency, ChargingDay: c.ChargingDay, Interval: c.Interval, Start: c.StartDate}
}

// Charge is one attempt to charge one period of a contract.
type Charge struct {
	ID             int64 `gorm:"primaryKey"`
	ContinuationID int64
	Period         Date // the 次回課金日 this charge was for
	Attempt        int  // 1 for the run's charge, 2… for 再決済
	Amount         int64
	// Status mirrors the settlement's status when the charge was recorded: pending while the
	// call is in flight, then authorized, captured, error or unknown.
	Status settlement.Status
	// SettledPeriod is Period once the charge succeeded, NULL otherwise: the unique key that
	// allows one successful charge per period.
	SettledPeriod Date
	SettlementID  *int64
	RunDate       Date // the run that made the attempt; zero for 再決済
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName is the continuation_charges table.
func (Charge) TableName() string { return "continuation_charges" }

// Errors callers branch on.
var (
	ErrNotFound = fault.Sentinel("continuation: no such contract", fault.NotFound, "not_found", "継続課金契約が見つかりません。")
	ErrExists   = fault.Sentinel("continuation: the order already has a contract", fault.Conflict,
		"continuation_exists", "この受注にはすでに継続課金契約があります。")
	// ErrSchedule: the continuation item's frequency or charging day is not one DL Seller
	// offers.
	ErrSchedule = fault.Sentinel("continuation: invalid schedule", fault.Invalid,
		"invalid_schedule", "継続課金の課金間隔または課金日が正しくありません。")
)

// sealing contexts bind a sealed value to its order, so a value copied into another contract
// does not open there.
func tokenContext(orderID int64) string { return fmt.Sprintf("continuation:%d:token", orderID) }
func providerIDContext(orderID int64) string {
	return fmt.Sprintf("continuation:%d:first_provider_id", orderID)
}

// Line returns the order's continuation item, if any.
func Line(o order.Order) (order.Line, bool) {
	for _, l := range o.Cart() {
		if l.Continuation != nil {
			return l, true
		}
	}
	return order.Line{}, false
}

// CreateForOrder records the contract of an order whose cart holds a continuation item, in the
// checkout's transaction tx, once the first payment s succeeded. authToken is the provider's
// reusable token (TransactionResult.AuthToken) and providerID the first transaction; both are
// sealed. It does nothing for an order without a continuation item, and returns ErrExists
// when the order already has a contract.
//
// The order paid the first period: 初回課金日 is the order's day and 次回課金日 the charging
// day Frequency months later.
func CreateForOrder(ctx context.Context, tx *gorm.DB, box *secret.Box, o order.Order, s *settlement.Settlement, authToken, providerID string) error {
	l, ok := Line(o)
	if !ok {
		return nil
	}
	cont := l.Continuation
	if !slices.Contains(Frequencies, cont.Frequency) {
		return fmt.Errorf("order %d: frequency %d: %w", o.ID, cont.Frequency, ErrSchedule)
	}
	if cont.ChargingDay != ChargingDayOrderDay && (cont.ChargingDay < 1 || cont.ChargingDay > 28) {
		return fmt.Errorf("order %d: charging day %d: %w", o.ID, cont.ChargingDay, ErrSchedule)
	}
	sch := Schedule{Frequency: cont.Frequency, ChargingDay: cont.ChargingDay, Interval: max(cont.Interval, 0), Start: DateOf(o.Date, jst.Tokyo)}
	c := Contract{
		OrderID: o.ID, ShopID: o.ShopID, MemberID: o.MemberID, Division: "continue", SKU: l.SKU,
		OrderPrice: o.Total, Price: o.Total, Frequency: sch.Frequency, ChargingDay: sch.ChargingDay, Interval: sch.Interval,
		StartDate: sch.Start, NextCharging: sch.FirstCharging(), NextContracting: sch.FirstContracting(), Status: Active,
	}
	if s != nil {
		c.Acting, c.Module = s.SettlementCode, s.Module
	}
	if authToken != "" {
		c.Token = box.SealString(authToken, tokenContext(o.ID))
	}
	if providerID != "" {
		c.FirstProviderID = box.SealString(providerID, providerIDContext(o.ID))
	}
	if err := tx.WithContext(ctx).Create(&c).Error; err != nil {
		if store.IsDuplicate(err) {
			return fmt.Errorf("order %d: %w", o.ID, ErrExists)
		}
		return fmt.Errorf("create contract for order %d: %w", o.ID, err)
	}
	return nil
}

// secrets opens a contract's token and first transaction id.
func (c Contract) secrets(box *secret.Box) (token, firstID string, err error) {
	if token, err = box.OpenString(c.Token, tokenContext(c.OrderID)); err != nil {
		return "", "", fmt.Errorf("contract %d token: %w", c.ID, err)
	}
	if firstID, err = box.OpenString(c.FirstProviderID, providerIDContext(c.OrderID)); err != nil {
		return "", "", fmt.Errorf("contract %d first transaction: %w", c.ID, err)
	}
	return token, firstID, nil
}
