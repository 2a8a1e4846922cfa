// Package outbox owns the messages kessai owes the outside world (shop webhooks now, mails
// later): a row written in the same database transaction as the change it describes, so a
// message exists if and only if that change committed, and a dispatcher that delivers each row
// at least once, retrying with backoff and logging every attempt.
//
// Several kessaid replicas may share one MySQL database: a dispatcher claims rows with
// FOR UPDATE SKIP LOCKED and a lease, so two replicas never deliver the same row at the same
// time, and a replica that dies mid-delivery leaves a lease that expires and is taken over.
// Delivery is at least once, not exactly once (a receiver that answered but whose answer was
// lost will see the message again), so every message carries an id receivers deduplicate on.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
)

// State is where a message is in its life.
type State string

// States of a message. Pending and Sending rows are due when next_attempt_at has passed:
// for a pending row that is the retry time, for a sending row the end of its lease.
const (
	Pending   State = "pending"
	Sending   State = "sending"
	Delivered State = "delivered"
	Dead      State = "dead"
)

// Message is one thing to deliver.
type Message struct {
	// ID is the row id, set by Enqueue and by the dispatcher.
	ID int64
	// Kind selects the Handler, e.g. "shop_webhook".
	Kind string
	// ShopID is the shop the message concerns, zero when none.
	ShopID int64
	// EventID identifies the message: unique over the whole outbox, so a producer that runs
	// twice for the same change gets ErrDuplicate instead of sending twice.
	EventID string
	// Target says where it goes within its kind (a webhook endpoint id, a mail address), so
	// the delivery log can be listed per destination.
	Target string
	// Payload is delivered as is; handlers must not re-encode it where bytes are signed.
	Payload []byte
	// Attempt is the number of this delivery attempt, 1 for the first; set by the dispatcher.
	Attempt int
}

// Errors callers branch on.
var (
	// ErrDuplicate: a message with this EventID is already in the outbox.
	ErrDuplicate = errors.New("outbox: a message with this event id already exists")
	// ErrInvalid: the message lacks a kind or an event id.
	ErrInvalid = errors.New("outbox: message needs a kind and an event id")
	// ErrPermanent, wrapped in a Handler's error, makes the message dead at once: retrying
	// cannot help (the destination was deleted, the payload is unreadable).
	ErrPermanent = errors.New("outbox: permanent delivery failure")
)

// StatusError is a Handler's error when the receiver answered with a failure status (an HTTP
// status, an SMTP reply code); the delivery log records Code apart from the text.
type StatusError struct {
	Code int
	// Body is the start of the receiver's answer, for the delivery log.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("receiver answered %d", e.Code)
	}
	return fmt.Sprintf("receiver answered %d: %s", e.Code, e.Body)
}

// row is the outbox table.
type row struct {
	ID            int64 `gorm:"primaryKey"`
	EventID       string
	Kind          string
	ShopID        *int64
	Target        string
	Payload       string
	State         State
	Attempts      int
	NextAttemptAt time.Time
	LastError     *string
	CreatedAt     time.Time
	DeliveredAt   *time.Time
}

func (row) TableName() string { return "outbox" }

func (r row) message() Message {
	m := Message{ID: r.ID, Kind: r.Kind, EventID: r.EventID, Target: r.Target, Payload: []byte(r.Payload), Attempt: r.Attempts}
	if r.ShopID != nil {
		m.ShopID = *r.ShopID
	}
	return m
}

// Enqueue writes m into the outbox inside the caller's transaction tx: the message becomes
// visible to dispatchers only when tx commits, and vanishes with it on rollback. It returns
// the row id. The row is due at once by the store's clock.
func Enqueue(ctx context.Context, tx *gorm.DB, m Message) (int64, error) {
	if m.Kind == "" || m.EventID == "" {
		return 0, ErrInvalid
	}
	now := stamp(tx.NowFunc())
	r := row{EventID: m.EventID, Kind: m.Kind, Target: m.Target, Payload: string(m.Payload),
		State: Pending, NextAttemptAt: now, CreatedAt: now}
	if m.ShopID != 0 {
		r.ShopID = &m.ShopID
	}
	if err := tx.WithContext(ctx).Create(&r).Error; err != nil {
		if store.IsDuplicate(err) {
			return 0, fmt.Errorf("enqueue %s %s: %w", m.Kind, m.EventID, ErrDuplicate)
		}
		return 0, fmt.Errorf("enqueue %s %s: %w", m.Kind, m.EventID, err)
	}
	return r.ID, nil
}

// Status is a message's current state, for tests and the admin console.
type Status struct {
	State       State
	Attempts    int
	NextAttempt time.Time
	LastError   string
	DeliveredAt *time.Time
}

// Get returns the state of the message with the given event id, or store.ErrNotFound.
func Get(ctx context.Context, db *gorm.DB, eventID string) (Status, error) {
	var r row
	if err := db.WithContext(ctx).Where("event_id = ?", eventID).First(&r).Error; err != nil {
		return Status{}, fmt.Errorf("outbox %s: %w", eventID, err)
	}
	st := Status{State: r.State, Attempts: r.Attempts, NextAttempt: r.NextAttemptAt, DeliveredAt: r.DeliveredAt}
	if r.LastError != nil {
		st.LastError = *r.LastError
	}
	return st, nil
}

// stamp brings a time to what both databases keep (UTC, microseconds), so that a value
// written and read back compares equal, and SQLite's text timestamps sort as times.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
