package settlement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/plugins"
)

// AttemptState says whether an attempt's answer is known.
type AttemptState string

// Attempt states.
const (
	// AttemptOpen: written before the call; the answer is not recorded yet (in flight, or lost).
	AttemptOpen AttemptState = "open"
	// AttemptDone: the answer is recorded, or recovery proved what the call did.
	AttemptDone AttemptState = "done"
)

// Attempt is one provider call that may move money, written and committed before the call
// (write-ahead) and completed with the answer. Recovery after a lost answer starts from the
// attempt, never from "the last transaction id we knew": after a lost 取引修正 answer the
// replacement is the truth, not the replaced transaction.
type Attempt struct {
	ID           int64 `gorm:"primaryKey"`
	SettlementID int64
	Kind         Operation
	// AttemptNo is the merchant reference sent (atone's shop_transaction_no) by calls that
	// create a transaction: confirm, 取引修正, continuation charge.
	AttemptNo string
	// TargetID is the provider transaction the call acts on (capture, cancel, the one a 取引修正
	// replaces, a stray one voided).
	TargetID string
	Amount   int64
	// PriorStatus is the settlement's status when the call was made: where a refused call
	// leaves it.
	PriorStatus Status
	// Request is what was sent, as JSON: the order snapshot, or the widget's payload. A lost
	// widget result is confirmed again from it.
	Request string
	State   AttemptState
	Outcome string
	// ProviderID is the provider's transaction id the call produced or named, once known: from
	// the answer, from the provider's webhook, or from the widget payload.
	ProviderID string
	Code       string
	Actor      string
	CreatedAt  time.Time
	AnsweredAt *time.Time
}

// TableName is the settlement_attempts table.
func (Attempt) TableName() string { return "settlement_attempts" }

// confirmRequest is what a confirm attempt keeps: enough to confirm again after a lost answer.
type confirmRequest struct {
	Payload json.RawMessage `json:"payload"`
	Order   plugins.Order   `json:"order"`
}

// Attempts lists a settlement's attempts, oldest first.
func Attempts(ctx context.Context, db *gorm.DB, settlementID int64) ([]Attempt, error) {
	var as []Attempt
	if err := db.WithContext(ctx).Where("settlement_id = ?", settlementID).Order("id").Find(&as).Error; err != nil {
		return nil, fmt.Errorf("settlement %d attempts: %w", settlementID, err)
	}
	return as, nil
}

// openAttempt is the settlement's latest attempt whose answer is not known, or nil. Voids are
// resolved on their own and never decide the settlement's status.
func openAttempt(ctx context.Context, db *gorm.DB, settlementID int64) (*Attempt, error) {
	var a Attempt
	err := db.WithContext(ctx).Where("settlement_id = ? AND state = ? AND kind <> ?", settlementID, AttemptOpen, OpVoid).
		Order("id DESC").First(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("settlement %d: open attempt: %w", settlementID, err)
	}
	return &a, nil
}

// AttemptByNo finds the attempt that sent a merchant reference (shop_transaction_no), or
// ErrNotFound: how a provider's webhook for a transaction whose answer was lost finds its
// settlement.
func AttemptByNo(ctx context.Context, db *gorm.DB, no string) (*Attempt, error) {
	if no == "" {
		return nil, ErrNotFound
	}
	var a Attempt
	err := db.WithContext(ctx).Where("attempt_no = ?", no).Order("id DESC").First(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("attempt %s: %w", no, err)
	}
	return &a, nil
}

// NoteProviderID records on an open attempt the transaction id a provider's notification
// names. It is a hint: recovery references the id and believes it only when the provider holds
// it under the attempt's own merchant reference.
func NoteProviderID(ctx context.Context, db *gorm.DB, attemptID int64, providerID string) error {
	err := db.WithContext(ctx).Model(&Attempt{}).
		Where("id = ? AND state = ? AND provider_id = ''", attemptID, AttemptOpen).
		Update("provider_id", providerID).Error
	if err != nil {
		return fmt.Errorf("attempt %d: note provider id: %w", attemptID, err)
	}
	return nil
}

// nextAttemptNo is the merchant reference of a new attempt: one past the highest ever sent
// for the settlement, so that no attempt is reused even when an earlier one's answer was lost
// (atone refuses a reused shop_transaction_no, and a reused one would be indistinguishable).
func nextAttemptNo(ctx context.Context, db *gorm.DB, s *Settlement) (string, error) {
	var nos []string
	if err := db.WithContext(ctx).Model(&Attempt{}).Where("settlement_id = ? AND attempt_no <> ''", s.ID).Pluck("attempt_no", &nos).Error; err != nil {
		return "", fmt.Errorf("settlement %s: attempts: %w", s.TransID, err)
	}
	n := attemptSeq(s.Attempt)
	for _, no := range nos {
		n = max(n, attemptSeq(no))
	}
	return fmt.Sprintf("%s-%d", s.TransID, n+1), nil
}

// attemptSeq is N of a merchant reference TransID-N.
func attemptSeq(no string) int {
	if i := strings.LastIndexByte(no, '-'); i >= 0 {
		n, _ := strconv.Atoi(no[i+1:])
		return n
	}
	return 0
}
