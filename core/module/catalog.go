package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/store"
)

// slugPattern keeps slugs usable in URLs, secret contexts and log lines.
var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Register adds an adapter binary to the catalog, or records a new version of a registered
// one: it launches the binary once, asks it to Describe itself and stores its SHA-256 with
// the description. From then on the binary is launched only if it still has that hash. path
// is a file in the plugin directory (a bare name is looked up there).
//
// Registering a new binary of a selected module replaces its running adapter, draining the
// old one; a daemon in another process notices on its next health ping.
func (h *Host) Register(ctx context.Context, path, actor string) (Module, error) {
	h.ops.Lock()
	defer h.ops.Unlock()
	abs, err := resolveBinary(h.opt.PluginDir, path)
	if err != nil {
		return Module{}, err
	}
	sum, err := fileSHA256(abs)
	if err != nil {
		return Module{}, fmt.Errorf("register %s: %w", abs, err)
	}
	// Launched with the hash just computed, so what is described is what is registered.
	inst, err := h.launch(ctx, "", abs, sum)
	if err != nil {
		return Module{}, fmt.Errorf("register %s: %w", abs, err)
	}
	inst.client.Kill()
	d := inst.desc
	if !slugPattern.MatchString(d.Slug) {
		return Module{}, fmt.Errorf("register %s: adapter slug %q is not a valid slug (%s)", abs, d.Slug, slugPattern)
	}
	descJSON, err := json.Marshal(d)
	if err != nil {
		return Module{}, err
	}
	now := h.store.DB.NowFunc()
	var selected bool
	err = h.store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var old row
		err := h.forUpdate(tx).Where("slug = ?", d.Slug).Take(&old).Error
		fields := map[string]any{
			"display_name":     d.DisplayName,
			"version":          d.Version,
			"binary_path":      abs,
			"sha256":           sum,
			"settlement_codes": marshalCodes(d.SettlementCodes),
			"description":      string(descJSON),
			"updated_at":       now,
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = tx.Create(&row{
				Slug: d.Slug, DisplayName: d.DisplayName, Version: d.Version, BinaryPath: abs, SHA256: sum,
				SettlementCodes: marshalCodes(d.SettlementCodes), Description: string(descJSON),
				State: string(Registered), Settings: "{}", Generation: 1, CreatedAt: now, UpdatedAt: now,
			}).Error
		case err != nil:
			return err
		default:
			selected = old.Selected
			fields["generation"] = gorm.Expr("generation + 1")
			err = tx.Model(&row{}).Where("slug = ?", d.Slug).Updates(fields).Error
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "module.register", d.Slug, map[string]any{"version": d.Version, "sha256": sum, "path": abs})
	})
	if err != nil {
		return Module{}, fmt.Errorf("register %s: %w", d.Slug, err)
	}
	if s := h.slot(d.Slug); s != nil && selected {
		if err := h.replace(ctx, s, "new binary registered"); err != nil {
			return Module{}, err
		}
	}
	h.log.Info("module registered", "module", d.Slug, "version", d.Version, "sha256", short(sum), "actor", actor)
	r, err := loadRow(ctx, h.store.DB, d.Slug)
	if err != nil {
		return Module{}, err
	}
	m := r.module()
	if s := h.slot(d.Slug); s != nil {
		m.State, m.LastError = s.status()
	}
	return m, nil
}
