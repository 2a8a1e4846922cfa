package continuation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	kmail "github.com/kessai/kessai/core/mail"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/jst"
)

// Adapters is what the run needs of the module host: the adapter, and its settings for
// 自動継続課金処理区分 and 自動継続課金完了メール.
type Adapters interface {
	Get(ctx context.Context, slug string) (plugins.Adapter, error)
	Settings(ctx context.Context, slug string) ([]module.SettingValue, error)
}

// Settings keys the run reads from the module (the atone adapter's names).
const (
	settingSalesMode = "continuation_sales_mode" // provisional | immediate
	settingMail      = "continuation_mail"       // on | off
	salesImmediate   = "immediate"
	mailOff          = "off"
)

// Actor is recorded on the history rows the run writes.
const Actor = "continuation"

// Options tune a Runner; the zero value is production's.
type Options struct {
	// Clock tells the run day, claims and leases; nil means the store's.
	Clock clockwork.Clock
	Log   *slog.Logger
	// Batch is how many contracts one claim transaction takes [50].
	Batch int
	// Workers is how many adapter calls run at once [DefaultWorkers].
	Workers int
	// Rates bounds how many charges a second the run sends to one module, by the module's
	// slug; "" is the bound of every module not named. A module without a bound is sent as
	// fast as Workers allow.
	Rates map[string]float64
	// CallTimeout is how long one charge call may take (the settlement service bounds the
	// call itself); Lease is measured from it [45s].
	CallTimeout time.Duration
	// Lease is how long a claimed period may wait for its call. A runner claims a period
	// right before sending it, so one still unsent when the lease runs out belongs to a runner
	// that died: it is given back, for another runner or the next run to charge
	// [CallTimeout + 1m].
	Lease time.Duration
	// MaxWait bounds how long a run with nothing left to claim waits for the claims that other
	// runners hold on its day (they are given back or resolved once their leases run out), so
	// that the day's result mail goes out once every claim is settled [2 × Lease].
	MaxWait time.Duration
	// MaxAdminBlocks caps the per-contract blocks in the admin's result mail: every
	// 異常 block first, then 正常 ones [1000]. Welcart lists them all, but a run of 100,000
	// contracts would make a mail no server accepts.
	MaxAdminBlocks int
}

// DefaultWorkers is how many charges a run has in flight unless told otherwise
// (KESSAI_CONTINUATION_WORKERS): enough for DefaultRate when a call and its recording take
// 240 ms.
const DefaultWorkers = 48

// DefaultRate is the daemon's bound on charges a second to one module
// (KESSAI_CONTINUATION_RATE): 100,000 contracts in under ten minutes. atone publishes no
// limit.
const DefaultRate = 200

// Runner runs the daily charge of due contracts.
type Runner struct {
	st          *store.Store
	box         *secret.Box
	mods        Adapters
	settlements Settlements
	opt         Options

	mu      sync.Mutex
	running int           // Runs in progress
	idle    chan struct{} // closed while none is
	reads   *runReads     // while runs are in progress
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (r *Runner) enter() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == 0 {
		r.idle = make(chan struct{})
		r.reads = newRunReads()
	}
	r.running++
}

func (r *Runner) leave() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running--; r.running == 0 {
		close(r.idle)
		r.reads = nil
	}
}

// current returns what the runs in progress have read once for all their charges, or nil
// when none is.
func (r *Runner) current() *runReads {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads
}

// Wait returns once no Run is in progress, or with ctx's error. A run stopped by its context
// still finishes the charges it sent and records their answers; a daemon shutting down waits
// for that before it stops the adapters the calls go through.
func (r *Runner) Wait(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("continuation: runs still sending: %w", ctx.Err())
	}
}

// NewRunner returns a runner over st. box opens the contracts' tokens. Every charge goes
// through settlements, which must have the runner's Observer: it is what a charge's answer
// does to the contract (charge row, mail, continuation.* event), whichever path records it.
func NewRunner(st *store.Store, box *secret.Box, mods Adapters, settlements Settlements, opt Options) *Runner {
	if opt.Clock == nil {
		opt.Clock = st.Clock
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Batch <= 0 {
		opt.Batch = 50
	}
	if opt.Workers <= 0 {
		opt.Workers = DefaultWorkers
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 45 * time.Second
	}
	if opt.Lease <= 0 {
		opt.Lease = opt.CallTimeout + time.Minute
	}
	if opt.MaxWait <= 0 {
		opt.MaxWait = 2 * opt.Lease
	}
	if opt.MaxAdminBlocks <= 0 {
		opt.MaxAdminBlocks = 1000
	}
	return &Runner{st: st, box: box, mods: mods, settlements: settlements, opt: opt, idle: closed()}
}

// Report is what one Run did.
type Report struct {
	Date    Date
	Claimed int // periods this runner claimed
	Charged int // 仮売上 or 売上計上
	Failed  int // 決済エラー
	// Unknown are charges sent whose answer was lost (確認中): atone's notification, the
	// janitor or a person settles them; they are never sent again.
	Unknown int
	// GivenBack are claimed periods that were never sent, given back for the next run: this
	// runner's own when it was stopped, and those of runners that died.
	GivenBack int
	Skipped   int // due, but the period already had a charge: dates moved on, nothing charged
	Renewed   int // 次回契約更新日 moved on without a charge
	Mailed    bool
	Duration  time.Duration
	// ChargeTimes are the durations of this runner's charges (call and record), for the
	// benchmark's percentiles.
	ChargeTimes []time.Duration
}

// claimed is one period a runner owns: the contract as it was before its dates moved, the
// order, and the pending charge and settlement written by the claim.
type claimed struct {
	c      Contract
	o      order.Order
	period Date
	next   Contract // the contract after the claim moved its dates
	ch     Charge
	s      *settlement.Settlement
}

// Run charges every contract due on day (次回課金日 ≤ day, 継続中, order not cancelled), one
// period per contract, then sends the admin's result mail once every claim of the day is
// settled (by whichever runner finishes last). Several runners may run the same day at once;
// each period is charged by exactly one of them. Periods that runners which died had claimed
// and never sent are given back and charged here; those they sent are left to the settlement
// engine's recovery, which this run asks once their claims have lapsed.
//
// When ctx ends, no more periods are claimed, the charges already sent finish on a context of
// their own and are recorded, and the periods claimed but not sent are given back for the next
// run. Business outcomes are in the Report; the error is about kessai itself (database down)
// or says the run was stopped, and the Report says how far it got.
func (r *Runner) Run(ctx context.Context, day Date) (Report, error) {
	r.enter()
	defer r.leave()
	start := time.Now() // wall time, for the report's duration
	rep := Report{Date: day}
	if err := r.startRun(ctx, day); err != nil {
		return rep, err
	}
	cache := r.newRunCache()
	var errs []error
	var waitUntil time.Time
	for try := 0; ctx.Err() == nil; try++ {
		n, err := r.recover(ctx, day)
		rep.GivenBack += n
		if err != nil {
			errs = append(errs, err)
			break
		}
		if err := r.drain(ctx, day, cache, &rep); err != nil {
			errs = append(errs, err)
			break
		}
		if ctx.Err() != nil {
			break
		}
		n, err = r.renew(ctx, day)
		rep.Renewed += n
		if err != nil {
			errs = append(errs, err)
			break
		}
		mailed, held, err := r.finish(ctx, day)
		if err != nil {
			errs = append(errs, err)
			break
		}
		rep.Mailed = rep.Mailed || mailed
		if held == 0 {
			break
		}
		// Due contracts we could not claim are locked by another runner's claim or an admin's
		// edit for a moment; claims others hold are answered by them, or given back (or
		// resolved) here once their leases run out.
		// Other runners are real processes, so MaxWait and the polls are wall time.
		if waitUntil.IsZero() {
			waitUntil = time.Now().Add(r.opt.MaxWait)
		}
		if time.Now().After(waitUntil) {
			r.opt.Log.Info("continuation: claims held by others; leaving the result mail to them", "date", day.String(), "held", held)
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(200*time.Millisecond<<min(try, 4), 2*time.Second)):
		}
	}
	// What this run did is recorded, and days that runners left unfinished are closed, even
	// when it was stopped.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		mailed, _, err := r.finish(bctx, day)
		rep.Mailed = rep.Mailed || mailed
		errs = append(errs, err, fmt.Errorf("continuation run %s stopped: %w", day, ctx.Err()))
	}
	errs = append(errs, r.finishEarlier(bctx, day))
	now := r.opt.Clock.Now().UTC()
	if err := r.st.DB.WithContext(bctx).Model(&runRow{}).Where("run_date = ?", day).Updates(map[string]any{"finished_at": now, "updated_at": now}).Error; err != nil {
		errs = append(errs, fmt.Errorf("continuation run %s: %w", day, err))
	}
	rep.Duration = time.Since(start)
	r.opt.Log.Info("continuation run", "date", day.String(), "claimed", rep.Claimed, "charged", rep.Charged,
		"failed", rep.Failed, "unknown", rep.Unknown, "given_back", rep.GivenBack, "skipped", rep.Skipped, "renewed", rep.Renewed,
		"admin_mail", rep.Mailed, "took", rep.Duration.Round(time.Millisecond))
	return rep, errors.Join(errs...)
}

// tally is how one claimed period counts in the run's report.
type tally int

const (
	tallyCharged tally = iota
	tallyFailed
	tallyUnknown
	tallyGivenBack
)

// drain claims due contracts a batch at a time and charges them on Workers workers, until
// nothing due is left to claim or ctx ends, and returns once every charge it started is
// recorded. Claimed periods wait for a worker in a queue of one batch: the claims stay a batch
// ahead of the calls, so that one claim transaction serves a batch of charges and no worker
// waits for one, and a runner that dies leaves at most two batches claimed and unsent, given
// back once their leases run out. Periods still queued when ctx ends are given back at once.
func (r *Runner) drain(ctx context.Context, day Date, cache *runCache, rep *Report) error {
	queue := make(chan *claimed, r.opt.Batch)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for range r.opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range queue {
				t0 := time.Now() // wall time, for the report's charge times
				res, err := r.charge(ctx, it, cache)
				mu.Lock()
				if res != tallyGivenBack {
					rep.ChargeTimes = append(rep.ChargeTimes, time.Since(t0))
				}
				if err != nil {
					errs = append(errs, err)
				}
				switch res {
				case tallyCharged:
					rep.Charged++
				case tallyFailed:
					rep.Failed++
				case tallyGivenBack:
					rep.GivenBack++
				default:
					rep.Unknown++
				}
				mu.Unlock()
			}
		}()
	}
	for ctx.Err() == nil {
		batch, skipped, err := r.claim(ctx, day, r.opt.Batch)
		if err != nil {
			if ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			break
		}
		mu.Lock()
		rep.Claimed += len(batch)
		rep.Skipped += skipped
		mu.Unlock()
		for _, it := range batch {
			queue <- it // the workers take it, or give it back once ctx ends
		}
		if len(batch) == 0 && skipped == 0 {
			break
		}
	}
	close(queue)
	wg.Wait()
	return errors.Join(errs...)
}

// claim takes up to n due contracts nobody else holds and, in the same transaction,
// writes each period's pending charge and settlement and moves the contract's dates on. Once
// it commits, the period is this runner's alone: another runner no longer sees it as due, and
// the unique key (continuation_id, period, attempt) stands behind that. A period that already
// has a charge (an admin moved 次回課金日 back) is not charged again; its dates just move on.
// Every write covers the whole batch in one statement, so a claim costs the same few round
// trips for one contract or fifty.
func (r *Runner) claim(ctx context.Context, day Date, n int) ([]*claimed, int, error) {
	for try := 1; ; try++ {
		out, skipped, err := r.claimOnce(ctx, day, n)
		// Two runners' claims insert charges and settlements side by side, and MySQL may end
		// one of them as a deadlock: it was rolled back whole, so it is made again.
		if store.IsDeadlock(err) && try < 5 {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("continuation claim %s: %w", day, err)
		}
		return out, skipped, nil
	}
}

func (r *Runner) claimOnce(ctx context.Context, day Date, n int) ([]*claimed, int, error) {
	var out []*claimed
	skipped := 0
	now := r.opt.Clock.Now().UTC()
	leaseEnd := now.Add(r.opt.Lease)
	err := r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		out, skipped = nil, 0
		var cs []Contract
		q := r.dueQuery(tx, day).Select("c.*").Order("c.next_charging, c.id").Limit(n)
		if err := r.st.SkipLocked(q).Find(&cs).Error; err != nil {
			return err
		}
		if len(cs) == 0 {
			return nil
		}
		ids := make([]int64, len(cs))
		orderIDs := make([]int64, len(cs))
		for i, c := range cs {
			ids[i], orderIDs[i] = c.ID, c.OrderID
		}
		var orders []order.Order
		if err := tx.Where("id IN ?", orderIDs).Find(&orders).Error; err != nil {
			return err
		}
		byOrder := make(map[int64]order.Order, len(orders))
		for _, o := range orders {
			byOrder[o.ID] = o
		}
		var prior []Charge
		if err := tx.Select("continuation_id", "period").Where("continuation_id IN ?", ids).Find(&prior).Error; err != nil {
			return err
		}
		had := map[string]bool{}
		for _, p := range prior {
			had[fmt.Sprint(p.ContinuationID, p.Period)] = true
		}
		moved := make([]*claimed, 0, len(cs))
		for _, c := range cs {
			it := &claimed{c: c, o: byOrder[c.OrderID], period: c.NextCharging}
			it.next = advance(c, day)
			moved = append(moved, it)
			if had[fmt.Sprint(c.ID, it.period)] {
				r.opt.Log.Warn("continuation: period already has a charge; not charging it again",
					"contract", c.ID, "period", it.period.String())
				skipped++
				continue
			}
			it.ch = Charge{ContinuationID: c.ID, Period: it.period, Attempt: 1, Amount: c.Price, Status: settlement.Pending, RunDate: day}
			out = append(out, it)
		}
		if err := moveDates(tx, moved, now); err != nil {
			return err
		}
		return r.newCharges(ctx, tx, out, leaseEnd)
	})
	return out, skipped, err
}

// moveDates writes each claimed contract's next dates, in one statement.
func moveDates(tx *gorm.DB, its []*claimed, now time.Time) error {
	if len(its) == 0 {
		return nil
	}
	ids := make([]int64, len(its))
	charging, contracting := caseOf(len(its)), caseOf(len(its))
	var cargs, kargs []any
	for i, it := range its {
		ids[i] = it.c.ID
		cargs = append(cargs, it.c.ID, it.next.NextCharging)
		kargs = append(kargs, it.c.ID, it.next.NextContracting)
	}
	err := tx.Model(&Contract{}).Where("id IN ?", ids).Updates(map[string]any{
		"next_charging": gorm.Expr(charging, cargs...), "next_contracting": gorm.Expr(contracting, kargs...), "updated_at": now,
	}).Error
	if err != nil {
		return fmt.Errorf("move the dates of %d contracts: %w", len(its), err)
	}
	return nil
}

// caseOf is the expression that gives a row, by id, one of n values: n (id, value) pairs follow
// it as arguments.
func caseOf(n int) string {
	return "CASE id" + strings.Repeat(" WHEN ? THEN ?", n) + " END"
}

// newCharges inserts the charge of each claimed period and its pending settlement, linked both
// ways, a few statements for the whole batch. A settlement's ResolveAfter is the end of the
// period's lease: should this runner die before it sends the charge, the period is given back
// after that (giveBackLapsed), and not before.
//
// The settlement carries a claim lapsed from the start, so that the charge's own claim
// (settlement.Service.Charge) takes it over without a wait. The engine's recovery leaves a
// charge without an attempt alone: nothing was sent, so there is nothing to ask the provider,
// and the period is the runner's to give back.
func (r *Runner) newCharges(ctx context.Context, tx *gorm.DB, its []*claimed, leaseEnd time.Time) error {
	if len(its) == 0 {
		return nil
	}
	chs := make([]*Charge, len(its))
	cids := make([]int64, len(its))
	for i, it := range its {
		chs[i], cids[i] = &it.ch, it.c.ID
	}
	if err := tx.Create(chs).Error; err != nil {
		return fmt.Errorf("%d charges: %w", len(its), err)
	}
	// The ids, by contract (one charge per contract per run day): what a multi-row insert
	// reports of them depends on the server's settings.
	var got []struct{ ID, ContinuationID int64 }
	err := tx.Model(&Charge{}).Select("id", "continuation_id").
		Where("continuation_id IN ? AND run_date = ? AND attempt = 1", cids, its[0].ch.RunDate).Scan(&got).Error
	if err != nil {
		return fmt.Errorf("%d charges: ids: %w", len(its), err)
	}
	byContract := make(map[int64]int64, len(got))
	for _, g := range got {
		byContract[g.ContinuationID] = g.ID
	}
	claimed := r.opt.Clock.Now().UTC().Add(-time.Second) // lapsed from the start
	ss := make([]*settlement.Settlement, len(its))
	hs := make([]settlement.History, len(its))
	link := caseOf(len(its))
	var largs []any
	ids := make([]int64, len(its))
	for i, it := range its {
		if it.ch.ID = byContract[it.c.ID]; it.ch.ID == 0 {
			return fmt.Errorf("contract %d period %s: charge not found after insert", it.c.ID, it.ch.Period)
		}
		id := settlement.NewTransID()
		it.s = &settlement.Settlement{OrderID: it.c.OrderID, ShopID: it.c.ShopID, ContinuationChargeID: &it.ch.ID, Module: it.c.Module,
			SettlementCode: it.c.Acting, TransID: id, Attempt: id + "-1", Amount: it.ch.Amount, Status: settlement.Pending,
			ResolveAfter: &leaseEnd, ClaimedBy: Actor, ClaimedUntil: &claimed}
		ss[i] = it.s
		hs[i] = settlement.History{Operation: settlement.OpCharge, Amount: it.ch.Amount, Actor: Actor, Message: "継続課金 " + it.period.String()}
	}
	if err := settlement.CreateMany(ctx, tx, ss, hs); err != nil {
		return err
	}
	for i, it := range its {
		it.ch.SettlementID = &it.s.ID
		ids[i] = it.ch.ID
		largs = append(largs, it.ch.ID, it.s.ID)
	}
	if err := tx.Model(&Charge{}).Where("id IN ?", ids).Update("settlement_id", gorm.Expr(link, largs...)).Error; err != nil {
		return fmt.Errorf("%d charges: link settlements: %w", len(its), err)
	}
	return nil
}

// dueQuery selects contracts due on day whose order is not cancelled (Welcart skips orders
// whose status holds cancel or estimate).
func (r *Runner) dueQuery(tx *gorm.DB, day Date) *gorm.DB {
	return tx.Table("continuations AS c").
		Joins("JOIN orders o ON o.id = c.order_id").
		Where("c.status = ? AND c.next_charging IS NOT NULL AND c.next_charging <= ?", Active, day).
		Where(clause.Not(store.Contains("o.order_status", "cancel"), store.Contains("o.order_status", "estimate"))).
		// One period per contract per run: a contract several periods behind (the daemon was
		// down for months) is caught up one period a day, never charged many times at once.
		Where("NOT EXISTS (SELECT 1 FROM continuation_charges cc WHERE cc.continuation_id = c.id AND cc.run_date = ?)", day)
}

// advance moves 次回課金日 one period on, and 次回契約更新日 past day.
func advance(c Contract, day Date) Contract {
	c.NextCharging = c.Schedule().NextCharging(c.NextCharging)
	c.NextContracting = renewal(c, day)
	return c
}

// renewal is 次回契約更新日 moved past day by whole contract periods.
func renewal(c Contract, day Date) Date {
	next := c.NextContracting
	for !next.IsZero() && !next.After(day) {
		next = c.Schedule().NextContracting(next)
	}
	return next
}

// newCharge is newCharges for one charge ch (再決済), with the note of its history row.
func (r *Runner) newCharge(ctx context.Context, tx *gorm.DB, c Contract, ch *Charge, leaseEnd time.Time, note string) (*settlement.Settlement, error) {
	if err := tx.Create(ch).Error; err != nil {
		return nil, fmt.Errorf("contract %d period %s: charge: %w", c.ID, ch.Period, err)
	}
	id := settlement.NewTransID()
	claimed := r.opt.Clock.Now().UTC().Add(-time.Second) // lapsed from the start
	s := &settlement.Settlement{OrderID: c.OrderID, ShopID: c.ShopID, ContinuationChargeID: &ch.ID, Module: c.Module,
		SettlementCode: c.Acting, TransID: id, Attempt: id + "-1", Amount: ch.Amount, Status: settlement.Pending, ResolveAfter: &leaseEnd,
		ClaimedBy: Actor, ClaimedUntil: &claimed}
	h := settlement.History{Operation: settlement.OpCharge, Amount: ch.Amount, Actor: Actor, Message: note}
	if err := settlement.Create(ctx, tx, s, h); err != nil {
		return nil, fmt.Errorf("contract %d period %s: %w", c.ID, ch.Period, err)
	}
	ch.SettlementID = &s.ID
	if err := tx.Model(&Charge{}).Where("id = ?", ch.ID).Update("settlement_id", s.ID).Error; err != nil {
		return nil, fmt.Errorf("contract %d period %s: link settlement: %w", c.ID, ch.Period, err)
	}
	return s, nil
}

// chargeOrder is what the provider is asked to charge: the continuation item at the
// contract's current price, for the order's buyer. The first order's other lines (shipping,
// other items) were paid once at checkout.
func chargeOrder(c Contract, o order.Order, attempt string, amount int64) plugins.Order {
	po := o.Plugin(attempt)
	po.Amount, po.Recurring = amount, false
	name := c.SKU
	if l, ok := Line(o); ok && l.ItemName != "" {
		name = l.ItemName
	}
	po.Lines = []plugins.Line{{Kind: plugins.LineItem, SKU: c.SKU, Name: name, Price: amount, Quantity: 1}}
	return po
}

// charge sends one claimed period through the settlement service and says how it counts in
// the run's report. What the answer does to the contract (charge row, mail, event) is the
// runner's Observer's, in the transaction that records it.
func (r *Runner) charge(ctx context.Context, it *claimed, cache *runCache) (tally, error) {
	cache.pace(it.c.Module).wait(ctx)
	if ctx.Err() != nil {
		// The run is stopping before this period was sent: give it back for the next run,
		// rather than calling it 決済エラー and mailing the buyer so.
		if _, err := r.unclaim(context.WithoutCancel(ctx), it); err != nil {
			return tallyUnknown, fmt.Errorf("continuation %d period %s: give back: %w", it.c.ID, it.ch.Period, err)
		}
		return tallyGivenBack, nil
	}
	// From here the period is sent: a stop does not cut the charge off.
	ctx = context.WithoutCancel(ctx)
	ms := cache.module(ctx, it.c.Module)
	token, first, err := it.c.secrets(r.box)
	if err != nil {
		// A token that does not open (another master key, a value copied from another
		// contract) is no card kessai can charge: sent without one, the charge is recorded as
		// 決済エラー without a call, and the admin may 再決済 once the key is right.
		r.opt.Log.Error("continuation: contract token", "contract", it.c.ID, "err", err)
		token, first = "", ""
	}
	req := plugins.ChargeRequest{Token: token, RelatedProviderID: first,
		Order: chargeOrder(it.c, it.o, it.s.Attempt, it.ch.Amount), Settle: ms.immediate}
	res, err := r.settlements.Charge(withClaim(ctx, it), it.s, req, Actor)
	if errors.Is(err, settlement.ErrBusy) {
		// This runner held the period past its lease and another gave it back (or took the
		// charge over): nothing was sent from here.
		cur, lerr := settlement.Load(ctx, r.st.DB, it.s.ID)
		if errors.Is(lerr, gorm.ErrRecordNotFound) {
			return tallyGivenBack, nil
		}
		if lerr != nil {
			return tallyUnknown, lerr
		}
		return counted(cur.Status, true), nil
	}
	if err != nil {
		return tallyUnknown, fmt.Errorf("continuation %d period %s: %w", it.c.ID, it.ch.Period, err)
	}
	return counted(res.Settlement.Status, res.Outcome == plugins.Processed), nil
}

// counted is how a recorded charge counts in the run's report: 正常 when the provider
// processed it into 仮売上 or 売上計上, 異常 for 決済エラー, 確認中 while its answer is unknown.
func counted(st settlement.Status, processed bool) tally {
	switch st {
	case settlement.Authorized, settlement.Captured:
		if processed {
			return tallyCharged
		}
	case settlement.Failed:
		return tallyFailed
	}
	return tallyUnknown
}

// unclaim gives back a period this runner claimed and did not send: the contract's dates
// return to where they were before the claim (only if nobody moved them since).
func (r *Runner) unclaim(ctx context.Context, it *claimed) (bool, error) {
	var back bool
	err := r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if back, err = giveBack(ctx, tx, it.ch, it.s); err != nil || !back {
			return err
		}
		return tx.Model(&Contract{}).Where("id = ? AND next_charging = ?", it.c.ID, it.next.NextCharging).
			Updates(map[string]any{"next_charging": it.c.NextCharging, "next_contracting": it.c.NextContracting}).Error
	})
	return back, err
}

// giveBack removes, in tx, the pending settlement and the row of charge ch, which was never
// sent, and reports whether it did: false means the charge was sent (or changed) meanwhile,
// and nothing was removed. The caller returns the contract's dates.
func giveBack(ctx context.Context, tx *gorm.DB, ch Charge, s *settlement.Settlement) (bool, error) {
	err := settlement.Discard(ctx, tx, s)
	if errors.Is(err, settlement.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := tx.Where("id = ? AND status = ?", ch.ID, settlement.Pending).Delete(&Charge{}).Error; err != nil {
		return false, fmt.Errorf("charge %d: %w", ch.ID, err)
	}
	return true, nil
}

// recover is what a run does first and while it waits for others: it gives back the periods
// of runners that died before sending them (any day), and asks the settlement engine about
// the day's charges that were sent by runners that died before recording the answer, as the
// janitor would, so that the day can be closed.
func (r *Runner) recover(ctx context.Context, day Date) (int, error) {
	n, err := r.giveBackLapsed(ctx)
	if err != nil {
		return n, err
	}
	now := r.opt.Clock.Now().UTC()
	var ids []int64
	err = r.st.DB.WithContext(ctx).Table("continuation_charges AS ch").Joins("JOIN settlements s ON s.id = ch.settlement_id").
		Where("ch.run_date = ? AND ch.status = ? AND s.status = ? AND s.claimed_until < ?", day, settlement.Pending, settlement.Pending, now).
		Where("EXISTS (SELECT 1 FROM settlement_attempts a WHERE a.settlement_id = s.id)").
		Pluck("s.id", &ids).Error
	if err != nil {
		return n, fmt.Errorf("continuation %s: lapsed charges: %w", day, err)
	}
	for _, id := range ids {
		if _, err := r.settlements.Resolve(ctx, id, Actor); err != nil && !errors.Is(err, settlement.ErrUnresolved) {
			r.opt.Log.Warn("continuation: resolve a charge whose runner died", "settlement", id, "err", err)
		}
	}
	return n, nil
}

// giveBackLapsed gives back the periods whose lease ran out before their charge was sent
// (the runner that claimed them died, or was stopped without giving them back): the pending
// settlement and the charge row go, and 次回課金日 returns to the period (only if nobody
// moved it since), so that the next run charges it. 次回契約更新日 stays where the claim
// moved it: past the run's day, where the day's renewal puts it whether or not it charges.
// Rows are taken SKIP LOCKED, so replicas give back disjoint ones; a charge sent meanwhile
// is left alone.
func (r *Runner) giveBackLapsed(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more := 0, false
		err := r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			now := r.opt.Clock.Now().UTC()
			var rows []struct {
				ChargeID, SettlementID int64
			}
			// From the settlements' (status, resolve_after) index: this runs every few seconds.
			q := tx.Table("settlements AS s").Joins("JOIN continuation_charges ch ON ch.id = s.continuation_charge_id").
				Select("ch.id AS charge_id", "s.id AS settlement_id").
				Where("s.status = ? AND s.resolve_after <= ? AND s.continuation_charge_id IS NOT NULL AND s.wc_trans_id = ''", settlement.Pending, now).
				Where("s.claimed_until IS NULL OR s.claimed_until < ?", now).
				Where("ch.status = ?", settlement.Pending).
				Where("NOT EXISTS (SELECT 1 FROM settlement_attempts a WHERE a.settlement_id = s.id)").
				Order("s.resolve_after").Limit(r.opt.Batch)
			if err := r.st.SkipLocked(q).Scan(&rows).Error; err != nil {
				return err
			}
			more = len(rows) == r.opt.Batch
			for _, row := range rows {
				var ch Charge
				if err := tx.First(&ch, row.ChargeID).Error; err != nil {
					return err
				}
				s, err := settlement.Load(ctx, tx, row.SettlementID)
				if err != nil {
					return err
				}
				back, err := giveBack(ctx, tx, ch, s)
				if err != nil || !back {
					return err
				}
				var c Contract
				if err := tx.First(&c, ch.ContinuationID).Error; err != nil {
					return err
				}
				err = tx.Model(&Contract{}).Where("id = ? AND next_charging = ?", c.ID, c.Schedule().NextCharging(ch.Period)).
					Updates(map[string]any{"next_charging": ch.Period, "updated_at": now}).Error
				if err != nil {
					return fmt.Errorf("contract %d: give back period %s: %w", c.ID, ch.Period, err)
				}
				r.opt.Log.Info("continuation: gave back a period claimed and never sent", "contract", c.ID, "period", ch.Period.String(),
					"claimed_by_run", ch.RunDate.String())
				n++
			}
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("continuation: give back lapsed claims: %w", err)
		}
		if !more {
			return total, nil
		}
	}
}

// EventData is the data of the continuation.charged and continuation.failed webhooks.
type EventData struct {
	ContinuationID  int64  `json:"continuation_id"`
	OrderID         int64  `json:"order_id"`
	ChargeID        int64  `json:"charge_id"`
	Period          Date   `json:"period"`
	Attempt         int    `json:"attempt"`
	Amount          int64  `json:"amount"`
	Status          string `json:"status"`
	TransID         string `json:"trans_id"`
	ProviderID      string `json:"provider_id,omitempty"`
	Code            string `json:"code,omitempty"`
	Reason          string `json:"reason,omitempty"`
	NextCharging    Date   `json:"next_charging"`
	NextContracting Date   `json:"next_contracting"`
}

// eventData is the event of charge ch of contract c, whose dates are the next ones.
func eventData(c Contract, ch Charge, s *settlement.Settlement, res plugins.TransactionResult) EventData {
	return EventData{ContinuationID: c.ID, OrderID: c.OrderID, ChargeID: ch.ID, Period: ch.Period, Attempt: ch.Attempt,
		Amount: ch.Amount, Status: string(ch.Status), TransID: s.TransID, ProviderID: s.WcTransID, Code: res.Code,
		Reason: res.Reason, NextCharging: c.NextCharging, NextContracting: c.NextContracting}
}

func contractorName(o order.Order) string {
	return strings.TrimSpace(o.Name1 + " " + o.Name2)
}

// mailCharge is what the mails say about charge ch of contract c, whose dates are the next
// ones.
func mailCharge(c Contract, o order.Order, ch Charge, s *settlement.Settlement, result Outcome, res plugins.TransactionResult, noToken bool) chargeBlock {
	mc := chargeBlock{OrderID: c.OrderID, ApplicationDate: o.Date, MemberID: c.MemberID, ContractorName: contractorName(o),
		Amount: ch.Amount, TransID: s.TransID, ProviderID: s.WcTransID, NextCharging: c.NextCharging.String(),
		NextContracting: c.NextContracting.String(), Result: result, NoToken: noToken}
	if l, ok := Line(o); ok {
		mc.Items = []string{itemText(l)}
	}
	if result == OutcomeNG && !noToken {
		code := res.Code
		if code == "" {
			code = res.Reason
		}
		for _, m := range res.Messages {
			if code == "" {
				mc.Errors = append(mc.Errors, strings.TrimSpace(m))
			} else {
				mc.Errors = append(mc.Errors, strings.TrimSpace(code+" : "+m))
			}
		}
		if len(mc.Errors) == 0 && code != "" {
			mc.Errors = []string{code}
		}
	}
	return mc
}

func itemText(l order.Line) string {
	s := l.ItemName
	if s == "" {
		s = l.SKU
	}
	for k, v := range l.Options {
		s += " " + k + ":" + v
	}
	return s
}

// startRun makes sure the run's row exists: the row the runners of one day lock to decide
// which of them sends the result mail.
func (r *Runner) startRun(ctx context.Context, day Date) error {
	now := r.opt.Clock.Now().UTC()
	row := runRow{RunDate: day, StartedAt: now, UpdatedAt: now}
	err := r.st.DB.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("continuation run %s: %w", day, err)
	}
	return nil
}

type runRow struct {
	RunDate    Date `gorm:"primaryKey"`
	StartedAt  time.Time
	FinishedAt *time.Time
	MailedAt   *time.Time
	UpdatedAt  time.Time
}

func (runRow) TableName() string { return "continuation_runs" }

// renew moves 次回契約更新日 on for contracts due for renewal but not for a charge today
// (DL Seller's dlseller_action_do_continuation_contracting).
func (r *Runner) renew(ctx context.Context, day Date) (int, error) {
	total := 0
	for {
		n := 0
		err := r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var cs []Contract
			// Backticks quote the reserved word on both dialects (SQLite accepts MySQL's).
			q := tx.Table("continuations AS c").Select("c.*").
				Where("c.status = ? AND c.next_contracting IS NOT NULL AND c.next_contracting <= ? AND c.`interval` > 0", Active, day).
				Order("c.id").Limit(r.opt.Batch)
			if err := r.st.SkipLocked(q).Find(&cs).Error; err != nil {
				return err
			}
			for _, c := range cs {
				next := renewal(c, day)
				if err := tx.Model(&Contract{}).Where("id = ?", c.ID).Updates(map[string]any{"next_contracting": next, "updated_at": r.opt.Clock.Now().UTC()}).Error; err != nil {
					return err
				}
			}
			n = len(cs)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("continuation renew %s: %w", day, err)
		}
		total += n
		if n < r.opt.Batch {
			return total, nil
		}
	}
}

// finish decides, under the lock of the day's run row, whether every claim of the day is
// settled, and if so queues the admin's result mail (once: the row remembers, and the outbox
// event id is unique). It returns how much of the day is still held: contracts still due on
// it (claimed by nobody yet, or locked by another runner's claim for a moment) and charges
// still pending (sent and waiting for their answer, or claimed and not yet sent).
func (r *Runner) finish(ctx context.Context, day Date) (mailed bool, held int64, err error) {
	now := r.opt.Clock.Now().UTC()
	err = r.st.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var run runRow
		if err := r.st.ForUpdate(tx.Where("run_date = ?", day)).First(&run).Error; err != nil {
			return err
		}
		if run.MailedAt != nil {
			return nil
		}
		// Read after the lock, so the snapshot holds every charge recorded by runners that
		// finished before us.
		var due, pending int64
		if err := r.dueQuery(tx, day).Count(&due).Error; err != nil {
			return err
		}
		// A charge is held while its settlement has no answer: claimed and not sent yet, or
		// sent and waiting.
		err := tx.Table("continuation_charges AS ch").Joins("JOIN settlements s ON s.id = ch.settlement_id").
			Where("ch.run_date = ? AND ch.status = ? AND s.status = ?", day, settlement.Pending, settlement.Pending).Count(&pending).Error
		if err != nil {
			return err
		}
		if held = due + pending; held > 0 {
			return nil
		}
		msg, n, err := r.adminMail(ctx, tx, day, now)
		if err != nil || n == 0 {
			return err
		}
		if msg.To == "" {
			r.opt.Log.Warn("continuation: " + msgNoAdminMail)
			return nil
		}
		err = kmail.Enqueue(ctx, tx, "continuation:admin:"+day.String(), 0, msg)
		if err != nil && !errors.Is(err, outbox.ErrDuplicate) {
			return err
		}
		mailed = err == nil
		return tx.Model(&runRow{}).Where("run_date = ?", day).Update("mailed_at", now).Error
	})
	if err != nil {
		return false, held, fmt.Errorf("continuation finish %s: %w", day, err)
	}
	return mailed, held, nil
}

// finishEarlier sends the result mail of the days before day (up to 60) that runners left
// with charges and without their mail: a runner that died, or was stopped, before the last
// claim of its day was settled.
func (r *Runner) finishEarlier(ctx context.Context, day Date) error {
	var days []Date
	err := r.st.DB.WithContext(ctx).Model(&runRow{}).
		Where("mailed_at IS NULL AND run_date < ? AND run_date >= ?", day, day.AddDays(-60)).
		Where("EXISTS (SELECT 1 FROM continuation_charges ch WHERE ch.run_date = continuation_runs.run_date)").
		Order("run_date").Pluck("run_date", &days).Error
	if err != nil {
		return fmt.Errorf("continuation: unfinished days: %w", err)
	}
	var errs []error
	for _, d := range days {
		if _, _, err := r.finish(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Recover is the runs' share of the janitor, for every replica to call every few seconds: it
// gives back the periods of runners that died before sending them, and sends the result mail
// of days (up to today) whose runners stopped before every claim was settled.
func (r *Runner) Recover(ctx context.Context) error {
	n, err := r.giveBackLapsed(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		r.opt.Log.Info("continuation: periods given back for the next run", "periods", n)
	}
	return r.finishEarlier(ctx, DateOf(r.opt.Clock.Now(), jst.Tokyo).AddDays(1))
}

// adminMail builds the result mail from every charge of the day's run, whoever made it. The
// counts are of all charges; only the charges it shows are read, so that a run of 100,000
// contracts builds it in the memory of 1,000.
func (r *Runner) adminMail(ctx context.Context, tx *gorm.DB, day Date, now time.Time) (kmail.Message, int, error) {
	tx = tx.WithContext(ctx)
	var counts []struct {
		Status settlement.Status
		N      int
	}
	if err := tx.Model(&Charge{}).Select("status, COUNT(*) AS n").Where("run_date = ?", day).Group("status").Scan(&counts).Error; err != nil {
		return kmail.Message{}, 0, err
	}
	nOK, nNG := 0, 0
	for _, c := range counts {
		if succeeded(c.Status) {
			nOK += c.N
		} else {
			nNG += c.N
		}
	}
	if nOK+nNG == 0 {
		return kmail.Message{}, 0, nil
	}
	set, err := LoadSettings(ctx, tx)
	if err != nil {
		return kmail.Message{}, 0, err
	}
	// The blocks: every 異常 first, then 正常, up to MaxAdminBlocks.
	okStatuses := []settlement.Status{settlement.Authorized, settlement.Captured}
	var shown []Charge
	if err := tx.Where("run_date = ? AND status NOT IN ?", day, okStatuses).Order("id").Limit(r.opt.MaxAdminBlocks).Find(&shown).Error; err != nil {
		return kmail.Message{}, 0, err
	}
	if room := r.opt.MaxAdminBlocks - len(shown); room > 0 && nOK > 0 {
		var ok []Charge
		if err := tx.Where("run_date = ? AND status IN ?", day, okStatuses).Order("id").Limit(room).Find(&ok).Error; err != nil {
			return kmail.Message{}, 0, err
		}
		shown = append(shown, ok...)
	}
	blocks, err := r.blocks(ctx, tx, shown)
	if err != nil {
		return kmail.Message{}, 0, err
	}
	msg := adminResultMail(set.AdminMail, adminResult{RunDate: day.String(), At: now, OK: nOK, NG: nNG,
		Blocks: blocks, Omitted: nOK + nNG - len(shown)}, jst.Tokyo)
	return msg, nOK + nNG, nil
}

// succeeded reports whether a charge in status st counts as 正常 in the result mail.
func succeeded(st settlement.Status) bool {
	return st == settlement.Authorized || st == settlement.Captured
}

// blocks loads what the mail says about each charge.
func (r *Runner) blocks(ctx context.Context, tx *gorm.DB, charges []Charge) ([]chargeBlock, error) {
	if len(charges) == 0 {
		return nil, nil
	}
	var cids, sids []int64
	for _, ch := range charges {
		cids = append(cids, ch.ContinuationID)
		if ch.SettlementID != nil {
			sids = append(sids, *ch.SettlementID)
		}
	}
	contracts := map[int64]Contract{}
	orders := map[int64]order.Order{}
	setts := map[int64]settlement.Settlement{}
	last := map[int64]settlement.History{}
	for part := range chunks(cids, 500) {
		var cs []Contract
		if err := tx.WithContext(ctx).Where("id IN ?", part).Find(&cs).Error; err != nil {
			return nil, err
		}
		var oids []int64
		for _, c := range cs {
			contracts[c.ID] = c
			oids = append(oids, c.OrderID)
		}
		var os []order.Order
		if err := tx.WithContext(ctx).Where("id IN ?", oids).Find(&os).Error; err != nil {
			return nil, err
		}
		for _, o := range os {
			orders[o.ID] = o
		}
	}
	for part := range chunks(sids, 500) {
		var ss []settlement.Settlement
		if err := tx.WithContext(ctx).Where("id IN ?", part).Find(&ss).Error; err != nil {
			return nil, err
		}
		for _, s := range ss {
			setts[s.ID] = s
		}
		var hs []settlement.History
		if err := tx.WithContext(ctx).Where("settlement_id IN ?", part).Order("id").Find(&hs).Error; err != nil {
			return nil, err
		}
		for _, h := range hs {
			last[h.SettlementID] = h
		}
	}
	out := make([]chargeBlock, 0, len(charges))
	for _, ch := range charges {
		c := contracts[ch.ContinuationID]
		var s settlement.Settlement
		var h settlement.History
		if ch.SettlementID != nil {
			s, h = setts[*ch.SettlementID], last[*ch.SettlementID]
		}
		res := plugins.TransactionResult{Result: plugins.Result{Code: h.Code}}
		if h.Message != "" {
			res.Messages = strings.Split(h.Message, " / ")
		}
		result := OutcomeUnknown
		switch ch.Status {
		case settlement.Authorized, settlement.Captured:
			result = OutcomeOK
		case settlement.Failed:
			result = OutcomeNG
		}
		out = append(out, mailCharge(c, orders[c.OrderID], ch, &s, result, res, false))
	}
	return out, nil
}

func chunks(ids []int64, n int) func(func([]int64) bool) {
	return func(yield func([]int64) bool) {
		for i := 0; i < len(ids); i += n {
			if !yield(ids[i:min(i+n, len(ids))]) {
				return
			}
		}
	}
}

// moduleSettings are a module's continuation switches the run needs before a charge.
type moduleSettings struct {
	immediate bool // 自動継続課金処理区分 = 即時売上確定
}

// runCache keeps what every charge of a run looks up again: module settings, and the pace
// of each module's calls.
type runCache struct {
	r        *Runner
	mu       sync.Mutex
	settings map[string]moduleSettings
	paces    map[string]*pace
}

func (r *Runner) newRunCache() *runCache {
	return &runCache{r: r, settings: map[string]moduleSettings{}, paces: map[string]*pace{}}
}

// pace returns the pace of module slug's calls in this run.
func (c *runCache) pace(slug string) *pace {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.paces[slug]
	if !ok {
		rate, named := c.r.opt.Rates[slug]
		if !named {
			rate = c.r.opt.Rates[""]
		}
		p = &pace{}
		if rate > 0 {
			p.every = time.Duration(float64(time.Second) / rate)
		}
		c.paces[slug] = p
	}
	return p
}

// pace spaces a module's calls evenly at its rate, so that no second, however it is cut,
// holds more calls than the rate: a provider's limit is respected without bursts.
type pace struct {
	mu    sync.Mutex
	every time.Duration // zero: no bound
	next  time.Time
}

// wait returns when the next call may go, or when ctx ends.
func (p *pace) wait(ctx context.Context) {
	if p.every <= 0 {
		return
	}
	now := time.Now() // a provider's rate limit counts wall time
	if d := p.slot(now).Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// slot reserves the next call's time, asked at now: now itself when the module has been idle
// for a while, else one interval after the call before. A slot whose caller stopped waiting
// is not given to another: the pace errs on the provider's side.
func (p *pace) slot(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if p.next.After(now) {
		at = p.next
	}
	p.next = at.Add(p.every)
	return at
}

func (c *runCache) module(ctx context.Context, slug string) moduleSettings {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ms, ok := c.settings[slug]; ok {
		return ms
	}
	// A module that does not have the switch leaves the sales mode to the adapter.
	var ms moduleSettings
	vals, err := c.r.mods.Settings(ctx, slug)
	if err != nil {
		c.r.opt.Log.Warn("continuation: module settings", "module", slug, "err", err)
	}
	for _, v := range vals {
		val := v.Value
		if val == "" {
			val = v.Default
		}
		if v.Key == settingSalesMode {
			ms.immediate = val == salesImmediate
		}
	}
	c.settings[slug] = ms
	return ms
}
