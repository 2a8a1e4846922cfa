package module

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/plugins"
)

// SettingValue is one field of a module's settings form as the admin API shows it. A secret
// is never returned: Value holds its mask and Set says whether one is stored.
type SettingValue struct {
	Key      string            `json:"key"`
	Label    string            `json:"label"`
	Kind     plugins.FieldKind `json:"kind"`
	Options  []plugins.Option  `json:"options,omitempty"`
	Default  string            `json:"default,omitempty"`
	Required bool              `json:"required"`
	Secret   bool              `json:"secret"`
	Help     string            `json:"help,omitempty"`
	Value    string            `json:"value"`
	Set      bool              `json:"set"`
}

// Message shown for a settings key the adapter does not know.
const msgUnknownSetting = "この設定項目はありません。"

func secretsContext(slug string) string { return "module:" + slug + ":secrets" }

func isSecret(f plugins.SettingField) bool { return f.Secret || f.Kind == plugins.FieldSecret }

// settingsOf opens a row's settings: the plain JSON and the sealed secrets, merged.
func (h *Host) settingsOf(r row) (plugins.Settings, error) {
	s := plugins.Settings{}
	if r.Settings != "" {
		if err := json.Unmarshal([]byte(r.Settings), &s); err != nil {
			return nil, fmt.Errorf("module %s: settings: %w", r.Slug, err)
		}
	}
	if len(r.Secrets) == 0 {
		return s, nil
	}
	if h.box == nil {
		return nil, fmt.Errorf("module %s: secrets stored but no master key given", r.Slug)
	}
	b, err := h.box.Open(r.Secrets, secretsContext(r.Slug))
	if err != nil {
		return nil, fmt.Errorf("module %s: open secrets: %w", r.Slug, err)
	}
	var sec map[string]string
	if err := json.Unmarshal(b, &sec); err != nil {
		return nil, fmt.Errorf("module %s: secrets: %w", r.Slug, err)
	}
	maps.Copy(s, sec)
	return s, nil
}

// Settings returns a module's settings form with its saved values, secrets masked.
func (h *Host) Settings(ctx context.Context, slug string) ([]SettingValue, error) {
	r, err := loadRow(ctx, h.store.DB, slug)
	if err != nil {
		return nil, err
	}
	saved, err := h.settingsOf(r)
	if err != nil {
		return nil, err
	}
	return view(r.description(), saved), nil
}

func view(d plugins.Description, saved plugins.Settings) []SettingValue {
	out := make([]SettingValue, 0, len(d.Settings))
	for _, f := range d.Settings {
		v, set := saved[f.Key]
		sv := SettingValue{
			Key: f.Key, Label: f.Label, Kind: f.Kind, Options: f.Options, Default: f.Default,
			Required: f.Required, Secret: isSecret(f), Help: f.Help, Value: v, Set: set && v != "",
		}
		if sv.Secret {
			sv.Value = secret.Mask(v)
		}
		out = append(out, sv)
	}
	return out
}

// UpdateSettings validates a module's settings with its adapter and saves them: secrets sealed,
// the rest as JSON. An empty or absent secret keeps the stored one, so the admin form never
// needs to show it; an absent ordinary key keeps its value too. When the adapter finds
// problems, nothing is saved and they are returned (err is nil). A selected module's adapter
// is then replaced by one configured with the new settings, draining the old one.
func (h *Host) UpdateSettings(ctx context.Context, slug string, in plugins.Settings, actor string) ([]plugins.FieldError, error) {
	h.ops.Lock()
	defer h.ops.Unlock()
	r, err := loadRow(ctx, h.store.DB, slug)
	if err != nil {
		return nil, err
	}
	if h.box == nil {
		return nil, fmt.Errorf("update settings of %s: no master key", slug)
	}
	desc := r.description()
	fields := map[string]plugins.SettingField{}
	for _, f := range desc.Settings {
		fields[f.Key] = f
	}
	var problems []plugins.FieldError
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if _, ok := fields[k]; !ok {
			problems = append(problems, plugins.FieldError{Field: k, Code: "unknown", Message: msgUnknownSetting})
		}
	}
	if len(problems) > 0 {
		return problems, nil
	}
	merged, err := h.settingsOf(r)
	if err != nil {
		return nil, err
	}
	var changed []string
	for k, v := range in {
		if isSecret(fields[k]) && v == "" {
			continue
		}
		if merged[k] != v {
			changed = append(changed, k)
		}
		merged[k] = v
	}
	slices.Sort(changed)

	problems, err = h.validate(ctx, r, merged)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return problems, nil
	}

	plain, secrets := map[string]string{}, map[string]string{}
	for k, v := range merged {
		if f, ok := fields[k]; ok && isSecret(f) {
			secrets[k] = v
		} else {
			plain[k] = v
		}
	}
	pj, err := json.Marshal(plain)
	if err != nil {
		return nil, err
	}
	sj, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	sealed := h.box.Seal(sj, secretsContext(slug))
	err = h.store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&row{}).Where("slug = ? AND generation = ?", slug, r.Generation).Updates(map[string]any{
			"settings":   string(pj),
			"secrets":    sealed,
			"generation": gorm.Expr("generation + 1"),
			"updated_at": tx.NowFunc(),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		// Keys only: a value, even a non-secret one, has no place in the audit log.
		return audit.Record(ctx, tx, actor, "module.settings", slug, map[string]any{"changed": changed})
	})
	if err != nil {
		return nil, fmt.Errorf("save settings of %s: %w", slug, err)
	}
	if s := h.slot(slug); s != nil {
		if err := h.replace(ctx, s, "settings changed"); err != nil {
			// The settings are saved; the module's state and last error (shown beside it)
			// tell the admin that the adapter did not come back with them. Answering an error
			// here would only invite saving the same settings again.
			h.log.Warn("restart after settings change", "module", slug, "err", err)
		}
	}
	return nil, nil
}

// validate asks the module's adapter to check settings: the running one when the module is
// selected, otherwise a process launched for the question and killed after it.
func (h *Host) validate(ctx context.Context, r row, st plugins.Settings) ([]plugins.FieldError, error) {
	vctx, cancel := context.WithTimeout(ctx, h.opt.CallTimeout)
	defer cancel()
	if s := h.slot(r.Slug); s != nil {
		if inst, err := s.acquire(vctx, h.opt.WaitTimeout); err == nil {
			defer inst.calls.Done()
			errs, err := inst.adapter.ValidateSettings(vctx, st)
			if err != nil {
				return nil, fmt.Errorf("validate settings of %s: %w", r.Slug, err)
			}
			return errs, nil
		}
	}
	inst, err := h.launch(ctx, r.Slug, r.BinaryPath, r.SHA256)
	if err != nil {
		return nil, fmt.Errorf("validate settings of %s: %w", r.Slug, err)
	}
	defer inst.client.Kill()
	errs, err := inst.adapter.ValidateSettings(vctx, st)
	if err != nil {
		return nil, fmt.Errorf("validate settings of %s: %w", r.Slug, err)
	}
	return errs, nil
}
