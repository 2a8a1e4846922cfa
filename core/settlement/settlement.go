package settlement

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Settlement is one order's (or one continuation charge's) money with one provider.
type Settlement struct {
	ID                   int64  `gorm:"primaryKey"`
	OrderID              int64  `gorm:"not null"`
	ShopID               int64  `gorm:"not null"`
	ContinuationChargeID *int64 // set for continuation charges
	Module               string // adapter slug, e.g. "atone"
	SettlementCode       string // Welcart settlement code, e.g. "acting_atone"
	// TransID is the link key (リンクキー): kessai's own id for this settlement, stable across
	// attempts; Welcart's trans_id order meta.
	TransID string
	// WcTransID is the provider's transaction id shown as 決済ID (atone: tr_…).
	WcTransID string
	// Attempt is the id of the current attempt sent to the provider (atone's shop_transaction_no).
	Attempt         string
	Amount          int64
	Status          Status
	Reason          string // provider's reason for the last NG, e.g. atone's 1 (金額超過)
	CapturedAt      *time.Time
	ResolveAfter    *time.Time // when the janitor may next look at a pending/unknown settlement
	ResolveAttempts int
	// Version is raised by every write, and every write is a compare-and-set on it, so a copy
	// read before another write can never overwrite it.
	Version int64
	// ClaimedBy and ClaimedUntil are an operation in flight: who holds the settlement and until
	// when. A claim whose lease ran out belongs to a process that died; the janitor takes it
	// over and references before deciding anything.
	ClaimedBy    string
	ClaimedUntil *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Claimed reports whether an operation holds s at now.
func (s *Settlement) Claimed(now time.Time) bool {
	return s.ClaimedUntil != nil && s.ClaimedUntil.After(now)
}

// Orphaned reports whether s carries a claim whose lease ran out: its holder died.
func (s *Settlement) Orphaned(now time.Time) bool {
	return s.ClaimedUntil != nil && !s.ClaimedUntil.After(now)
}

// TableName is the settlements table.
func (Settlement) TableName() string { return "settlements" }

// Operation is a 処理区分: what a history row records.
type Operation string

// Operations.
const (
	OpCheckout  Operation = "checkout"
	OpAuthorize Operation = "authorize"
	OpCapture   Operation = "capture"
	OpCancel    Operation = "cancel"
	// OpRefund is 一部取消: a 取消 of less than the settlement's amount, which keeps its status
	// and lowers its amount. It is an operation of its own rather than OpCancel with an
	// amount because everything that reads an operation means something else by it: the
	// state table and target (the status stays, where 取消 always ends 取消済み), recovery (the
	// provider's amount proves it, not its state), the history's 処理区分 and the capability
	// it needs (CanPartial). A partial 売上計上 is OpCapture: it ends 売上計上 as every
	// 売上計上 does, and only its amount differs.
	OpRefund    Operation = "refund"
	OpModify    Operation = "modify"
	OpReference Operation = "reference"
	OpCharge    Operation = "charge"
	OpAbandon   Operation = "abandon"
	OpWebhook   Operation = "webhook"
	OpConfirm   Operation = "confirm"
	OpResolve   Operation = "resolve"
	// OpVoid cancels a provider transaction that does not belong to the settlement's order
	// (a widget that paid a stale attempt), so that no money is left authorized.
	OpVoid Operation = "void"
	// OpReconcile corrects a settlement to the provider's view found by reconciliation.
	OpReconcile Operation = "reconcile"
)

var opLabels = map[Operation]string{
	OpCheckout:  "決済開始",
	OpAuthorize: "与信",
	OpCapture:   "売上計上",
	OpCancel:    "取消",
	OpRefund:    "一部取消",
	OpModify:    "取引修正",
	OpReference: "取引参照",
	OpCharge:    "継続課金",
	OpAbandon:   "かご落ち",
	OpWebhook:   "通知",
	OpConfirm:   "与信",
	OpResolve:   "状態確認",
	OpVoid:      "不一致取引の取消",
	OpReconcile: "照合による修正",
}

// Label is the 処理区分 shown in the history table.
func (o Operation) Label() string {
	if l, ok := opLabels[o]; ok {
		return l
	}
	return string(o)
}

// History is one append-only row per provider call or status change.
type History struct {
	ID           int64 `gorm:"primaryKey"`
	SettlementID int64
	Operation    Operation
	Amount       int64
	ProviderID   string
	Outcome      string // plugins.Outcome name, or "" for local records
	StatusFrom   Status
	StatusTo     Status
	Code         string // provider error code, e.g. EATN0115
	Message      string
	Actor        string // "shop:3", "admin:alice", "janitor", "continuation"
	CreatedAt    time.Time
}

// TableName is the settlement_history table.
func (History) TableName() string { return "settlement_history" }

// Create inserts a new settlement with its first history row.
func Create(ctx context.Context, tx *gorm.DB, s *Settlement, h History) error {
	if !s.Status.Valid() {
		return fmt.Errorf("create settlement: invalid status %q", s.Status)
	}
	if err := tx.WithContext(ctx).Create(s).Error; err != nil {
		return fmt.Errorf("create settlement %s: %w", s.TransID, err)
	}
	h.SettlementID, h.StatusTo = s.ID, s.Status
	if h.Amount == 0 {
		h.Amount = s.Amount
	}
	if err := tx.WithContext(ctx).Create(&h).Error; err != nil {
		return fmt.Errorf("create settlement %s: history: %w", s.TransID, err)
	}
	return nil
}

// CreateMany is Create for many settlements at once, hs[i] the first history row of ss[i], in
// a few statements whatever their number: what a continuation run writes for the periods it
// claims in one go.
func CreateMany(ctx context.Context, tx *gorm.DB, ss []*Settlement, hs []History) error {
	if len(ss) != len(hs) {
		return fmt.Errorf("create settlements: %d settlements, %d history rows", len(ss), len(hs))
	}
	if len(ss) == 0 {
		return nil
	}
	ids := make([]string, len(ss))
	for i, s := range ss {
		if !s.Status.Valid() {
			return fmt.Errorf("create settlement %s: invalid status %q", s.TransID, s.Status)
		}
		ids[i] = s.TransID
	}
	tx = tx.WithContext(ctx)
	if err := tx.Create(ss).Error; err != nil {
		return fmt.Errorf("create %d settlements: %w", len(ss), err)
	}
	// The ids, by link key: what a multi-row insert reports of them depends on the server's
	// settings.
	var got []struct {
		ID      int64
		TransID string
	}
	if err := tx.Model(&Settlement{}).Select("id", "trans_id").Where("trans_id IN ?", ids).Scan(&got).Error; err != nil {
		return fmt.Errorf("create %d settlements: ids: %w", len(ss), err)
	}
	byTrans := make(map[string]int64, len(got))
	for _, g := range got {
		byTrans[g.TransID] = g.ID
	}
	for i, s := range ss {
		s.ID = byTrans[s.TransID]
		if s.ID == 0 {
			return fmt.Errorf("create settlement %s: not found after insert", s.TransID)
		}
		hs[i].SettlementID, hs[i].StatusTo = s.ID, s.Status
		if hs[i].Amount == 0 {
			hs[i].Amount = s.Amount
		}
	}
	if err := tx.Create(&hs).Error; err != nil {
		return fmt.Errorf("create %d settlements: history: %w", len(ss), err)
	}
	return nil
}

// Apply moves s to status to and appends h, in the caller's transaction tx, so that no status
// change exists without its history row. The fields of s that an operation may change
// (WcTransID, Attempt, Amount, Reason, CapturedAt, ResolveAfter, ResolveAttempts) are written
// with it, and any claim on s is released. The update is a compare-and-set on the version s
// was read with: if anything wrote the row since, Apply returns ErrConflict and writes nothing.
func Apply(ctx context.Context, tx *gorm.DB, s *Settlement, to Status, h History) error {
	from := s.Status
	if err := Check(from, to); err != nil {
		return err
	}
	now := tx.NowFunc()
	res := tx.WithContext(ctx).Model(&Settlement{}).
		Where("id = ? AND version = ?", s.ID, s.Version).
		Updates(map[string]any{
			"status":           to,
			"wc_trans_id":      s.WcTransID,
			"attempt":          s.Attempt,
			"amount":           s.Amount,
			"reason":           s.Reason,
			"captured_at":      s.CapturedAt,
			"resolve_after":    s.ResolveAfter,
			"resolve_attempts": s.ResolveAttempts,
			"claimed_by":       "",
			"claimed_until":    nil,
			"version":          s.Version + 1,
			"updated_at":       now,
		})
	if res.Error != nil {
		return fmt.Errorf("settlement %s %s→%s: %w", s.TransID, from, to, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("settlement %s %s→%s: %w", s.TransID, from, to, ErrConflict)
	}
	h.SettlementID, h.StatusFrom, h.StatusTo = s.ID, from, to
	if err := tx.WithContext(ctx).Create(&h).Error; err != nil {
		return fmt.Errorf("settlement %s: history: %w", s.TransID, err)
	}
	s.Status, s.UpdatedAt, s.Version = to, now, s.Version+1
	s.ClaimedBy, s.ClaimedUntil = "", nil
	return nil
}

// Record appends a history row that changes no status (a 取引参照, a refused call).
func Record(ctx context.Context, tx *gorm.DB, s *Settlement, h History) error {
	h.SettlementID, h.StatusFrom, h.StatusTo = s.ID, s.Status, s.Status
	if err := tx.WithContext(ctx).Create(&h).Error; err != nil {
		return fmt.Errorf("settlement %s: history: %w", s.TransID, err)
	}
	return nil
}

// Load reads a settlement by id.
func Load(ctx context.Context, db *gorm.DB, id int64) (*Settlement, error) {
	var s Settlement
	if err := db.WithContext(ctx).First(&s, id).Error; err != nil {
		return nil, fmt.Errorf("settlement %d: %w", id, err)
	}
	return &s, nil
}

// Histories reads a settlement's history, oldest first.
func Histories(ctx context.Context, db *gorm.DB, settlementID int64) ([]History, error) {
	var hs []History
	err := db.WithContext(ctx).Where("settlement_id = ?", settlementID).Order("id").Find(&hs).Error
	if err != nil {
		return nil, fmt.Errorf("settlement %d history: %w", settlementID, err)
	}
	return hs, nil
}

// Discard removes, in tx, a pending settlement that was never sent (it has no attempt), with
// its history: what a continuation charge's runner does when it gives the period back. It is
// a compare-and-set on the version s was read with: ErrConflict means the settlement was sent
// or changed meanwhile, and nothing was removed.
func Discard(ctx context.Context, tx *gorm.DB, s *Settlement) error {
	tx = tx.WithContext(ctx)
	// Take the row first (a compare-and-set that also locks it), then remove what refers to
	// it, then the row.
	res := tx.Model(&Settlement{}).Where("id = ? AND version = ? AND status = ?", s.ID, s.Version, Pending).
		Where("NOT EXISTS (SELECT 1 FROM settlement_attempts a WHERE a.settlement_id = settlements.id)").
		Update("version", s.Version+1)
	if res.Error != nil {
		return fmt.Errorf("discard settlement %s: %w", s.TransID, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("discard settlement %s: %w", s.TransID, ErrConflict)
	}
	if err := tx.Where("settlement_id = ?", s.ID).Delete(&History{}).Error; err != nil {
		return fmt.Errorf("discard settlement %s: history: %w", s.TransID, err)
	}
	if err := tx.Delete(&Settlement{}, s.ID).Error; err != nil {
		return fmt.Errorf("discard settlement %s: %w", s.TransID, err)
	}
	return nil
}
