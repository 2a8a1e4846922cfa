package continuation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	kmail "github.com/kessai/kessai/core/mail"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/jst"
	"github.com/kessai/kessai/webhooks/hook"
)

// Observer is what a change of a charge's settlement does to its contract, on every path that
// records one: the run's own answer, 再決済, the janitor or the provider's notification
// proving an answer that was lost, an admin's 売上計上 or 取消. Register it with
// settlement.Service.Observe on the service the runner charges through.
//
// The charge row follows its settlement (a success sets settled_period, the key that allows
// one successful charge per period). The first final answer of a charge, when its row leaves
// pending or unknown, publishes continuation.charged or continuation.failed and queues the
// contractor's mail: once per charge, however many paths report it, because the row moves
// only once and the mail's outbox key is the charge's.
func (r *Runner) Observer() settlement.Observer {
	return settlement.ObserverFunc(r.settlementChanged)
}

func (r *Runner) settlementChanged(ctx context.Context, tx *gorm.DB, c settlement.Change) error {
	s := c.Settlement
	if s == nil || s.ContinuationChargeID == nil {
		return nil
	}
	tx = tx.WithContext(ctx)
	known := claimOf(ctx, *s.ContinuationChargeID)
	var ch Charge
	if known != nil {
		ch = known.ch
	} else if err := tx.First(&ch, *s.ContinuationChargeID).Error; err != nil {
		return fmt.Errorf("charge %d: %w", *s.ContinuationChargeID, err)
	}
	to := c.To
	if to == settlement.Pending {
		if c.Op != settlement.OpCharge {
			return nil
		}
		// The provider has not decided: for the run the charge has no answer yet, as if it
		// were lost; the provider's notification or the janitor will say.
		to = settlement.Unknown
	}
	if to == ch.Status {
		return nil
	}
	from := ch.Status
	moved, err := r.moveCharge(ctx, tx, &ch, s, to)
	if err == nil && !moved && known != nil {
		// The row moved since its claim: whatever moved it is read, and the answer applies
		// to the row as it is now.
		return r.settlementChanged(withoutClaim(ctx), tx, c)
	}
	if err != nil || !moved {
		return err
	}
	var result Outcome
	switch {
	case from != settlement.Pending && from != settlement.Unknown:
		// An admin's 売上計上 or 取消, or a correction by reference: the contractor and the
		// shop heard of this charge when it was answered.
		return nil
	case to == settlement.Authorized || to == settlement.Captured:
		result = OutcomeOK
	case to == settlement.Failed:
		result = OutcomeNG
	default:
		// Unknown tells nobody outside yet (no one knows whether money moved), but a person
		// can look the charge up at the provider by its merchant reference.
		var con *Contract
		if known != nil {
			con = &known.c
		}
		return r.logUnknown(ctx, tx, con, ch, s, c)
	}
	var con Contract
	if known != nil {
		con = known.next
	} else if err := tx.First(&con, ch.ContinuationID).Error; err != nil {
		return fmt.Errorf("charge %d: contract %d: %w", ch.ID, ch.ContinuationID, err)
	}
	typ := hook.ContinuationCharged
	if result == OutcomeNG {
		typ = hook.ContinuationFailed
	}
	reads := r.current()
	eps, err := reads.endpoints(ctx, tx, con.ShopID)
	if err != nil {
		return err
	}
	if _, err := hook.PublishTo(ctx, tx, eps, con.ShopID, typ, eventData(con, ch, s, c.Result)); err != nil {
		return err
	}
	if result == OutcomeNG && c.Result.Code == settlement.CodeNotCharged {
		// A person found that the provider never took the charge: nothing was charged and
		// nothing declined, so there is nothing to tell the contractor. The period may be
		// charged again (再決済).
		return nil
	}
	var o *order.Order
	if known != nil {
		o = &known.o
	}
	return r.mailContractor(ctx, tx, reads, con, o, ch, s, result, c.Result)
}

type claimKey struct{}

// withClaim carries to the Observer what the run's claim of it read: the charge row as the
// claim wrote it, the contract as the claim left it and the order, so that recording the
// charge's answer reads none of them again. The settlement's claim, held from the call to the
// answer's compare-and-set, keeps every other path off the charge meanwhile.
func withClaim(ctx context.Context, it *claimed) context.Context {
	return context.WithValue(ctx, claimKey{}, it)
}

func withoutClaim(ctx context.Context) context.Context {
	return context.WithValue(ctx, claimKey{}, (*claimed)(nil))
}

// claimOf is the claim ctx carries for charge id, or nil.
func claimOf(ctx context.Context, id int64) *claimed {
	it, _ := ctx.Value(claimKey{}).(*claimed)
	if it == nil || it.ch.ID != id {
		return nil
	}
	return it
}

// logUnknown writes the 決済エラーログ row of a charge that was sent and whose answer was
// lost (確認中), with the merchant reference (shop_transaction_no) to look it up by at the
// provider.
func (r *Runner) logUnknown(ctx context.Context, tx *gorm.DB, known *Contract, ch Charge, s *settlement.Settlement, c settlement.Change) error {
	var con Contract
	if known != nil {
		con = *known
	} else if err := tx.Select("id", "order_id").First(&con, ch.ContinuationID).Error; err != nil {
		return fmt.Errorf("charge %d: contract %d: %w", ch.ID, ch.ContinuationID, err)
	}
	attempt := s.Attempt
	if c.Attempt != nil && c.Attempt.AttemptNo != "" {
		attempt = c.Attempt.AttemptNo
	}
	data := map[string]any{
		"settlement_id": s.ID, "order_id": con.OrderID, "continuation_id": con.ID, "charge_id": ch.ID,
		"period": ch.Period.String(), "amount": ch.Amount, "attempt": attempt, "shop_transaction_no": attempt,
		"operation": settlement.OpCharge.Label(), "status": settlement.Unknown.Label(),
		"message": fmt.Sprintf(msgChargeUnknown, attempt),
	}
	if len(c.Result.Messages) > 0 {
		data["cause"] = strings.Join(c.Result.Messages, " / ")
	}
	oid := con.OrderID
	return errlog.Write(ctx, tx, s.TransID, s.Module, strings.ToUpper(s.Module)+" CONTINUATION UNKNOWN", data, &oid)
}

// moveCharge writes the charge row's new status in tx, from the status it was read with. A
// success sets settled_period; should the period already have a success, which the claims
// make impossible, money moved twice: the charge is kept without it and a person is told.
func (r *Runner) moveCharge(ctx context.Context, tx *gorm.DB, ch *Charge, s *settlement.Settlement, to settlement.Status) (bool, error) {
	upd := map[string]any{"status": to, "updated_at": r.opt.Clock.Now().UTC()}
	if (to == settlement.Authorized || to == settlement.Captured) && ch.SettledPeriod.IsZero() {
		upd["settled_period"] = ch.Period
	}
	update := func() *gorm.DB {
		return tx.Model(&Charge{}).Where("id = ? AND status = ?", ch.ID, ch.Status).Updates(upd)
	}
	res := update()
	if store.IsDuplicate(res.Error) {
		delete(upd, "settled_period")
		if res = update(); res.Error == nil && res.RowsAffected == 1 {
			var con Contract
			if err := tx.Select("id", "order_id").First(&con, ch.ContinuationID).Error; err != nil {
				return false, fmt.Errorf("charge %d: contract %d: %w", ch.ID, ch.ContinuationID, err)
			}
			oid := con.OrderID
			err := errlog.Write(ctx, tx, s.TransID, s.Module, strings.ToUpper(s.Module)+" CONTINUATION DUPLICATE", map[string]any{
				"continuation_id": con.ID, "period": ch.Period.String(), "settlement_id": s.ID, "provider_id": s.WcTransID,
				"message": "同じ課金期間に二つ目の課金が成立しました。決済代行会社の管理画面で確認し、取消してください。",
			}, &oid)
			if err != nil {
				return false, err
			}
		}
	}
	if res.Error != nil {
		return false, fmt.Errorf("charge %d: %w", ch.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return false, nil
	}
	ch.Status = to
	if p, ok := upd["settled_period"]; ok {
		ch.SettledPeriod = p.(Date)
	}
	return true, nil
}

// mailContractor queues the contractor's 自動継続課金処理のお知らせ for the charge, when the
// module sends it (自動継続課金完了メール) and the order has an address.
func (r *Runner) mailContractor(ctx context.Context, tx *gorm.DB, reads *runReads, con Contract, known *order.Order, ch Charge, s *settlement.Settlement, result Outcome, res plugins.TransactionResult) error {
	on, err := reads.mailSwitch(ctx, tx, con.Module)
	if err != nil || !on {
		return err
	}
	o := known
	if o == nil {
		if o, err = order.Get(ctx, tx, 0, con.OrderID); err != nil {
			return fmt.Errorf("charge %d: %w", ch.ID, err)
		}
	}
	if o.Email == "" {
		return nil
	}
	shopName, err := reads.shopName(ctx, tx, con.ShopID)
	if err != nil {
		return fmt.Errorf("charge %d: %w", ch.ID, err)
	}
	// Nothing was sent without a token: the mail says so, as Welcart's does.
	noToken := result == OutcomeNG && res.Outcome == plugins.NotAttempted && len(con.Token) == 0
	m := contractorMail(shopName, o.Email, contractorName(*o), mailCharge(con, *o, ch, s, result, res, noToken), jst.Tokyo)
	err = kmail.Enqueue(ctx, tx, fmt.Sprintf("continuation:charge:%d:contractor", ch.ID), con.ShopID, m)
	if err != nil && !errors.Is(err, outbox.ErrDuplicate) {
		return err
	}
	return nil
}

// mailSwitch reads 自動継続課金完了メール of module slug in tx. The observer runs inside the
// settlement's transaction: asking the module host, which reads with a connection of its
// own, could wait for ever on SQLite's single connection, so the module's saved setting is
// read in tx. A module without the switch mails, as Welcart does by default.
func mailSwitch(ctx context.Context, tx *gorm.DB, slug string) (bool, error) {
	val, err := module.SavedSetting(ctx, tx, slug, settingMail)
	if err != nil {
		return false, err
	}
	return val != mailOff, nil
}

// runReads keeps, while runs are in progress, what recording each of their charges would
// read again and that a run does not expect to change: each module's 自動継続課金完了メール
// switch, each shop's name and webhook endpoints. A change made while a run is in progress
// applies from the next run. A nil *runReads (no run in progress: the janitor or a provider's
// notification records a charge) reads every time.
type runReads struct {
	mu       sync.Mutex
	switches map[string]bool
	names    map[int64]string
	hooks    map[int64][]hook.Endpoint
}

func newRunReads() *runReads {
	return &runReads{switches: map[string]bool{}, names: map[int64]string{}, hooks: map[int64][]hook.Endpoint{}}
}

// remembered returns m[k], read with read (in the caller's transaction) the first time.
func remembered[K comparable, V any](mu *sync.Mutex, m map[K]V, k K, read func() (V, error)) (V, error) {
	mu.Lock()
	v, ok := m[k]
	mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	mu.Lock()
	m[k] = v
	mu.Unlock()
	return v, nil
}

func (rr *runReads) mailSwitch(ctx context.Context, tx *gorm.DB, slug string) (bool, error) {
	read := func() (bool, error) { return mailSwitch(ctx, tx, slug) }
	if rr == nil {
		return read()
	}
	return remembered(&rr.mu, rr.switches, slug, read)
}

func (rr *runReads) shopName(ctx context.Context, tx *gorm.DB, shopID int64) (string, error) {
	read := func() (string, error) {
		sh, err := shop.New(tx).Get(ctx, shopID)
		if err != nil {
			return "", fmt.Errorf("shop %d: %w", shopID, err)
		}
		return sh.Name, nil
	}
	if rr == nil {
		return read()
	}
	return remembered(&rr.mu, rr.names, shopID, read)
}

func (rr *runReads) endpoints(ctx context.Context, tx *gorm.DB, shopID int64) ([]hook.Endpoint, error) {
	read := func() ([]hook.Endpoint, error) { return hook.Active(ctx, tx, shopID) }
	if rr == nil {
		return read()
	}
	return remembered(&rr.mu, rr.hooks, shopID, read)
}
