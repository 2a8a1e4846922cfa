package continuation

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins/jst"
)

// JobName is the gocron job's name and its job_locks key.
const JobName = "continuation"

// ErrLocked is returned by the locker when another replica already ran (or is running) the
// job for the day.
var ErrLocked = fault.Sentinel("continuation: another replica has the day's run", fault.Conflict,
	"run_locked", "本日の自動継続課金処理は別のサーバーで実行済みか実行中です。")

// Locker is a gocron distributed locker on the job_locks table: the first replica to insert
// (job, day) runs the job, the others get ErrLocked. The row is kept after the run, unlike a
// lease, so a replica whose clock is a few seconds late does not run the same day again (the
// failure gocron #841 describes); rows older than 60 days are removed as new ones come.
type Locker struct {
	db    *gorm.DB
	clock clockwork.Clock
	owner string
}

var _ gocron.Locker = (*Locker)(nil)

// NewLocker returns a locker over db; owner names this replica in the table.
func NewLocker(db *gorm.DB, clock clockwork.Clock, owner string) *Locker {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if owner == "" {
		host, _ := os.Hostname()
		owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	return &Locker{db: db, clock: clock, owner: owner}
}

type jobLock struct {
	Name       string `gorm:"primaryKey"`
	RunKey     string `gorm:"primaryKey"`
	Owner      string
	LockedAt   time.Time
	ReleasedAt *time.Time
}

func (jobLock) TableName() string { return "job_locks" }

// RunDay is the day a run started at now is for: the Tokyo day of now rounded to the
// minute, so a replica firing 01:00 a little early (00:59:59.8) names the same day.
func RunDay(now time.Time) Date { return DateOf(now.Round(time.Minute), jst.Tokyo) }

// Lock takes (key, today).
func (l *Locker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	now := l.clock.Now()
	row := jobLock{Name: key, RunKey: RunDay(now).String(), Owner: l.owner, LockedAt: now.UTC()}
	if err := l.db.WithContext(ctx).Create(&row).Error; err != nil {
		if store.IsDuplicate(err) {
			return nil, fmt.Errorf("%s %s: %w", key, row.RunKey, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s %s: %w", key, row.RunKey, err)
	}
	old := RunDay(now).AddDays(-60).String()
	_ = l.db.WithContext(ctx).Where("name = ? AND run_key < ?", key, old).Delete(&jobLock{}).Error
	return &dayLock{l: l, row: row}, nil
}

type dayLock struct {
	l   *Locker
	row jobLock
}

// Unlock records the end of the run; the row stays and keeps the day taken.
func (d *dayLock) Unlock(ctx context.Context) error {
	return d.l.db.WithContext(context.WithoutCancel(ctx)).Model(&jobLock{}).
		Where("name = ? AND run_key = ?", d.row.Name, d.row.RunKey).Update("released_at", d.l.clock.Now().UTC()).Error
}

// Job is the daily run in a gocron scheduler, at 自動処理の実行時間.
type Job struct {
	s      gocron.Scheduler
	r      *Runner
	locker *Locker

	mu  sync.Mutex
	job gocron.Job
	at  string
}

// ScheduleRun adds the daily run to s at the saved 自動処理の実行時間, and a watcher that moves
// it within a minute when another replica saved a new time.
func ScheduleRun(ctx context.Context, s gocron.Scheduler, r *Runner, locker *Locker) (*Job, error) {
	set, err := LoadSettings(ctx, r.st.DB)
	if err != nil {
		return nil, err
	}
	j := &Job{s: s, r: r, locker: locker, at: set.RunTime}
	def, err := cronAt(set.RunTime)
	if err != nil {
		return nil, err
	}
	if j.job, err = s.NewJob(def, j.task(), j.options()...); err != nil {
		return nil, fmt.Errorf("schedule continuation: %w", err)
	}
	_, err = s.NewJob(gocron.DurationJob(time.Minute), gocron.NewTask(func(ctx context.Context) {
		if err := j.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.opt.Log.Warn("continuation: refresh run time", "err", err)
		}
	}), gocron.WithName(JobName+"-time"), gocron.WithSingletonMode(gocron.LimitModeReschedule))
	if err != nil {
		return nil, fmt.Errorf("schedule continuation watcher: %w", err)
	}
	return j, nil
}

func cronAt(at string) (gocron.JobDefinition, error) {
	h, m, err := ParseRunTime(at)
	if err != nil {
		return nil, err
	}
	// The zone is in the expression, so the run stays at Tokyo time whatever the scheduler's.
	return gocron.CronJob(fmt.Sprintf("CRON_TZ=%s %d %d * * *", jst.Tokyo, m, h), false), nil
}

func (j *Job) task() gocron.Task {
	return gocron.NewTask(func(ctx context.Context) {
		day := RunDay(j.r.opt.Clock.Now())
		if _, err := j.r.Run(ctx, day); err != nil {
			j.r.opt.Log.Error("continuation run", "date", day.String(), "err", err)
		}
	})
}

func (j *Job) options() []gocron.JobOption {
	opts := []gocron.JobOption{gocron.WithName(JobName), gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithEventListeners(gocron.AfterLockError(func(_ uuid.UUID, _ string, err error) {
			j.r.opt.Log.Info("continuation: run skipped on this replica", "reason", err)
		}))}
	if j.locker != nil {
		opts = append(opts, gocron.WithDistributedJobLocker(j.locker))
	}
	return opts
}

// At is the time the run is scheduled at.
func (j *Job) At() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.at
}

// Reschedule moves the run to at (HH:MM) without a restart.
func (j *Job) Reschedule(at string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if at == j.at {
		return nil
	}
	def, err := cronAt(at)
	if err != nil {
		return err
	}
	nj, err := j.s.Update(j.job.ID(), def, j.task(), j.options()...)
	if err != nil {
		return fmt.Errorf("reschedule continuation to %s: %w", at, err)
	}
	j.job, j.at = nj, at
	j.r.opt.Log.Info("continuation: run time changed", "at", at)
	return nil
}

// Refresh reads the saved run time and reschedules if it changed.
func (j *Job) Refresh(ctx context.Context) error {
	set, err := LoadSettings(ctx, j.r.st.DB)
	if err != nil {
		return err
	}
	return j.Reschedule(set.RunTime)
}

// NextRun is when the run fires next.
func (j *Job) NextRun() (time.Time, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.job.NextRun()
}

// Parts are what Register needs of a daemon.
type Parts struct {
	Store     *store.Store
	Box       *secret.Box
	Modules   Adapters
	Scheduler gocron.Scheduler
	Log       *slog.Logger
	// Settlements charges through the settlement engine and gives the contract screens
	// 売上計上 and 取消 of a charge. The service's Observer must be registered with it.
	Settlements Settlements
	// Options tune the runner (Clock, Log are filled from here when empty).
	Options Options
}

// Register builds the runner and the service, schedules the daily run with the job_locks
// locker, so that of several replicas one runs each day, and schedules Recover on every
// replica. At shutdown, wait for Runner().Wait before stopping the adapters: a run stopped by
// the scheduler still finishes the charges it sent.
func Register(ctx context.Context, p Parts) (*Service, error) {
	opt := p.Options
	if opt.Log == nil {
		opt.Log = p.Log
	}
	r := NewRunner(p.Store, p.Box, p.Modules, p.Settlements, opt)
	sv := NewService(r)
	job, err := ScheduleRun(ctx, p.Scheduler, r, NewLocker(p.Store.DB, r.opt.Clock, ""))
	if err != nil {
		return nil, err
	}
	sv.job = job
	// Every replica gives back, next to the janitor, the periods of runners that died, and
	// closes the days they left unfinished.
	_, err = p.Scheduler.NewJob(gocron.DurationJob(RecoverEvery), gocron.NewTask(func(ctx context.Context) {
		if err := r.Recover(ctx); err != nil && ctx.Err() == nil {
			r.opt.Log.Warn("continuation: recover", "err", err)
		}
	}), gocron.WithName(JobName+"-recover"), gocron.WithSingletonMode(gocron.LimitModeReschedule))
	if err != nil {
		return nil, fmt.Errorf("schedule continuation recovery: %w", err)
	}
	return sv, nil
}

// RecoverEvery is how often each replica runs Runner.Recover.
const RecoverEvery = 15 * time.Second

// Job is the scheduled run, nil when the service was not registered with a scheduler.
func (sv *Service) Job() *Job { return sv.job }
