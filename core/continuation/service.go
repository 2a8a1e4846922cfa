package continuation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/jst"
)

// Settlements is what continuation needs of the settlement service: the charges of the run
// and of 再決済, the recovery of a charge whose runner died before recording its answer, and
// a charge's 売上計上 and 取消 (the 決済情報 dialog of each history row).
type Settlements interface {
	Charge(ctx context.Context, s *settlement.Settlement, req plugins.ChargeRequest, actor string) (settlement.Result, error)
	Resolve(ctx context.Context, id int64, actor string) (settlement.Result, error)
	Conclude(ctx context.Context, shopID, id int64, providerID, reason, actor string) (settlement.Result, error)
	Capture(ctx context.Context, shopID, id int64, actor string) (settlement.Result, error)
	Cancel(ctx context.Context, shopID, id int64, actor string) (settlement.Result, error)
}

// Service is the contracts' API for the admin screens (継続課金会員リスト, 継続課金会員情報)
// and the shop API: listing, one contract with its charges, edits, 再決済, and the run's
// settings.
type Service struct {
	r   *Runner
	job *Job
}

// NewService returns the service over the runner's store and settlement service.
func NewService(r *Runner) *Service {
	return &Service{r: r}
}

// Runner is the service's runner (for the command line's catch-up run).
func (sv *Service) Runner() *Runner { return sv.r }

// ErrUnavailable: the settlement service was not given.
var ErrUnavailable = fault.Sentinel("continuation: settlement operations unavailable", fault.Unavailable,
	"payment_module_unavailable", "決済モジュールが利用できません。しばらくしてから再度お試しください。")

// ErrRefused wraps the business refusals of Update, Retry, Conclude and SaveSettings; the
// ValidationError beside it says why, and what kind of refusal it is.
var ErrRefused = errors.New("continuation: refused")

// refused is a refusal by the state of the contract or its charge, not by the request's input
// (再決済 of a stopped contract, 確定 of a charge that has its answer): a conflict, which the
// admin screens read as a ValidationError all the same.
func refused(v ValidationError) error {
	return fmt.Errorf("%w: %w", ErrRefused, v.WithKind(fault.Conflict))
}

// View is a contract as the list and the detail show it (継続課金会員リスト columns).
type View struct {
	ID              int64  `json:"id"`
	OrderID         int64  `json:"order_id"`
	OrderNumber     string `json:"order_number"` // 注文番号
	ShopID          int64  `json:"shop_id"`
	MemberID        int64  `json:"member_id"` // 会員No
	Email           string `json:"email"`
	Name1           string `json:"name1"` // 姓
	Name2           string `json:"name2"` // 名
	OrderTotal      int64  `json:"order_total"`
	Module          string `json:"module"` // 決済会社
	Acting          string `json:"acting"`
	PaymentName     string `json:"payment_name"`
	ApplicationDate string `json:"application_date"` // お申込み日 (Y-m-d H:i:s, jst.Tokyo)
	StartDate       Date   `json:"start_date"`       // 初回課金日
	NextContracting Date   `json:"next_contracting"` // 次回契約更新日
	NextCharging    Date   `json:"next_charging"`    // 次回課金日
	Status          Status `json:"status"`           // 契約
	StatusLabel     string `json:"status_label"`
	OrderPrice      int64  `json:"order_price"` // 受注時金額
	Price           int64  `json:"price"`       // 決済金額
	Frequency       int    `json:"frequency"`
	ChargingDay     int    `json:"chargingday"`
	Interval        int    `json:"interval"`
	// LastFailed is the 状態 column's 決済エラー badge: the latest charge is not OK.
	LastFailed bool `json:"last_failed"`
}

// ChargeView is one row of a contract's history (処理日時 / 決済ID / 決済金額 / 処理区分).
type ChargeView struct {
	ID           int64             `json:"id"`
	Period       Date              `json:"period"`
	Attempt      int               `json:"attempt"`
	Amount       int64             `json:"amount"`
	Status       settlement.Status `json:"status"` // the settlement's current status
	StatusLabel  string            `json:"status_label"`
	SettlementID int64             `json:"settlement_id,omitempty"`
	TransID      string            `json:"trans_id,omitempty"`    // 決済ID (link key)
	ProviderID   string            `json:"provider_id,omitempty"` // the provider's transaction id
	// ShopTransactionNo is the merchant reference the charge was sent with (atone's
	// shop_transaction_no): what to look a 確認中 charge up by in the provider's screens.
	ShopTransactionNo string    `json:"shop_transaction_no,omitempty"`
	At                time.Time `json:"at"`        // 処理日時
	CanRetry          bool      `json:"can_retry"` // 再決済 is offered
	// CanConclude: the charge was sent and its answer lost (確認中); a person may state what
	// the provider holds (Conclude).
	CanConclude bool `json:"can_conclude"`
}

// Detail is one contract with its charges, newest first (継続課金会員情報).
type Detail struct {
	View
	Charges []ChargeView `json:"charges"`
}

// Filter narrows List. Zero values do not filter.
type Filter struct {
	ShopID   int64
	Status   Status
	MemberID int64
	OrderID  int64
	// OrderNumber is the first order's number as shown: an order without one shows its id,
	// zero-padded (order.DecoID), and is found by that id.
	OrderNumber string
	// Email is part of the first order's Eメール.
	Email string
	// Failed lists only contracts whose latest charge is not OK (決済エラーのみ): a failure
	// already paid by 再決済 is not listed, as for the badge.
	Failed        bool
	Limit, Offset int
}

// List returns contracts, newest first, and how many match.
func (sv *Service) List(ctx context.Context, f Filter) ([]View, int64, error) {
	q := sv.r.st.DB.WithContext(ctx).Model(&Contract{})
	if f.ShopID != 0 {
		q = q.Where("shop_id = ?", f.ShopID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.MemberID != 0 {
		q = q.Where("member_id = ?", f.MemberID)
	}
	if f.OrderID != 0 {
		q = q.Where("order_id = ?", f.OrderID)
	}
	// The first order's number and mail are the order's: core/order hands over the ids of the
	// orders that match, never copied.
	if f.OrderNumber != "" {
		q = q.Where("order_id IN (?)", order.Numbered(sv.r.st.DB, f.OrderNumber))
	}
	if f.Email != "" {
		q = q.Where("order_id IN (?)", order.Mailed(sv.r.st.DB, f.Email))
	}
	if f.Failed {
		q = q.Where("(SELECT ch.status FROM continuation_charges ch WHERE ch.continuation_id = continuations.id ORDER BY ch.id DESC LIMIT 1) IN ?",
			[]string{string(settlement.Failed), string(settlement.Unknown)})
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("list contracts: %w", err)
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	var cs []Contract
	if err := q.Order("id DESC").Limit(limit).Offset(f.Offset).Find(&cs).Error; err != nil {
		return nil, 0, fmt.Errorf("list contracts: %w", err)
	}
	views, err := sv.views(ctx, cs)
	return views, total, err
}

func (sv *Service) views(ctx context.Context, cs []Contract) ([]View, error) {
	if len(cs) == 0 {
		return []View{}, nil
	}
	var oids, cids []int64
	for _, c := range cs {
		oids, cids = append(oids, c.OrderID), append(cids, c.ID)
	}
	db := sv.r.st.DB.WithContext(ctx)
	orders, err := order.ByIDs(ctx, db, oids)
	if err != nil {
		return nil, fmt.Errorf("contracts' orders: %w", err)
	}
	// The latest charge of each contract decides the 決済エラー badge.
	var latest []Charge
	err = db.Where("id IN (?)", db.Model(&Charge{}).Select("MAX(id)").Where("continuation_id IN ?", cids).Group("continuation_id")).Find(&latest).Error
	if err != nil {
		return nil, fmt.Errorf("contracts' charges: %w", err)
	}
	failed := map[int64]bool{}
	for _, ch := range latest {
		failed[ch.ContinuationID] = ch.Status == settlement.Failed || ch.Status == settlement.Unknown
	}
	out := make([]View, len(cs))
	for i, c := range cs {
		o := orders[c.OrderID]
		out[i] = View{ID: c.ID, OrderID: c.OrderID, OrderNumber: o.DecoID(), ShopID: c.ShopID, MemberID: c.MemberID, Email: o.Email,
			Name1: o.Name1, Name2: o.Name2, OrderTotal: o.Total, Module: c.Module, Acting: c.Acting, PaymentName: o.PaymentName,
			ApplicationDate: o.Date.In(jst.Tokyo).Format("2006-01-02 15:04:05"), StartDate: c.StartDate,
			NextContracting: c.NextContracting, NextCharging: c.NextCharging, Status: c.Status, StatusLabel: c.Status.Label(),
			OrderPrice: c.OrderPrice, Price: c.Price, Frequency: c.Frequency, ChargingDay: c.ChargingDay, Interval: c.Interval,
			LastFailed: failed[c.ID]}
	}
	return out, nil
}

// Get returns one contract with its charges; shopID 0 means any shop (the admin).
func (sv *Service) Get(ctx context.Context, shopID, id int64) (*Detail, error) {
	return sv.detail(ctx, sv.r.st.DB.WithContext(ctx).Where("id = ?", id), shopID)
}

// ForOrder returns the contract of an order; ErrNotFound when it has none.
func (sv *Service) ForOrder(ctx context.Context, shopID, orderID int64) (*Detail, error) {
	return sv.detail(ctx, sv.r.st.DB.WithContext(ctx).Where("order_id = ?", orderID), shopID)
}

func (sv *Service) detail(ctx context.Context, q *gorm.DB, shopID int64) (*Detail, error) {
	if shopID != 0 {
		q = q.Where("shop_id = ?", shopID)
	}
	var c Contract
	if err := q.First(&c).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	vs, err := sv.views(ctx, []Contract{c})
	if err != nil {
		return nil, err
	}
	d := &Detail{View: vs[0], Charges: []ChargeView{}}
	var chs []Charge
	db := sv.r.st.DB.WithContext(ctx)
	if err := db.Where("continuation_id = ?", c.ID).Order("id DESC").Find(&chs).Error; err != nil {
		return nil, fmt.Errorf("contract %d charges: %w", c.ID, err)
	}
	var sids []int64
	for _, ch := range chs {
		if ch.SettlementID != nil {
			sids = append(sids, *ch.SettlementID)
		}
	}
	setts, err := settlement.ByIDs(ctx, db, sids)
	if err != nil {
		return nil, fmt.Errorf("contract %d: %w", c.ID, err)
	}
	blocked := periodsBlocked(chs, setts)
	for _, ch := range chs {
		v := ChargeView{ID: ch.ID, Period: ch.Period, Attempt: ch.Attempt, Amount: ch.Amount, Status: ch.Status, At: ch.CreatedAt}
		if ch.SettlementID != nil {
			s := setts[*ch.SettlementID]
			v.SettlementID, v.TransID, v.ProviderID, v.ShopTransactionNo, v.Status = s.ID, s.TransID, s.WcTransID, s.Attempt, s.Status
		}
		v.StatusLabel = v.Status.Label()
		v.CanRetry = c.Status == Active && v.Status == settlement.Failed && !blocked[ch.Period.String()]
		v.CanConclude = v.Status == settlement.Unknown
		d.Charges = append(d.Charges, v)
	}
	return d, nil
}

// PriceChanges are the contract's changes of 決済金額, newest first: by 受注編集 of its order
// and on 継続課金会員情報, with the 次回課金日 each applies from.
func (sv *Service) PriceChanges(ctx context.Context, id int64) ([]PriceChange, error) {
	return priceChanges(ctx, sv.r.st.DB, id)
}

// periodsBlocked are the periods 再決済 must refuse: one charge succeeded (or was cancelled
// after it did), or one may have moved money and is still being looked into.
func periodsBlocked(chs []Charge, setts map[int64]settlement.Settlement) map[string]bool {
	out := map[string]bool{}
	for _, ch := range chs {
		st := ch.Status
		if ch.SettlementID != nil {
			if s, ok := setts[*ch.SettlementID]; ok {
				st = s.Status
			}
		}
		if !ch.SettledPeriod.IsZero() || st != settlement.Failed {
			out[ch.Period.String()] = true
		}
	}
	return out
}

// Update is an edit of the 継続課金会員情報 screen. Nil fields are kept.
type Update struct {
	NextCharging    *Date   `json:"next_charging"`
	NextContracting *Date   `json:"next_contracting"`
	Price           *int64  `json:"price"` // 決済金額 of future charges; past charges keep theirs
	Status          *Status `json:"status"`
}

// Update applies u to a contract, as Welcart's continuation_update: stopping only stops; any
// other change must leave 次回課金日 (and 次回契約更新日) tomorrow or later. The change and
// its audit row are committed together.
func (sv *Service) Update(ctx context.Context, id int64, u Update, actor string) (*Detail, error) {
	tomorrow := DateOf(sv.r.opt.Clock.Now(), jst.Tokyo).AddDays(1)
	err := sv.r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Contract
		if err := sv.r.st.ForUpdate(tx.Where("id = ?", id)).First(&c).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		before := c
		var errs ValidationError
		if u.Status != nil && *u.Status != Active && *u.Status != Stopped {
			errs = append(errs, FieldError{Field: "status", Code: "invalid", Message: msgStatus})
		}
		if u.Status != nil {
			c.Status = *u.Status
		}
		stopping := before.Status == Active && c.Status == Stopped
		if u.NextCharging != nil {
			c.NextCharging = *u.NextCharging
		}
		if u.NextContracting != nil {
			c.NextContracting = *u.NextContracting
		}
		if u.Price != nil {
			if *u.Price < 1 {
				errs = append(errs, FieldError{Field: "price", Code: "invalid", Message: msgPrice})
			}
			c.Price = *u.Price
		}
		if !stopping && c.Status == Active {
			resuming := before.Status == Stopped
			if (u.NextCharging != nil || resuming) &&
				(c.NextCharging.IsZero() || c.NextCharging.Before(tomorrow)) {
				errs = append(errs, FieldError{Field: "next_charging", Code: "too_early", Message: fmt.Sprintf(msgChargingPast, tomorrow)})
			}
			if u.NextContracting != nil && !c.NextContracting.IsZero() &&
				c.NextContracting.Before(tomorrow) {
				errs = append(errs, FieldError{Field: "next_contracting", Code: "too_early", Message: fmt.Sprintf(msgContractPast, tomorrow)})
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %w", ErrRefused, errs)
		}
		err := tx.Model(&Contract{}).Where("id = ?", id).Updates(map[string]any{
			"next_charging": c.NextCharging, "next_contracting": c.NextContracting, "price": c.Price, "status": c.Status,
			"updated_at": tx.NowFunc(),
		}).Error
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, actionUpdate, fmt.Sprintf("continuation:%d", id), map[string]any{
			"order_id": c.OrderID,
			"before":   map[string]any{"next_charging": before.NextCharging, "next_contracting": before.NextContracting, "price": before.Price, "status": before.Status},
			"after":    map[string]any{"next_charging": c.NextCharging, "next_contracting": c.NextContracting, "price": c.Price, "status": c.Status},
		})
	})
	if err != nil {
		return nil, wrapOp("update contract", id, err)
	}
	return sv.Get(ctx, 0, id)
}

func wrapOp(op string, id int64, err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrRefused) {
		return err
	}
	return fmt.Errorf("%s %d: %w", op, id, err)
}

// RetryResult is what a 再決済 did.
type RetryResult struct {
	Charge  ChargeView      `json:"charge"`
	Outcome plugins.Outcome `json:"outcome"`
}

// Retry is 再決済 of a failed charge: a new attempt for the same period, at the failed
// charge's amount. It is refused once the period has a successful charge, while one of its
// charges is unknown (money may have moved), and for a stopped contract.
func (sv *Service) Retry(ctx context.Context, id, chargeID int64, actor string) (RetryResult, error) {
	r := sv.r
	now := r.opt.Clock.Now().UTC()
	var it *claimed
	err := r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Contract
		if err := r.st.ForUpdate(tx.Where("id = ?", id)).First(&c).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		var failed Charge
		if err := tx.Where("id = ? AND continuation_id = ?", chargeID, id).First(&failed).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		var chs []Charge
		if err := tx.Where("continuation_id = ? AND period = ?", id, failed.Period).Find(&chs).Error; err != nil {
			return err
		}
		setts := map[int64]settlement.Settlement{}
		for _, ch := range chs {
			if ch.SettlementID != nil {
				s, err := settlement.Load(ctx, tx, *ch.SettlementID)
				if err != nil {
					return err
				}
				setts[s.ID] = *s
			}
		}
		var refuse ValidationError
		switch {
		case c.Status != Active:
			refuse = ValidationError{{Field: "status", Code: "stopped", Message: msgStoppedRetry}}
		case failed.SettlementID == nil || setts[*failed.SettlementID].Status != settlement.Failed:
			refuse = ValidationError{{Field: "charge", Code: "not_failed", Message: msgNotFailed}}
		case periodsBlocked(chs, setts)[failed.Period.String()]:
			msg := msgInFlight
			for _, ch := range chs {
				if !ch.SettledPeriod.IsZero() {
					msg = msgSettled
				}
			}
			refuse = ValidationError{{Field: "charge", Code: "period_settled", Message: msg}}
		}
		if refuse != nil {
			return refused(refuse)
		}
		attempt := 0
		for _, ch := range chs {
			attempt = max(attempt, ch.Attempt)
		}
		o, err := order.Get(ctx, tx, 0, c.OrderID)
		if err != nil {
			return err
		}
		it = &claimed{c: c, o: *o, period: failed.Period, next: c}
		it.ch = Charge{ContinuationID: c.ID, Period: failed.Period, Attempt: attempt + 1, Amount: failed.Amount, Status: settlement.Pending}
		it.s, err = r.newCharge(ctx, tx, c, &it.ch, now.Add(r.opt.Lease), "再決済 "+failed.Period.String())
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "continuation.retry", fmt.Sprintf("continuation:%d", id), map[string]any{
			"order_id": c.OrderID, "period": failed.Period, "failed_charge_id": failed.ID, "charge_id": it.ch.ID, "attempt": it.ch.Attempt,
		})
	})
	if err != nil {
		return RetryResult{}, wrapOp("retry contract", id, err)
	}
	cache := r.newRunCache()
	res, err := r.charge(ctx, it, cache)
	if err != nil {
		return RetryResult{}, err
	}
	d, err := sv.Get(ctx, 0, id)
	if err != nil {
		return RetryResult{}, err
	}
	out := RetryResult{Outcome: map[tally]plugins.Outcome{tallyCharged: plugins.Processed, tallyFailed: plugins.Declined,
		tallyUnknown: plugins.Undefined, tallyGivenBack: plugins.NotAttempted}[res]}
	for _, ch := range d.Charges {
		if ch.ID == it.ch.ID {
			out.Charge = ch
		}
	}
	return out, nil
}

// Capture is 売上計上 of a charge's 仮売上 settlement, through the settlement service.
func (sv *Service) Capture(ctx context.Context, id, chargeID int64, actor string) (settlement.Result, error) {
	return sv.operate(ctx, id, chargeID, actor, func(ctx context.Context, sid int64) (settlement.Result, error) {
		return sv.r.settlements.Capture(ctx, 0, sid, actor)
	})
}

// Cancel is 取消 of a charge's settlement, through the settlement service.
func (sv *Service) Cancel(ctx context.Context, id, chargeID int64, actor string) (settlement.Result, error) {
	return sv.operate(ctx, id, chargeID, actor, func(ctx context.Context, sid int64) (settlement.Result, error) {
		return sv.r.settlements.Cancel(ctx, 0, sid, actor)
	})
}

// Conclude is a person's answer for a charge whose answer was lost (確認中), after looking its
// merchant reference (ChargeView.ShopTransactionNo) up in the provider's screens, with the
// reason stated: providerID names the transaction found there, which the charge follows only
// if the provider holds it under that reference; "" says there is none, and the charge is
// 決済エラー, which may be charged again (再決済). It is audited with the reason.
func (sv *Service) Conclude(ctx context.Context, id, chargeID int64, providerID, reason, actor string) (settlement.Result, error) {
	var refuse ValidationError
	switch {
	case strings.TrimSpace(reason) == "":
		refuse = ValidationError{{Field: "reason", Code: "required", Message: msgReason}}
	case sv.r.settlements == nil:
		return settlement.Result{}, ErrUnavailable
	}
	if refuse != nil {
		return settlement.Result{}, fmt.Errorf("%w: %w", ErrRefused, refuse)
	}
	var ch Charge
	res, err := sv.operate(ctx, id, chargeID, actor, func(ctx context.Context, sid int64) (settlement.Result, error) {
		if err := sv.r.st.DB.WithContext(ctx).First(&ch, chargeID).Error; err != nil {
			return settlement.Result{}, err
		}
		return sv.r.settlements.Conclude(ctx, 0, sid, providerID, reason, actor)
	})
	switch {
	case errors.Is(err, settlement.ErrNotLost):
		return res, refused(ValidationError{{Field: "charge", Code: "not_unknown", Message: msgNotLost}})
	case errors.Is(err, settlement.ErrUnresolved) && providerID != "":
		no := ""
		if res.Settlement != nil {
			no = res.Settlement.Attempt
		}
		return res, refused(ValidationError{{Field: "provider_id", Code: "not_this_charge", Message: fmt.Sprintf(msgNotBelieved, no)}})
	case err != nil:
		return res, err
	}
	detail := map[string]any{"charge_id": chargeID, "period": ch.Period, "provider_id": providerID, "reason": reason, "outcome": res.Outcome.String()}
	if res.Settlement != nil {
		detail["status"] = res.Settlement.Status.Label()
		detail["shop_transaction_no"] = res.Settlement.Attempt
	}
	if err := audit.Record(ctx, sv.r.st.DB, actor, "continuation.conclude", fmt.Sprintf("continuation:%d", id), detail); err != nil {
		return res, err
	}
	return res, nil
}

func (sv *Service) operate(ctx context.Context, id, chargeID int64, _ string, f func(context.Context, int64) (settlement.Result, error)) (settlement.Result, error) {
	if sv.r.settlements == nil {
		return settlement.Result{}, ErrUnavailable
	}
	var ch Charge
	err := sv.r.st.DB.WithContext(ctx).Where("id = ? AND continuation_id = ?", chargeID, id).First(&ch).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && ch.SettlementID == nil) {
		return settlement.Result{}, ErrNotFound
	} else if err != nil {
		return settlement.Result{}, fmt.Errorf("charge %d: %w", chargeID, err)
	}
	return f(ctx, *ch.SettlementID)
}

// Settings returns the run's options.
func (sv *Service) Settings(ctx context.Context) (Settings, error) {
	return LoadSettings(ctx, sv.r.st.DB)
}

// SaveSettings validates and saves the run's options, audited, and moves the scheduled run
// to the new time at once (other replicas follow within a minute).
func (sv *Service) SaveSettings(ctx context.Context, s Settings, actor string) error {
	err := sv.r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := saveSettings(ctx, tx, s); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "continuation.settings", "options", s)
	})
	if err != nil {
		var v ValidationError
		if errors.As(err, &v) {
			return fmt.Errorf("%w: %w", ErrRefused, v)
		}
		return err
	}
	if sv.job != nil {
		return sv.job.Reschedule(s.RunTime)
	}
	return nil
}

// Observer is the runner's Observer: what a change of a charge's settlement does to its
// contract. Register it with settlement.Service.Observe.
func (sv *Service) Observer() settlement.Observer { return sv.r.Observer() }
