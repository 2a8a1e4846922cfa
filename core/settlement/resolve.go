package settlement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/plugins"
)

// ErrUnresolved means the provider could not say where the transaction stands (no answer, or
// it does not know it); the settlement stays unknown and the janitor asks again later.
var ErrUnresolved = fault.Sentinel("settlement: provider could not confirm the transaction yet", fault.Unavailable,
	"unresolved", "決済代行会社で取引の状態を確認できませんでした。しばらくしてから再度お試しください。")

// statusOf maps the provider's state to the settlement status it proves.
func statusOf(st plugins.State) (Status, bool) {
	switch st {
	case plugins.StateAuthorized:
		return Authorized, true
	case plugins.StateCaptured:
		return Captured, true
	case plugins.StateCancelled:
		return Cancelled, true
	case plugins.StateDeclined:
		return Failed, true
	}
	return "", false
}

// Reference is 取引参照: it asks the provider and records the answer in the history. A
// settlement left unknown, or held by a claim whose holder died, is settled by what the
// provider says.
func (sv *Service) Reference(ctx context.Context, shopID, id int64, actor string) (Result, error) {
	s, err := sv.Get(ctx, shopID, id)
	if err != nil {
		return Result{}, err
	}
	r, _, err := sv.reference(ctx, s, actor, true)
	return r, err
}

// ReferenceOf is the shop API's 取引参照 of s as its caller has just read it: the settlement is
// read once, and an answer that only confirms what kessai records (processed, in the
// settlement's status, for its amount and transaction) is given to the caller without a
// history row, so that a shop asking again and again writes nothing. An answer that differs,
// or a refusal, is recorded as Reference records it. A person's 取引参照 (console, Welcart's
// dialog) and a notification's are Reference: one row each, as the history promises.
func (sv *Service) ReferenceOf(ctx context.Context, s *Settlement, actor string) (Result, error) {
	r, _, err := sv.reference(ctx, s, actor, false)
	return r, err
}

// ReferenceWithHistory is ReferenceOf that also returns s's history as it stands after the
// 取引参照, for an answer that shows it. The history is read while the provider is asked and
// read again only if the 取引参照 wrote to it, so the caller waits for the slower of the two
// rather than for both.
func (sv *Service) ReferenceWithHistory(ctx context.Context, s *Settlement, actor string) (Result, []History, error) {
	type read struct {
		hs  []History
		err error
	}
	early := make(chan read, 1)
	id := s.ID
	go func() {
		hs, err := Histories(context.WithoutCancel(ctx), sv.st.DB, id)
		early <- read{hs, err}
	}()
	r, quiet, err := sv.reference(ctx, s, actor, false)
	h := <-early
	if err != nil {
		return r, nil, err
	}
	if !quiet || h.err != nil {
		h.hs, h.err = Histories(context.WithoutCancel(ctx), sv.st.DB, id)
	}
	return r, h.hs, h.err
}

// reference asks the provider about s; quiet reports that nothing was written (no history row,
// no change), so a history read before it still holds.
func (sv *Service) reference(ctx context.Context, s *Settlement, actor string, always bool) (r Result, quiet bool, err error) {
	id := s.ID
	if s.Status == Unknown || s.Orphaned(sv.now()) || (s.Status == Pending && s.WcTransID != "" && sv.due(s)) {
		r, err := sv.Resolve(ctx, id, actor)
		return r, false, err
	}
	if s.WcTransID == "" {
		return Result{Settlement: s, Outcome: plugins.NotAttempted}, true, nil
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{Settlement: s}, true, err
	}
	cctx, cancel := sv.callCtx(ctx)
	defer cancel()
	start := time.Now()
	res, err := ad.Reference(cctx, plugins.ReferenceRequest{ProviderID: s.WcTransID, Attempt: s.Attempt})
	sv.observe(s, OpReference, start, res.Result, err)
	if err != nil {
		return Result{Settlement: s, Outcome: plugins.OutcomeOf(err)}, true, fmt.Errorf("%w: reference %s: %v", ErrUnavailable, s.TransID, err)
	}
	if !always && agrees(s, res) {
		return Result{Settlement: s, Outcome: res.Outcome, Provider: res}, true, nil
	}
	msg := "状態: " + stateLabel(res.State)
	if len(res.Messages) > 0 {
		msg += " / " + strings.Join(res.Messages, " / ")
	}
	err = Record(ctx, sv.st.DB.WithContext(context.WithoutCancel(ctx)), s, History{Operation: OpReference, Amount: res.Amount, ProviderID: s.WcTransID,
		Outcome: res.Outcome.String(), Code: res.Code, Message: msg, Actor: actor})
	return Result{Settlement: s, Outcome: res.Outcome, Provider: res}, false, err
}

// agrees reports whether the provider's answer res is what s records: processed, in s's
// status, for its amount and its transaction.
func agrees(s *Settlement, res plugins.TransactionResult) bool {
	to, ok := statusOf(res.State)
	return res.Outcome == plugins.Processed && ok && to == s.Status &&
		(res.Amount == 0 || res.Amount == s.Amount) && (res.ProviderID == "" || res.ProviderID == s.WcTransID)
}

// stateLabel is the provider's state in the history's words.
func stateLabel(st plugins.State) string {
	if to, ok := statusOf(st); ok {
		return to.Label()
	}
	return "不明"
}

func (sv *Service) due(s *Settlement) bool {
	return s.ResolveAfter == nil || !s.ResolveAfter.After(sv.now())
}

// Resolve settles a settlement whose last call has no known answer (unknown, a claim whose
// holder died, a provider that had not decided) from its open attempt: whatever the provider
// says that call did, the settlement becomes. It never repeats a call that may have moved
// money. When the provider cannot say, it schedules another look with backoff, and after
// MaxResolve looks it writes the settlement to the error log for a person.
func (sv *Service) Resolve(ctx context.Context, id int64, actor string) (Result, error) {
	ctx, cancel := sv.detach(ctx)
	defer cancel()
	s, err := sv.Get(ctx, 0, id)
	if err != nil {
		return Result{}, err
	}
	now := sv.now()
	if s.Claimed(now) {
		// Its holder is alive and will record the answer.
		return Result{Settlement: s, Outcome: plugins.Pending}, nil
	}
	a, err := openAttempt(ctx, sv.st.DB, s.ID)
	if err != nil {
		return Result{Settlement: s}, err
	}
	if a == nil && s.WcTransID == "" && s.Status == Pending && s.ContinuationChargeID != nil {
		// The attempt is written before every call: a charge without one was never sent, so no
		// money question is open. The runner that claimed its period gives it back
		// (continuation), for that runner or the next one to charge.
		return Result{Settlement: s, Outcome: plugins.NotAttempted}, nil
	}
	orphaned := s.Orphaned(now)
	if s.Status != Unknown && !orphaned && !(s.Status == Pending && (s.WcTransID != "" || a != nil)) {
		return Result{Settlement: s, Outcome: outcomeOfStatus(s.Status)}, nil
	}
	// Take the settlement over: from here no other request or replica may act on it.
	if err := sv.begin(ctx, s, nil); errors.Is(err, ErrBusy) {
		cur, gerr := sv.Get(ctx, 0, id)
		if gerr != nil {
			return Result{}, gerr
		}
		return Result{Settlement: cur, Outcome: outcomeOfStatus(cur.Status)}, nil
	} else if err != nil {
		return Result{Settlement: s}, err
	}
	if a == nil && s.WcTransID == "" && s.Status == Pending {
		// A checkout the buyer has not finished: nothing to ask the provider about yet.
		sv.release(ctx, s, nil)
		return Result{Settlement: s, Outcome: plugins.Pending}, nil
	}
	ad, err := sv.adapter(ctx, s)
	if err != nil {
		return Result{Settlement: s, Outcome: plugins.Undefined}, sv.reschedule(ctx, s, a, err.Error())
	}
	if a != nil && a.Kind == OpConfirm {
		// A widget result whose answer was lost: confirm it again from what was written ahead.
		// Confirming only references; it moves no money.
		var req confirmRequest
		if err := json.Unmarshal([]byte(a.Request), &req); err == nil {
			r, err := sv.confirm(ctx, ad, s, a, req.Payload, req.Order, actor)
			if err == nil && r.Settlement.Status == Unknown {
				return r, fmt.Errorf("%w: %s: no answer", ErrUnresolved, s.TransID)
			}
			return r, err
		}
	}
	v := sv.verdict(ctx, ad, s, a)
	if !v.known {
		if err := sv.reschedule(ctx, s, a, v.why); err != nil {
			return Result{Settlement: s}, err
		}
		return Result{Settlement: s, Outcome: plugins.Undefined, Provider: v.res}, fmt.Errorf("%w: %s: %s", ErrUnresolved, s.TransID, v.why)
	}
	from := s.Status
	if a != nil {
		from = a.PriorStatus
	}
	s.WcTransID = v.providerID
	if v.attemptNo != "" {
		s.Attempt = v.attemptNo
	}
	if v.res.Amount != 0 {
		s.Amount = v.res.Amount
	}
	if v.to == Captured && s.CapturedAt == nil {
		t := now
		if !v.res.SettledAt.IsZero() {
			t = v.res.SettledAt.UTC()
		}
		s.CapturedAt = &t
	}
	if v.to == Failed {
		s.Reason = v.res.Reason
	}
	s.ResolveAfter, s.ResolveAttempts = nil, 0
	h := History{Operation: OpResolve, Amount: s.Amount, ProviderID: s.WcTransID, Outcome: v.res.Outcome.String(),
		Message: "取引参照により確定: " + v.to.Label() + v.note, Actor: actor}
	if a != nil {
		a.State, a.ProviderID, a.Outcome, a.AnsweredAt = AttemptDone, v.attemptProviderID, v.res.Outcome.String(), &now
	}
	err = sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if a != nil {
			if err := saveAttempt(ctx, tx, a); err != nil {
				return err
			}
		}
		if err := Apply(ctx, tx, s, v.to, h); err != nil {
			return err
		}
		c := Change{Settlement: s, From: from, To: v.to, Op: OpResolve, Result: v.res, Attempt: a}
		for _, o := range sv.observers {
			if err := o.SettlementChanged(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Result{Settlement: s}, fmt.Errorf("resolve %s: %w", s.TransID, err)
	}
	return Result{Settlement: s, Outcome: plugins.Processed, Provider: v.res}, nil
}

// verdict is what recovery proved about a settlement.
type verdict struct {
	known      bool
	to         Status
	providerID string // the settlement's transaction from now on
	attemptNo  string // the settlement's attempt from now on, when it changed
	// attemptProviderID is the transaction the open attempt produced ("" if it produced none).
	attemptProviderID string
	res               plugins.TransactionResult
	note              string
	why               string
}

// verdict asks the provider what the open attempt a did (or, without one, where the
// settlement's transaction stands).
func (sv *Service) verdict(ctx context.Context, ad plugins.Adapter, s *Settlement, a *Attempt) verdict {
	ref := func(id string) (plugins.TransactionResult, Status, bool, string) {
		if id == "" {
			return plugins.TransactionResult{}, "", false, "取引IDが分かりません"
		}
		cctx, cancel := sv.callCtx(ctx)
		defer cancel()
		start := time.Now()
		res, err := ad.Reference(cctx, plugins.ReferenceRequest{ProviderID: id})
		sv.observe(s, OpResolve, start, res.Result, err)
		if err != nil {
			return res, "", false, err.Error()
		}
		to, known := statusOf(res.State)
		if res.Outcome != plugins.Processed || !known {
			why := "provider did not confirm the transaction"
			if len(res.Messages) > 0 {
				why = strings.Join(res.Messages, " / ")
			}
			return res, "", false, why
		}
		return res, to, true, ""
	}
	if a == nil {
		res, to, ok, why := ref(s.WcTransID)
		return verdict{known: ok, to: to, providerID: s.WcTransID, res: res, why: why}
	}
	// A call that died with its caller (a killed adapter, a killed daemon) may still be on its
	// way at the provider, which finishes what it received. Its effect seen proves it
	// happened; its effect not seen proves nothing until the call's own deadline has passed.
	young := sv.now().Sub(a.CreatedAt) < sv.CallTimeout
	const tooEarly = "呼び出しがまだ決済代行会社で処理中の可能性があります。時間をおいて確認します"
	switch a.Kind {
	case OpCapture, OpCancel:
		res, to, ok, why := ref(a.TargetID)
		if ok && young && ((a.Kind == OpCapture && to == Authorized) || (a.Kind == OpCancel && to != Cancelled)) {
			return verdict{res: res, why: tooEarly}
		}
		// A partial 売上計上 happened when the provider holds the transaction captured for the
		// amount it asked; still authorized for the whole, it did not. Either way the
		// provider's amount is the settlement's.
		note := ""
		if ok && a.Kind == OpCapture && a.before() != 0 {
			note = "（一部売上計上は行われていません）"
			if to == Captured {
				note = fmt.Sprintf("（一部売上計上 %d円）", res.Amount)
			}
		}
		return verdict{known: ok, to: to, providerID: a.TargetID, res: res, note: note, why: why}
	case OpRefund:
		// The provider's state does not tell a 一部取消 (the transaction stays live); its
		// amount does: the amount before less the part cancelled means it happened, the amount
		// before means it did not.
		res, to, ok, why := ref(a.TargetID)
		before, left := a.before(), a.before()-a.Amount
		switch {
		case !ok:
			return verdict{res: res, why: why}
		case to == Cancelled:
			return verdict{known: true, to: to, providerID: a.TargetID, res: res, note: "（取引は取消済みです）"}
		case res.Amount == 0 || before == 0:
			return verdict{res: res, why: "決済代行会社の金額が分からないため、一部取消が行われたか確認できません"}
		case res.Amount == left:
			return verdict{known: true, to: to, providerID: a.TargetID, res: res, note: fmt.Sprintf("（一部取消 %d円、残額 %d円）", a.Amount, left)}
		case res.Amount == before && young:
			return verdict{res: res, why: tooEarly}
		case res.Amount == before:
			return verdict{known: true, to: to, providerID: a.TargetID, res: res, note: "（一部取消は行われていません）"}
		}
		// Neither: something else changed the amount at the provider, whose view is the truth.
		return verdict{known: true, to: to, providerID: a.TargetID, res: res,
			note: fmt.Sprintf("（一部取消 %d円の前後どちらとも異なる金額 %d円です）", a.Amount, res.Amount)}
	case OpCharge:
		id := a.ProviderID
		if id == "" {
			id = s.WcTransID
		}
		res, to, ok, why := ref(id)
		if ok && res.Attempt != "" && res.Attempt != a.AttemptNo {
			return verdict{res: res, why: fmt.Sprintf("取引 %s は別の取引番号（%s）のものです", id, res.Attempt)}
		}
		if !ok && id == "" {
			why = "課金の応答がなく、取引IDが分かりません。決済代行会社からの通知を待っています"
		}
		return verdict{known: ok, to: to, providerID: id, attemptProviderID: id, res: res, why: why}
	case OpModify:
		if a.ProviderID != "" {
			// The replacement's id, from the answer or from the provider's webhook: believe it
			// only if the provider holds it under this attempt's merchant reference.
			res, to, ok, _ := ref(a.ProviderID)
			if ok && (res.Attempt == "" || res.Attempt == a.AttemptNo) {
				return verdict{known: true, to: to, providerID: a.ProviderID, attemptNo: a.AttemptNo, attemptProviderID: a.ProviderID,
					res: res, note: "（取引修正後の取引）"}
			}
		}
		res, to, ok, why := ref(a.TargetID)
		if !ok {
			return verdict{res: res, why: why}
		}
		if to != Cancelled && young {
			return verdict{res: res, why: tooEarly}
		}
		if to != Cancelled {
			// The replaced transaction is still live: the 取引修正 never happened.
			return verdict{known: true, to: to, providerID: a.TargetID, res: res, note: "（取引修正は行われていません）"}
		}
		// The replaced transaction is cancelled, so the replacement exists; only its id, which
		// the provider's webhook brings, is missing. Never conclude 取消済み from the old one.
		return verdict{res: res, why: "取引修正の元取引は取消済みです。新しい取引を決済代行会社からの通知で確認します"}
	}
	res, to, ok, why := ref(s.WcTransID)
	return verdict{known: ok, to: to, providerID: s.WcTransID, res: res, why: why}
}

// backoff is the janitor's wait before the n-th look (n from 1): 30s, 1m, 2m, … up to 1h.
func backoff(n int) time.Duration {
	d := 30 * time.Second << min(n-1, 7)
	return min(d, time.Hour)
}

// reschedule pushes the next look out, leaves the settlement unknown (a claim whose holder
// died has no known answer either) and releases the janitor's hold; once the looks are used
// up, it writes the error log for a person.
func (sv *Service) reschedule(ctx context.Context, s *Settlement, a *Attempt, why string) error {
	s.ResolveAttempts++
	after := sv.now().Add(backoff(s.ResolveAttempts))
	s.ResolveAfter = &after
	return sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		from, to := s.Status, s.Status
		if a != nil {
			to = Unknown
		}
		h := History{Operation: OpResolve, Amount: s.Amount, ProviderID: s.WcTransID, Outcome: plugins.Undefined.String(),
			Message: "状態を確認できません: " + why, Actor: "janitor"}
		if to == s.Status && s.ResolveAttempts > 1 {
			// Only the first failed look is worth a history row; later ones change nothing.
			res := tx.Model(&Settlement{}).Where("id = ? AND version = ?", s.ID, s.Version).Updates(map[string]any{
				"resolve_after": s.ResolveAfter, "resolve_attempts": s.ResolveAttempts, "claimed_by": "", "claimed_until": nil, "version": s.Version + 1})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return ErrConflict
			}
			s.Version++
			s.ClaimedBy, s.ClaimedUntil = "", nil
		} else if err := Apply(ctx, tx, s, to, h); err != nil {
			return err
		} else if to != from {
			// A call whose holder died becomes 確認中: its observers follow (a continuation
			// charge's row and its error-log row).
			c := Change{Settlement: s, From: from, To: to, Op: OpResolve, Attempt: a,
				Result: plugins.TransactionResult{Result: plugins.Result{Outcome: plugins.Undefined, Messages: []string{why}}}}
			for _, o := range sv.observers {
				if err := o.SettlementChanged(ctx, tx, c); err != nil {
					return err
				}
			}
		}
		if s.ResolveAttempts == sv.MaxResolve {
			oid := s.OrderID
			data := map[string]any{
				"settlement_id": s.ID, "order_id": s.OrderID, "provider_id": s.WcTransID, "attempt": s.Attempt,
				"status": s.Status.Label(), "message": "取引の状態を確認できません。決済代行会社の管理画面で確認してください。", "last_error": why,
			}
			if a != nil {
				data["operation"], data["attempt"] = a.Kind.Label(), a.AttemptNo
			}
			return errlog.Write(ctx, tx, s.TransID, s.Module, strings.ToUpper(s.Module)+" UNRESOLVED", data, &oid)
		}
		return nil
	})
}

// ResolveDue is the janitor's pass: it claims up to limit settlements whose last call has no
// known answer and whose next look is due (unknown ones, claims whose holder died, answers
// the provider had not decided), SKIP LOCKED so that replicas take disjoint rows, and
// resolves each. It also calls checkouts whose widget never answered かご落ち and asks again
// about stray transactions whose void got no answer. It returns how many it looked at.
func (sv *Service) ResolveDue(ctx context.Context, limit int) (int, error) {
	now := sv.now()
	var ids []int64
	err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&Settlement{}).
			Where("(status = ? OR claimed_until < ? OR (status = ? AND wc_trans_id <> '')) AND (resolve_after IS NULL OR resolve_after <= ?)",
				Unknown, now, Pending, now).
			Where("claimed_until IS NULL OR claimed_until < ?", now).
			// A continuation charge never sent is its runner's to give back, not a question
			// for the provider.
			Where("NOT (status = ? AND continuation_charge_id IS NOT NULL AND wc_trans_id = '' AND "+
				"NOT EXISTS (SELECT 1 FROM settlement_attempts a WHERE a.settlement_id = settlements.id))", Pending).
			Order("resolve_after").Limit(limit)
		if err := sv.st.SkipLocked(q).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		// Push the next look out so another replica skips these rows even after this
		// transaction ends; Resolve's own claim is what guards the work.
		lease := now.Add(sv.Lease)
		return tx.Model(&Settlement{}).Where("id IN ?", ids).Update("resolve_after", lease).Error
	})
	if err != nil {
		return 0, fmt.Errorf("janitor: claim: %w", err)
	}
	for _, id := range ids {
		if _, err := sv.Resolve(ctx, id, "janitor"); err != nil && !errors.Is(err, ErrUnresolved) {
			sv.log.Warn("janitor: resolve", "settlement", id, "err", err)
		}
	}
	n := len(ids)
	if m, err := sv.abandonDue(ctx, limit); err != nil {
		sv.log.Warn("janitor: abandon", "err", err)
	} else {
		n += m
	}
	if m, err := sv.voidsDue(ctx, limit); err != nil {
		sv.log.Warn("janitor: voids", "err", err)
	} else {
		n += m
	}
	return n, nil
}

// abandonDue calls かご落ち every checkout whose widget has not answered within AbandonAfter:
// no transaction, no attempt in flight. The provider cannot be searched by merchant
// reference, so a buyer who paid after all is found by the provider's webhook, which the
// transition table still lets through.
func (sv *Service) abandonDue(ctx context.Context, limit int) (int, error) {
	if sv.AbandonAfter <= 0 {
		return 0, nil
	}
	now := sv.now()
	var ss []Settlement
	err := sv.st.DB.WithContext(ctx).
		Where("status = ? AND wc_trans_id = '' AND continuation_charge_id IS NULL AND claimed_until IS NULL AND updated_at < ?", Pending, now.Add(-sv.AbandonAfter)).
		Where("NOT EXISTS (SELECT 1 FROM settlement_attempts a WHERE a.settlement_id = settlements.id AND a.state = ?)", AttemptOpen).
		Limit(limit).Find(&ss).Error
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range ss {
		s := &ss[i]
		err := sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			h := History{Operation: OpAbandon, Amount: s.Amount, Actor: "janitor",
				Message: "ウィジェットの応答がないまま一定時間が過ぎたため、かご落ちとしました"}
			if err := Apply(ctx, tx, s, Abandoned, h); err != nil {
				return err
			}
			c := Change{Settlement: s, From: Pending, To: Abandoned, Op: OpAbandon}
			for _, o := range sv.observers {
				if err := o.SettlementChanged(ctx, tx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			n++
		} else if !errors.Is(err, ErrConflict) {
			return n, err
		}
	}
	return n, nil
}

// voidsDue asks again about voids of stray transactions whose answer was lost: a reference
// says whether the stray is cancelled; one still live is cancelled again (a second cancel of
// a cancelled transaction is refused by the provider, never a second movement of money).
func (sv *Service) voidsDue(ctx context.Context, limit int) (int, error) {
	var as []Attempt
	err := sv.st.DB.WithContext(ctx).Where("kind = ? AND state = ? AND created_at < ?", OpVoid, AttemptOpen, sv.now().Add(-sv.Lease)).
		Limit(limit).Find(&as).Error
	if err != nil || len(as) == 0 {
		return 0, err
	}
	for i := range as {
		a := &as[i]
		s, err := sv.Get(ctx, 0, a.SettlementID)
		if err != nil {
			return i, err
		}
		ad, err := sv.adapter(ctx, s)
		if err != nil {
			return i, err
		}
		cctx, cancel := sv.callCtx(ctx)
		ref, err := ad.Reference(cctx, plugins.ReferenceRequest{ProviderID: a.TargetID})
		var res plugins.TransactionResult
		callErr := err
		if err == nil && ref.Outcome == plugins.Processed && ref.State == plugins.StateCancelled {
			res = ref
		} else if err == nil && ref.Outcome == plugins.Processed {
			res, callErr = ad.Cancel(cctx, plugins.CancelRequest{ProviderID: a.TargetID})
		} else if err == nil {
			res = ref
			res.Outcome = plugins.Undefined
		}
		cancel()
		sv.recordVoid(ctx, s, a, res, callErr, "janitor", false)
	}
	return len(as), nil
}

// CodeNotCharged is the Code of a charge a person concluded the provider never took: its
// answer was lost, and the provider's own records hold no transaction under its merchant
// reference (shop_transaction_no).
const CodeNotCharged = "KESSAI_NOT_CHARGED"

// Refusals of Conclude.
var (
	// ErrNotLost: the settlement is not a charge whose answer was lost (確認中).
	ErrNotLost = fault.Sentinel("settlement: not a charge whose answer was lost", fault.Conflict,
		"not_unknown", "確定できるのは応答がなく確認中の課金だけです。")
	// ErrNoReason: a person's conclusion must say why.
	ErrNoReason = fault.Sentinel("settlement: a reason is required", fault.Invalid,
		"required", "確定の理由を入力してください。").WithField("reason")
)

// Conclude is a person's answer for a continuation charge whose answer was lost (確認中), given
// after looking its merchant reference (shop_transaction_no) up in the provider's own screens,
// with the reason stated:
//
//   - providerID names the transaction found there. It is a hint, as a provider's
//     notification is: the settlement follows it only if the provider holds it under the
//     charge's own merchant reference (ErrUnresolved otherwise, and nothing changes);
//   - "" says the provider holds nothing under that reference: the charge becomes 決済エラー
//     with CodeNotCharged, and its period may be charged again (再決済).
//
// The reason goes into the history with the person's name.
func (sv *Service) Conclude(ctx context.Context, shopID, id int64, providerID, reason, actor string) (Result, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Result{}, ErrNoReason
	}
	ctx, cancel := sv.detach(ctx)
	defer cancel()
	s, err := sv.Get(ctx, shopID, id)
	if err != nil {
		return Result{}, err
	}
	now := sv.now()
	if s.Claimed(now) {
		return Result{Settlement: s}, busy(OpResolve, s)
	}
	a, err := openAttempt(ctx, sv.st.DB, s.ID)
	if err != nil {
		return Result{Settlement: s}, err
	}
	if a == nil || a.Kind != OpCharge || (s.Status != Unknown && (s.Status != Pending || !s.Orphaned(now))) {
		return Result{Settlement: s}, ErrNotLost
	}
	if providerID = strings.TrimSpace(providerID); providerID != "" {
		prior := a.ProviderID
		note := func(to string) error {
			return sv.st.DB.WithContext(ctx).Model(&Attempt{}).Where("id = ? AND state = ?", a.ID, AttemptOpen).Update("provider_id", to).Error
		}
		if err := note(providerID); err != nil {
			return Result{Settlement: s}, fmt.Errorf("conclude %s: %w", s.TransID, err)
		}
		h := History{Operation: OpResolve, Amount: s.Amount, ProviderID: providerID, Message: "担当者が決済代行会社の取引を指定: " + reason, Actor: actor}
		if err := Record(ctx, sv.st.DB, s, h); err != nil {
			return Result{Settlement: s}, err
		}
		r, err := sv.Resolve(ctx, id, actor)
		if errors.Is(err, ErrUnresolved) && r.Settlement != nil && r.Settlement.Status == Unknown {
			// Not believed: the attempt keeps what it had, so a notification may still name
			// the right one.
			if nerr := note(prior); nerr != nil {
				sv.log.Warn("settlement: conclude: restore the attempt's provider id", "settlement", s.ID, "err", nerr)
			}
		}
		return r, err
	}
	if err := sv.begin(ctx, s, nil); errors.Is(err, ErrBusy) {
		return Result{Settlement: s}, busy(OpResolve, s)
	} else if err != nil {
		return Result{Settlement: s}, err
	}
	from := s.Status
	msg := "決済代行会社に取引がないことを担当者が確認しました: " + reason
	res := plugins.TransactionResult{Result: plugins.Result{Outcome: plugins.NotAttempted, Code: CodeNotCharged, Messages: []string{msg}}}
	a.State, a.Outcome, a.Code, a.AnsweredAt = AttemptDone, plugins.NotAttempted.String(), CodeNotCharged, &now
	s.ResolveAfter, s.ResolveAttempts = nil, 0
	h := History{Operation: OpResolve, Amount: s.Amount, Outcome: plugins.NotAttempted.String(), Code: CodeNotCharged, Message: msg, Actor: actor}
	err = sv.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := saveAttempt(ctx, tx, a); err != nil {
			return err
		}
		if err := Apply(ctx, tx, s, Failed, h); err != nil {
			return err
		}
		c := Change{Settlement: s, From: from, To: Failed, Op: OpResolve, Result: res, Attempt: a}
		for _, o := range sv.observers {
			if err := o.SettlementChanged(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		sv.release(ctx, s, nil)
		return Result{Settlement: s}, fmt.Errorf("conclude %s: %w", s.TransID, err)
	}
	return Result{Settlement: s, Outcome: plugins.NotAttempted, Provider: res}, nil
}
