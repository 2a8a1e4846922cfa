package outbox

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Outcome is what one delivery attempt led to.
type Outcome string

// Outcomes of an attempt.
const (
	OutcomeDelivered Outcome = "delivered"
	OutcomeRetry     Outcome = "retry" // failed; another attempt is scheduled
	OutcomeDead      Outcome = "dead"  // failed; no attempt will follow
)

// Attempt is one row of the delivery log: append-only, one per try, whoever made it.
type Attempt struct {
	ID         int64 `gorm:"primaryKey"`
	OutboxID   int64
	Attempt    int
	StartedAt  time.Time
	DurationMS int64 `gorm:"column:duration_ms"`
	// StatusCode is the receiver's answer when it gave one, zero for a transport failure
	// (refused, timeout) and for deliveries whose handler reports none.
	StatusCode int
	Error      *string
	Outcome    Outcome
}

// TableName is the outbox_attempts table.
func (Attempt) TableName() string { return "outbox_attempts" }

// Delivery is an attempt with the message it belongs to, as the delivery log shows it.
type Delivery struct {
	Attempt
	EventID string
	Kind    string
	Target  string
}

// Filter selects delivery log rows. Kind is required; Target and ShopID narrow it.
type Filter struct {
	Kind   string
	Target string
	ShopID int64
	// EventID narrows to one message.
	EventID string
	// Limit caps the rows returned, newest first; zero means 100.
	Limit int
}

// Deliveries lists the delivery log, newest attempt first.
func Deliveries(ctx context.Context, db *gorm.DB, f Filter) ([]Delivery, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := db.WithContext(ctx).Table("outbox_attempts AS a").
		Select("a.*, o.event_id, o.kind, o.target").
		Joins("JOIN outbox o ON o.id = a.outbox_id").
		Where("o.kind = ?", f.Kind)
	if f.Target != "" {
		q = q.Where("o.target = ?", f.Target)
	}
	if f.ShopID != 0 {
		q = q.Where("o.shop_id = ?", f.ShopID)
	}
	if f.EventID != "" {
		q = q.Where("o.event_id = ?", f.EventID)
	}
	var out []Delivery
	if err := q.Order("a.id DESC").Limit(f.Limit).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("delivery log %s %s: %w", f.Kind, f.Target, err)
	}
	return out, nil
}
