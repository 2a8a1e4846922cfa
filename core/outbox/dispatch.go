package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
)

// Handler delivers one message. A nil error means delivered. Any other error schedules a
// retry, unless it wraps ErrPermanent; a *StatusError puts the receiver's code in the log.
// Handlers must honour ctx: it carries the delivery timeout.
type Handler interface {
	Deliver(ctx context.Context, m Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m Message) error

// Deliver calls f.
func (f HandlerFunc) Deliver(ctx context.Context, m Message) error { return f(ctx, m) }

// DefaultBackoff is the wait after each failed attempt: nine attempts over about sixteen hours,
// so a shop whose server is down for a night still gets its events in the morning.
var DefaultBackoff = []time.Duration{
	30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour,
}

// Options tune a Dispatcher; the zero value is production's.
type Options struct {
	// Clock drives due times, leases and backoff; nil means the store's.
	Clock clockwork.Clock
	Log   *slog.Logger
	// Backoff is the wait after the 1st, 2nd, … failed attempt; after the last one fails the
	// message is dead. Nil means DefaultBackoff.
	Backoff []time.Duration
	// Jitter spreads each wait by up to ±Jitter of itself, so messages that failed together
	// (a receiver outage) do not all come back in the same second. Zero means 0.2; negative
	// means none.
	Jitter float64
	// Timeout bounds one delivery; zero means 30s.
	Timeout time.Duration
	// Lease is how long a claimed row belongs to this dispatcher; after it, another may take
	// the row over. It is kept above Timeout plus a margin, so a live dispatcher always
	// finishes inside its lease. Zero means Timeout + 1m.
	Lease time.Duration
	// Batch is how many rows one claim takes; zero means 20.
	Batch int
	// Workers is how many deliveries run at once; zero means 4.
	Workers int
}

// Dispatcher claims due messages and hands them to the Handler registered for their kind.
type Dispatcher struct {
	db  *gorm.DB
	st  *store.Store
	opt Options

	mu       sync.RWMutex
	handlers map[string]Handler
}

// NewDispatcher returns a dispatcher over s with no handlers yet.
func NewDispatcher(s *store.Store, opt Options) *Dispatcher {
	if opt.Clock == nil {
		opt.Clock = s.Clock
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Backoff == nil {
		opt.Backoff = DefaultBackoff
	}
	if opt.Jitter == 0 {
		opt.Jitter = 0.2
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.Lease < opt.Timeout+10*time.Second {
		opt.Lease = opt.Timeout + time.Minute
	}
	if opt.Batch <= 0 {
		opt.Batch = 20
	}
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	return &Dispatcher{db: s.DB, st: s, opt: opt, handlers: map[string]Handler{}}
}

// Register makes h deliver messages of kind. A dispatcher claims only kinds it has a handler
// for, so a replica running an older binary leaves newer kinds to the replicas that know them.
func (d *Dispatcher) Register(kind string, h Handler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.handlers[kind] = h
}

// MaxAttempts is how many times a message is tried before it is dead.
func (d *Dispatcher) MaxAttempts() int { return len(d.opt.Backoff) + 1 }

// Schedule adds a gocron job that dispatches every interval. Singleton mode keeps a slow run
// (a receiver timing out) from overlapping the next; the rows themselves are protected by the
// claim whatever the scheduler does, so every replica may run the job.
func (d *Dispatcher) Schedule(s gocron.Scheduler, every time.Duration) (gocron.Job, error) {
	j, err := s.NewJob(gocron.DurationJob(every),
		gocron.NewTask(func(ctx context.Context) {
			if _, err := d.DispatchOnce(ctx); err != nil && ctx.Err() == nil {
				d.opt.Log.Error("outbox dispatch", "err", err)
			}
		}),
		gocron.WithName("outbox"),
		gocron.WithSingletonMode(gocron.LimitModeReschedule))
	if err != nil {
		return nil, fmt.Errorf("schedule outbox: %w", err)
	}
	return j, nil
}

// DispatchOnce delivers every message due now, batch after batch, until none is left, and
// returns how many attempts it made. Messages that fail are rescheduled into the future, so
// the loop ends. Tests call it after moving the clock; the scheduled job calls it too.
func (d *Dispatcher) DispatchOnce(ctx context.Context) (int, error) {
	kinds := d.kinds()
	if len(kinds) == 0 {
		return 0, nil
	}
	total, busy := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		batch, held, err := d.claim(ctx, kinds)
		if err != nil {
			return total, err
		}
		if len(batch) == 0 {
			// Due rows that another dispatcher was claiming at that instant are its to send
			// once its claim commits; look again a few times in case more lie behind them.
			if !held || busy >= 20 {
				return total, nil
			}
			busy++
			time.Sleep(5 * time.Millisecond)
			continue
		}
		busy = 0
		total += len(batch)
		if err := d.deliverAll(ctx, batch); err != nil {
			return total, err
		}
	}
}

func (d *Dispatcher) kinds() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]string, 0, len(d.handlers))
	for k := range d.handlers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (d *Dispatcher) handler(kind string) Handler {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.handlers[kind]
}

// claim takes up to Batch due rows in a short transaction: lock them (skipping rows another
// dispatcher holds), mark them sending with a lease, count the attempt, commit. Delivery
// happens after the commit, so no row lock is held while a receiver is slow.
//
// The lock is taken in two steps. A locking read that sorts by due time would lock every row
// it sorts on MySQL, not only the Batch it returns, so a second dispatcher would find them all
// locked and go idle. Instead a plain read picks a few batches' worth of candidates, and the
// locking read touches only those, by primary key. busy reports candidates that others held,
// so the caller knows the queue was not empty.
func (d *Dispatcher) claim(ctx context.Context, kinds []string) (rows []row, busy bool, err error) {
	now := stamp(d.opt.Clock.Now())
	lease := now.Add(d.opt.Lease)
	due := func(q *gorm.DB) *gorm.DB {
		return q.Where("state IN ? AND next_attempt_at <= ? AND kind IN ?", []State{Pending, Sending}, now, kinds)
	}
	err = d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []int64
		if err := due(tx.Model(&row{})).Order("next_attempt_at, id").Limit(4*d.opt.Batch).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		err := due(d.st.SkipLocked(tx).Where("id IN ?", ids)).Order("id").Limit(d.opt.Batch).Find(&rows).Error
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			busy = true
			return nil
		}
		claimed := make([]int64, len(rows))
		for i := range rows {
			claimed[i] = rows[i].ID
			if rows[i].State == Sending {
				d.opt.Log.Warn("outbox: lease expired, taking over", "event_id", rows[i].EventID, "attempt", rows[i].Attempts)
			}
			rows[i].State = Sending
			rows[i].Attempts++
			rows[i].NextAttemptAt = lease
		}
		return tx.Model(&row{}).Where("id IN ?", claimed).Updates(map[string]any{
			"state":           Sending,
			"attempts":        gorm.Expr("attempts + 1"),
			"next_attempt_at": lease,
		}).Error
	})
	if err != nil {
		return nil, false, fmt.Errorf("outbox claim: %w", err)
	}
	return rows, busy, nil
}

func (d *Dispatcher) deliverAll(ctx context.Context, batch []row) error {
	sem := make(chan struct{}, d.opt.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i, r := range batch {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			// Stopping: hand back what was claimed but not started, so it goes out at once
			// from another replica (or this one after restart) instead of after the lease.
			wg.Wait()
			return errors.Join(append(errs, d.release(batch[i:]), ctx.Err())...)
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := d.deliver(ctx, r); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// release undoes the claim of rows that were never tried.
func (d *Dispatcher) release(rows []row) error {
	var errs []error
	for _, r := range rows {
		err := d.db.WithContext(context.Background()).Model(&row{}).
			Where("id = ? AND state = ? AND attempts = ?", r.ID, Sending, r.Attempts).
			Updates(map[string]any{"state": Pending, "attempts": r.Attempts - 1, "next_attempt_at": stamp(d.opt.Clock.Now())}).Error
		if err != nil {
			errs = append(errs, fmt.Errorf("outbox release %s: %w", r.EventID, err))
		}
	}
	return errors.Join(errs...)
}

// deliver runs the handler for one claimed row and records the attempt and the row's next
// state. The returned error is about kessai's own database, never about the receiver.
func (d *Dispatcher) deliver(ctx context.Context, r row) error {
	m := r.message()
	start := d.opt.Clock.Now()
	// The attempt's duration is measured on the wall clock: it is a figure for the delivery
	// log, not a time the dispatcher decides by.
	wall := time.Now()
	err := d.call(ctx, m)
	elapsed := time.Since(wall)

	a := Attempt{OutboxID: r.ID, Attempt: r.Attempts, StartedAt: stamp(start), DurationMS: elapsed.Milliseconds()}
	var se *StatusError
	if errors.As(err, &se) {
		a.StatusCode = se.Code
	}
	next := map[string]any{}
	now := stamp(d.opt.Clock.Now())
	switch {
	case err == nil:
		a.Outcome = OutcomeDelivered
		next["state"], next["delivered_at"], next["last_error"] = Delivered, now, nil
	case errors.Is(err, ErrPermanent) || r.Attempts >= d.MaxAttempts():
		a.Outcome = OutcomeDead
		next["state"], next["last_error"] = Dead, err.Error()
	default:
		a.Outcome = OutcomeRetry
		next["state"], next["last_error"] = Pending, err.Error()
		next["next_attempt_at"] = now.Add(d.wait(r.Attempts))
	}
	if err != nil {
		msg := err.Error()
		a.Error = &msg
	}

	// The outcome is recorded even when the daemon is stopping: the attempt happened.
	wctx := context.WithoutCancel(ctx)
	var fenced bool
	werr := d.db.WithContext(wctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&a).Error; err != nil {
			return err
		}
		// attempts is the fencing token: if our lease ran out and another dispatcher took
		// the row (and counted a new attempt), its outcome wins and ours is only logged.
		res := tx.Model(&row{}).Where("id = ? AND state = ? AND attempts = ?", r.ID, Sending, r.Attempts).Updates(next)
		fenced = res.RowsAffected == 0
		return res.Error
	})
	if werr != nil {
		return fmt.Errorf("outbox record %s attempt %d: %w", m.EventID, r.Attempts, werr)
	}
	switch {
	case fenced:
		d.opt.Log.Warn("outbox: lease lost before the attempt finished; outcome logged only",
			"event_id", m.EventID, "attempt", r.Attempts, "outcome", a.Outcome)
	case a.Outcome == OutcomeDead:
		d.opt.Log.Error("outbox: message dead", "kind", m.Kind, "event_id", m.EventID, "attempts", r.Attempts, "err", err)
	case a.Outcome == OutcomeRetry:
		d.opt.Log.Info("outbox: delivery failed, will retry", "kind", m.Kind, "event_id", m.EventID,
			"attempt", r.Attempts, "next", next["next_attempt_at"], "err", err)
	}
	return nil
}

// call runs the handler with the delivery timeout and turns a panic into an error, so one bad
// message cannot take the dispatcher (and every other message) down with it.
func (d *Dispatcher) call(ctx context.Context, m Message) (err error) {
	h := d.handler(m.Kind)
	if h == nil {
		return fmt.Errorf("no handler for kind %q", m.Kind)
	}
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return h.Deliver(ctx, m)
}

// wait is the backoff after the attempt-th failure, with jitter.
func (d *Dispatcher) wait(attempt int) time.Duration {
	i := min(attempt, len(d.opt.Backoff)) - 1
	base := d.opt.Backoff[max(i, 0)]
	if d.opt.Jitter <= 0 {
		return base
	}
	f := 1 + d.opt.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(base) * f)
}
