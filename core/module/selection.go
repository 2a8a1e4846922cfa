package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/paymethod"
)

// Welcart's messages for the module selection screen (usc_e_shop::admin_settlement_page),
// shown to the admin verbatim.
const (
	MsgUpdated        = "更新しました。"
	msgUpdateFailed   = "※決済モジュールの更新に失敗しました"
	msgCannotUnselect = "※%sを未選択にすることはできません。支払方法を「削除」もしくは「停止」してください。"
	msgExclusive      = "※併用できない決済が有効化されています"
)

// Codes of a SelectionError, stable for programs.
const (
	CodeUnknownModule = "unknown_module" // a slug not in the catalog (or given twice)
	CodeInUse         = "module_in_use"  // unselecting a module an activated payment method uses
	CodeExclusive     = "exclusive"      // two modules that cannot be used together
)

// SelectionError is UpdateSelection's refusal: Message is Welcart's Japanese message for the
// admin, Code says which rule, Slug which module. It matches ErrSelection.
type SelectionError struct {
	Code    string
	Message string
	Slug    string
}

func (e *SelectionError) Error() string { return e.Message }

func (e *SelectionError) Unwrap() error { return ErrSelection }

// Fault implements fault.Describer: a module an activated payment method uses is a conflict
// with those methods; the other rules refuse the selection asked for.
func (e *SelectionError) Fault() fault.Detail {
	k := fault.Invalid
	if e.Code == CodeInUse {
		k = fault.Conflict
	}
	return fault.Detail{Kind: k, Code: e.Code, Message: e.Message, Field: "selected"}
}

// UpdateSelection makes slugs, in this order, the modules in use (利用中のクレジット決済モジュール),
// following Welcart's rules: every slug must be in the catalog; a module still used by an
// activated payment method cannot be unselected; modules that exclude each other cannot be
// selected together. A refusal is a *SelectionError and changes nothing.
//
// On success newly selected modules are launched (one that cannot start shows as failed;
// the selection stands) and unselected ones are stopped, their payment methods deactivated.
func (h *Host) UpdateSelection(ctx context.Context, slugs []string, actor string) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	var added, removed []string
	err := h.store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []row
		if err := h.forUpdate(tx).Order("slug").Find(&rows).Error; err != nil {
			return fmt.Errorf("load modules: %w", err)
		}
		byslug := map[string]Module{}
		for _, r := range rows {
			byslug[r.Slug] = r.module()
		}
		pos := map[string]int{}
		for i, s := range slugs {
			if _, ok := byslug[s]; !ok {
				return &SelectionError{Code: CodeUnknownModule, Message: msgUpdateFailed, Slug: s}
			}
			if _, dup := pos[s]; dup {
				return &SelectionError{Code: CodeUnknownModule, Message: msgUpdateFailed, Slug: s}
			}
			pos[s] = i + 1
		}
		for i, a := range slugs {
			for _, b := range slugs[i+1:] {
				if byslug[a].Exclusive(byslug[b]) {
					return &SelectionError{Code: CodeExclusive, Message: msgExclusive, Slug: b}
				}
			}
		}
		for _, r := range rows {
			if _, keep := pos[r.Slug]; !r.Selected || keep {
				continue
			}
			n, err := paymethod.CountActive(ctx, tx, byslug[r.Slug].SettlementCodes...)
			if err != nil {
				return err
			}
			if n > 0 {
				return &SelectionError{Code: CodeInUse, Message: fmt.Sprintf(msgCannotUnselect, r.DisplayName), Slug: r.Slug}
			}
		}
		now := tx.NowFunc()
		for _, r := range rows {
			sort, sel := pos[r.Slug]
			up := map[string]any{"selected": sel, "sort": sort, "updated_at": now}
			switch {
			case sel && !r.Selected:
				added = append(added, r.Slug)
				up["state"], up["last_error"] = string(Starting), ""
			case !sel && r.Selected:
				removed = append(removed, r.Slug)
				up["state"], up["last_error"] = string(Stopped), ""
				// Welcart deactivates a module's payment methods when it goes; none is active
				// here (checked above) unless one was activated since, under our lock.
				if err := paymethod.DeactivateCodes(ctx, tx, byslug[r.Slug].SettlementCodes...); err != nil {
					return fmt.Errorf("unselect %s: %w", r.Slug, err)
				}
			case r.Sort == sort && r.Selected == sel:
				continue
			}
			if err := tx.Model(&row{}).Where("slug = ?", r.Slug).Updates(up).Error; err != nil {
				return fmt.Errorf("update module %s: %w", r.Slug, err)
			}
		}
		return audit.Record(ctx, tx, actor, "module.selection", "", map[string]any{"selected": slugs, "added": added, "removed": removed})
	})
	if err != nil {
		var se *SelectionError
		if errors.As(err, &se) {
			return se
		}
		return fmt.Errorf("update module selection: %w", err)
	}
	for _, slug := range removed {
		h.mu.Lock()
		s := h.slots[slug]
		delete(h.slots, slug)
		h.mu.Unlock()
		if s != nil {
			h.stopSlot(s)
		}
		h.log.Info("module unselected", "module", slug, "actor", actor)
	}
	for _, slug := range added {
		if h.slot(slug) == nil {
			h.open(ctx, slug)
		}
		h.log.Info("module selected", "module", slug, "actor", actor)
	}
	return nil
}

// SettlementCodes returns the settlement codes of the modules in use, in selection order:
// the only codes a payment method may use.
func (h *Host) SettlementCodes(ctx context.Context) ([]string, error) {
	var rows []row
	if err := h.store.DB.WithContext(ctx).Where("selected = ?", true).Order("sort, slug").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("settlement codes: %w", err)
	}
	var codes []string
	for _, r := range rows {
		for _, c := range r.module().SettlementCodes {
			if !slices.Contains(codes, c) {
				codes = append(codes, c)
			}
		}
	}
	return codes, nil
}

// ModuleFor returns the selected module serving a settlement code.
func (h *Host) ModuleFor(ctx context.Context, code string) (Module, error) {
	mods, err := h.List(ctx)
	if err != nil {
		return Module{}, err
	}
	for _, m := range mods {
		if m.Selected && slices.Contains(m.SettlementCodes, code) {
			return m, nil
		}
	}
	return Module{}, fmt.Errorf("settlement code %q: %w", code, ErrNotSelected)
}

// List returns every catalog entry (利用できるモジュール): the selected ones first in selection
// order, then the others by slug, with the state this host sees and how many activated
// payment methods use each.
func (h *Host) List(ctx context.Context) ([]Module, error) {
	var rows []row
	db := h.store.DB.WithContext(ctx)
	if err := db.Order("selected DESC, sort, slug").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list modules: %w", err)
	}
	inUse, err := paymethod.ActiveByCode(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("list modules: %w", err)
	}
	out := make([]Module, 0, len(rows))
	for _, r := range rows {
		m := r.module()
		if s := h.slot(r.Slug); s != nil {
			m.State, m.LastError = s.status()
		}
		for _, c := range m.SettlementCodes {
			m.InUse += inUse[c]
		}
		out = append(out, m)
	}
	return out, nil
}

// marshalCodes is the JSON stored in modules.settlement_codes.
func marshalCodes(codes []string) string {
	if codes == nil {
		codes = []string{}
	}
	b, _ := json.Marshal(codes)
	return string(b)
}

// CodeModules maps each settlement code of the modules in use to its module's slug: the codes
// a payment method may use (paymethod.Codes).
func (h *Host) CodeModules(ctx context.Context) (map[string]string, error) {
	mods, err := h.List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range mods {
		if !m.Selected {
			continue
		}
		for _, c := range m.SettlementCodes {
			out[c] = m.Slug
		}
	}
	return out, nil
}
