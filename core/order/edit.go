package order

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
)

// Notices for edits the provider was not told about.
const (
	NoticeNotUpdated = "受注がキャンセル、または決済が取消済みのため、決済代行会社の取引は更新されていません。"
	NoticeNoTx       = "決済が確定していないため、決済代行会社の取引は更新されていません。"
	NoticeUnknown    = "取引修正の応答がありませんでした。決済代行会社の取引を確認中です。確認でき次第、受注に反映します。"
	NoticeNoModify   = "決済モジュールが取引修正に対応していないため、決済代行会社の取引は更新されていません。"
)

// EditResult is what an order edit did.
type EditResult struct {
	Order           Order
	ProviderUpdated bool
	Notice          string
	// Outcome is set when the provider did not process the 取引修正 (declined or unknown);
	// the order was not changed then. An unknown one is applied when recovery proves it.
	Outcome *settlement.Result
}

// Update is 受注編集, whoever asks for it (the shop API, the console, the Welcart façade).
// When the amount or the buyer changed and the settlement is 仮売上 or 売上計上, it sends a
// 取引修正 and the edited order is saved in the transaction that records the provider's
// answer (by the Follow observer), so the order and its settlement never disagree and a
// retry never sends a second replacement. An edit of an order whose settlement is held by an
// operation in flight, or whose last call has no known answer, is refused (409). When the
// order is キャンセル or the settlement 取消済み, or when the settlement's payment module does not
// offer 取引修正 (plugins.CanModify), the edit is saved locally and the notice says the provider
// was not updated. Whatever keeps figures derived from the order (OnSaved) follows in the
// transaction that saves it.
func Update(ctx context.Context, db *gorm.DB, sv *settlement.Service, o *Order, e Edit, actor string) (EditResult, error) {
	n, changed, err := e.Apply(*o)
	if err != nil {
		return EditResult{}, err
	}
	out := EditResult{Order: n}
	s, err := sv.ForOrder(ctx, o.ID)
	if err != nil && !errors.Is(err, settlement.ErrNotFound) {
		return EditResult{}, err
	}
	if changed && s != nil {
		now := sv.Clock.Now()
		if s.Claimed(now) || s.Orphaned(now) || s.Status == settlement.Unknown {
			return EditResult{}, &settlement.OperationError{Op: settlement.OpModify, From: s.Status, Busy: true}
		}
		switch {
		case o.Cancelled() || n.Cancelled() || s.Status == settlement.Cancelled:
			out.Notice = NoticeNotUpdated
		case s.Status == settlement.Authorized || s.Status == settlement.Captured:
			row, err := json.Marshal(n)
			if err != nil {
				return EditResult{}, fmt.Errorf("edit order %d: %w", o.ID, err)
			}
			r, err := sv.Modify(ctx, 0, s.ID, n.Plugin(""), actor, row)
			if errors.Is(err, settlement.ErrUnsupported) {
				out.Notice = NoticeNoModify
				break // saved below, the provider untold
			}
			if err != nil {
				return EditResult{}, err
			}
			switch r.Outcome {
			case plugins.Processed:
				out.ProviderUpdated = true
				return out, nil // saved by Follow with the answer
			case plugins.Undefined:
				out.Outcome, out.Order, out.Notice = &r, *o, NoticeUnknown
				return out, nil
			default:
				out.Outcome, out.Order = &r, *o
				return out, nil
			}
		default:
			out.Notice = NoticeNoTx
		}
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := Save(ctx, tx, &out.Order); err != nil {
			return err
		}
		return runSaved(ctx, tx, o, &out.Order, actor)
	})
	if err != nil {
		return EditResult{}, err
	}
	return out, nil
}

// Saved is told of an edited order in the transaction that saves it, whichever way it is
// saved: by Update when the provider need not be told, or by Follow once the 取引修正 is
// proven (at once, or by recovery after a lost answer). before is the order as it was stored;
// actor is who asked for the edit. An error undoes the save.
type Saved func(ctx context.Context, tx *gorm.DB, before, after *Order, actor string) error

var saved struct {
	mu    sync.RWMutex
	names []string
	fs    []Saved
}

// OnSaved adds f, under name, to what every saved edit runs. Packages that keep figures
// derived from an order (continuation: the contract's 決済金額) cannot be imported by order;
// the daemon's wiring registers them. A name registered again keeps its first f, so that a
// process starting several daemons (tests do) runs each once.
func OnSaved(name string, f Saved) {
	saved.mu.Lock()
	defer saved.mu.Unlock()
	if slices.Contains(saved.names, name) {
		return
	}
	saved.names = append(saved.names, name)
	saved.fs = append(saved.fs, f)
}

func runSaved(ctx context.Context, tx *gorm.DB, before, after *Order, actor string) error {
	saved.mu.RLock()
	fs := saved.fs
	saved.mu.RUnlock()
	for _, f := range fs {
		if err := f(ctx, tx, before, after, actor); err != nil {
			return fmt.Errorf("order %d edit: %w", after.ID, err)
		}
	}
	return nil
}

// Follow saves an edited order in the transaction that proves its 取引修正: the answer itself,
// or recovery that found the replacement after a lost answer. A 取引修正 proven not to have
// happened leaves the order as it was.
func Follow() settlement.Observer {
	return settlement.ObserverFunc(func(ctx context.Context, tx *gorm.DB, c settlement.Change) error {
		a := c.Attempt
		if a == nil || a.Kind != settlement.OpModify || c.Settlement.Attempt != a.AttemptNo ||
			(c.To != settlement.Authorized && c.To != settlement.Captured) {
			return nil
		}
		edit := a.ModifyEdit()
		if len(edit) == 0 {
			return nil
		}
		var n Order
		if err := json.Unmarshal(edit, &n); err != nil {
			return fmt.Errorf("order edit of attempt %s: %w", a.AttemptNo, err)
		}
		if n.ID != c.Settlement.OrderID {
			return fmt.Errorf("order edit of attempt %s names order %d, not %d", a.AttemptNo, n.ID, c.Settlement.OrderID)
		}
		before, err := Get(ctx, tx, 0, n.ID)
		if err != nil {
			return err
		}
		if err := Save(ctx, tx, &n); err != nil {
			return err
		}
		return runSaved(ctx, tx, before, &n, a.Actor)
	})
}
