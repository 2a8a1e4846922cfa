// Package audit keeps the audit log: one row per state-changing admin action, saying who did
// what to which target. Rows are written in the caller's transaction, so that a change and its
// audit row are committed together or not at all, and are never updated afterwards.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// System is the actor recorded when no person is behind an action (jobs, the daemon itself).
const System = "system"

// Entry is one audit row. Detail is JSON; it never holds a secret value, only keys or ids.
type Entry struct {
	ID        uint64    `gorm:"primaryKey" json:"id"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Detail    string    `json:"detail"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName is the audit_log table.
func (Entry) TableName() string { return "audit_log" }

// Record writes one audit row through tx, which is the transaction of the change it records
// (or the plain DB when the change was not transactional). detail is marshalled to JSON; nil
// is stored as "null". An empty actor is recorded as System.
func Record(ctx context.Context, tx *gorm.DB, actor, action, target string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s %s: detail: %w", action, target, err)
	}
	if actor == "" {
		actor = System
	}
	e := Entry{Actor: actor, Action: action, Target: target, Detail: string(b), CreatedAt: tx.NowFunc()}
	if err := tx.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

// Page is one page of the log, newest first.
type Page struct {
	Entries []Entry
	Total   int64 // rows in the whole log
	Page    int   // 1-based, clamped to the pages that exist
	PerPage int
}

// Pages is how many pages the log has (at least 1, so an empty log still has a page to show).
func (p Page) Pages() int {
	if p.PerPage <= 0 || p.Total == 0 {
		return 1
	}
	return int((p.Total + int64(p.PerPage) - 1) / int64(p.PerPage))
}

// List returns page (1-based) of the log, newest first; perPage <= 0 means 50. A page past the
// end is clamped to the last one.
func List(ctx context.Context, db *gorm.DB, page, perPage int) (Page, error) {
	if perPage <= 0 {
		perPage = 50
	}
	p := Page{PerPage: perPage}
	db = db.WithContext(ctx)
	if err := db.Model(&Entry{}).Count(&p.Total).Error; err != nil {
		return Page{}, fmt.Errorf("count audit log: %w", err)
	}
	p.Page = min(max(page, 1), p.Pages())
	// id, not created_at: two rows written in the same microsecond still come out in order.
	err := db.Order("id DESC").Limit(perPage).Offset((p.Page - 1) * perPage).Find(&p.Entries).Error
	if err != nil {
		return Page{}, fmt.Errorf("list audit log: %w", err)
	}
	return p, nil
}

// About returns the newest entries, up to limit, about target whose action is one of actions,
// newest first: a record's own history, as the page that shows the record tells it.
func About(ctx context.Context, db *gorm.DB, target string, actions []string, limit int) ([]Entry, error) {
	var es []Entry
	err := db.WithContext(ctx).Where("target = ? AND action IN ?", target, actions).Order("id DESC").Limit(limit).Find(&es).Error
	if err != nil {
		return nil, fmt.Errorf("audit log of %s: %w", target, err)
	}
	return es, nil
}
