package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
)

// row is one line of the modules table.
type row struct {
	Slug            string `gorm:"primaryKey"`
	DisplayName     string
	Version         string
	BinaryPath      string
	SHA256          string `gorm:"column:sha256"`
	SettlementCodes string // JSON array
	Description     string // JSON of plugins.Description
	Selected        bool
	Sort            int
	State           string
	LastError       string
	Settings        string // JSON object of the non-secret settings
	Secrets         []byte // sealed JSON object of the secret settings
	Generation      int64  // bumped on every change that needs a new adapter process
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (row) TableName() string { return "modules" }

func (r row) description() plugins.Description {
	var d plugins.Description
	if r.Description != "" {
		// A row we wrote ourselves; a broken one shows as a module without settings form.
		_ = json.Unmarshal([]byte(r.Description), &d)
	}
	if d.Slug == "" {
		d.Slug = r.Slug
	}
	return d
}

func (r row) module() Module {
	m := Module{
		Slug:        r.Slug,
		DisplayName: r.DisplayName,
		Version:     r.Version,
		BinaryPath:  r.BinaryPath,
		SHA256:      r.SHA256,
		Selected:    r.Selected,
		Sort:        r.Sort,
		State:       State(r.State),
		LastError:   r.LastError,
		Generation:  r.Generation,
		UpdatedAt:   r.UpdatedAt,
		Description: r.description(),
	}
	if r.SettlementCodes != "" {
		_ = json.Unmarshal([]byte(r.SettlementCodes), &m.SettlementCodes)
	}
	if m.SettlementCodes == nil {
		m.SettlementCodes = []string{}
	}
	return m
}

func loadRow(ctx context.Context, db *gorm.DB, slug string) (row, error) {
	var r row
	err := db.WithContext(ctx).Where("slug = ?", slug).Take(&r).Error
	if errors.Is(err, store.ErrNotFound) {
		return row{}, fmt.Errorf("%w: %q", ErrUnknownModule, slug)
	}
	if err != nil {
		return row{}, fmt.Errorf("load module %s: %w", slug, err)
	}
	return r, nil
}

// setState records a module's state for the admin screen and for other replicas. It is best
// effort: the in-memory state is what the host acts on, and a database hiccup must not stop a
// restart.
func (h *Host) setState(slug string, st State, lastErr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.store.DB.WithContext(ctx).Model(&row{}).Where("slug = ?", slug).
		Updates(map[string]any{"state": string(st), "last_error": lastErr, "updated_at": h.store.DB.NowFunc()}).Error
	if err != nil {
		h.log.Warn("module state not saved", "module", slug, "state", st, "err", err)
	}
}

// forUpdate locks the rows tx reads on MySQL; SQLite's single writer already serialises the
// transaction.
func (h *Host) forUpdate(tx *gorm.DB) *gorm.DB { return h.store.ForUpdate(tx) }

// SavedSetting reads, in db, the plain value of module slug's setting key: the saved one, or
// else the default its description announces; "" when neither has one or no such module is
// registered. It takes the caller's db so that code inside a transaction asks without a
// second connection (SQLite has one). Secrets are not read: opening them takes the host's key.
func SavedSetting(ctx context.Context, db *gorm.DB, slug, key string) (string, error) {
	r, err := loadRow(ctx, db, slug)
	if errors.Is(err, ErrUnknownModule) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var saved plugins.Settings
	if r.Settings != "" {
		if err := json.Unmarshal([]byte(r.Settings), &saved); err != nil {
			return "", fmt.Errorf("module %s: settings: %w", slug, err)
		}
	}
	if v := saved[key]; v != "" {
		return v, nil
	}
	for _, f := range r.description().Settings {
		if f.Key == key {
			return f.Default, nil
		}
	}
	return "", nil
}
