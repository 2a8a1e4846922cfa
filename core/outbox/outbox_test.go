package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

// fakeClock starts a minute ahead of the wall clock: Enqueue stamps rows with the wall clock,
// and a dispatcher only sees rows due by its own clock.
func fakeClock() *clockwork.FakeClock { return clockwork.NewFakeClockAt(time.Now().Add(time.Minute)) }

// recorder is a Handler that counts deliveries per event id and fails while told to.
type recorder struct {
	mu   sync.Mutex
	got  map[string]int
	fail func(m outbox.Message) error
}

func newRecorder() *recorder { return &recorder{got: map[string]int{}} }

func (r *recorder) Deliver(ctx context.Context, m outbox.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return err
		}
	}
	r.got[m.EventID]++
	return nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

func enqueue(t *testing.T, db *gorm.DB, id string) {
	t.Helper()
	if _, err := outbox.Enqueue(context.Background(), db, outbox.Message{Kind: "test", EventID: id, Payload: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
}

func dispatch(t *testing.T, d *outbox.Dispatcher) int {
	t.Helper()
	n, err := d.DispatchOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func state(t *testing.T, s *store.Store, id string) outbox.Status {
	t.Helper()
	st, err := outbox.Get(context.Background(), s.DB, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestEnqueueFollowsTheTransaction(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		rec := newRecorder()
		d := outbox.NewDispatcher(s, outbox.Options{Clock: fakeClock(), Log: quiet})
		d.Register("test", rec)

		t.Run("a rolled-back change sends nothing", func(t *testing.T) {
			boom := errors.New("order insert failed")
			err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				enqueue(t, tx, "evt_rolled_back")
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if n := dispatch(t, d); n != 0 {
				t.Fatalf("dispatched %d messages, want none", n)
			}
			if _, err := outbox.Get(ctx, s.DB, "evt_rolled_back"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rolled-back message is in the outbox: %v", err)
			}
		})
		t.Run("a committed change is sent once", func(t *testing.T) {
			err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				enqueue(t, tx, "evt_committed")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := dispatch(t, d); n != 1 {
				t.Fatalf("dispatched %d, want 1", n)
			}
			if n := dispatch(t, d); n != 0 {
				t.Fatalf("second pass dispatched %d, want 0", n)
			}
			if rec.count("evt_committed") != 1 || state(t, s, "evt_committed").State != outbox.Delivered {
				t.Fatalf("delivered %d times, state %s", rec.count("evt_committed"), state(t, s, "evt_committed").State)
			}
		})
		t.Run("the same event id cannot be enqueued twice", func(t *testing.T) {
			_, err := outbox.Enqueue(ctx, s.DB, outbox.Message{Kind: "test", EventID: "evt_committed"})
			if !errors.Is(err, outbox.ErrDuplicate) {
				t.Fatalf("err = %v, want ErrDuplicate", err)
			}
		})
		t.Run("kinds without a handler are left alone", func(t *testing.T) {
			if _, err := outbox.Enqueue(ctx, s.DB, outbox.Message{Kind: "mail", EventID: "mail_1"}); err != nil {
				t.Fatal(err)
			}
			if n := dispatch(t, d); n != 0 {
				t.Fatalf("dispatched %d, want 0", n)
			}
			if st := state(t, s, "mail_1"); st.State != outbox.Pending || st.Attempts != 0 {
				t.Fatalf("mail message = %+v, want untouched", st)
			}
		})
	})
}

func TestBackoffUntilDead(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		clock := fakeClock()
		rec := newRecorder()
		rec.fail = func(outbox.Message) error { return &outbox.StatusError{Code: 503, Body: "maintenance"} }
		d := outbox.NewDispatcher(s, outbox.Options{Clock: clock, Log: quiet})
		d.Register("test", rec)
		enqueue(t, s.DB, "evt_never")

		if d.MaxAttempts() < 8 {
			t.Fatalf("MaxAttempts = %d, want at least 8", d.MaxAttempts())
		}
		if n := dispatch(t, d); n != 1 {
			t.Fatalf("first pass: %d attempts", n)
		}
		var spent time.Duration
		for i, wait := range outbox.DefaultBackoff {
			// Just before the earliest jittered retry time nothing is due…
			clock.Advance(wait * 7 / 10)
			if n := dispatch(t, d); n != 0 {
				t.Fatalf("retry %d ran after %s, before its backoff of %s", i+1, wait*7/10, wait)
			}
			// …and just after the latest it is.
			clock.Advance(wait * 6 / 10)
			spent += wait * 13 / 10
			if n := dispatch(t, d); n != 1 {
				t.Fatalf("retry %d did not run after %s", i+1, wait*13/10)
			}
		}
		if spent < 10*time.Hour {
			t.Fatalf("all attempts within %s; the schedule must spread over hours", spent)
		}
		st := state(t, s, "evt_never")
		if st.State != outbox.Dead || st.Attempts != d.MaxAttempts() || st.LastError == "" {
			t.Fatalf("after %d failures: %+v, want dead", d.MaxAttempts(), st)
		}
		clock.Advance(48 * time.Hour)
		if n := dispatch(t, d); n != 0 {
			t.Fatalf("a dead message was tried again")
		}
		log, err := outbox.Deliveries(context.Background(), s.DB, outbox.Filter{Kind: "test", EventID: "evt_never"})
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != d.MaxAttempts() {
			t.Fatalf("delivery log has %d attempts, want %d", len(log), d.MaxAttempts())
		}
		for i, a := range log { // newest first
			want := outbox.OutcomeRetry
			if i == 0 {
				want = outbox.OutcomeDead
			}
			if a.Attempt.Attempt != d.MaxAttempts()-i || a.StatusCode != 503 || a.Outcome != want || a.Error == nil {
				t.Errorf("log[%d] = attempt %d, code %d, outcome %s", i, a.Attempt.Attempt, a.StatusCode, a.Outcome)
			}
		}
	})
}

func TestPermanentFailureIsDeadAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		d := outbox.NewDispatcher(s, outbox.Options{Clock: fakeClock(), Log: quiet})
		d.Register("test", outbox.HandlerFunc(func(context.Context, outbox.Message) error {
			return fmt.Errorf("endpoint deleted: %w", outbox.ErrPermanent)
		}))
		enqueue(t, s.DB, "evt_gone")
		dispatch(t, d)
		if st := state(t, s, "evt_gone"); st.State != outbox.Dead || st.Attempts != 1 {
			t.Fatalf("%+v, want dead after one attempt", st)
		}
	})
}

func TestCrashMidDelivery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		clock := fakeClock()
		enqueue(t, s.DB, "evt_crash")

		// Dispatcher A claims the message and hangs inside the delivery, as a replica does when
		// its process is frozen or killed after claiming: nothing more is written for the row.
		entered, release := make(chan struct{}), make(chan struct{})
		var aSent atomic.Int32
		a := outbox.NewDispatcher(s, outbox.Options{Clock: clock, Log: quiet, Timeout: time.Minute})
		a.Register("test", outbox.HandlerFunc(func(ctx context.Context, m outbox.Message) error {
			close(entered)
			<-release
			aSent.Add(1)
			return nil
		}))
		aDone := make(chan error, 1)
		go func() { _, err := a.DispatchOnce(ctx); aDone <- err }()
		<-entered

		b := outbox.NewDispatcher(s, outbox.Options{Clock: clock, Log: quiet, Timeout: time.Minute})
		rec := newRecorder()
		b.Register("test", rec)

		t.Run("while the lease runs nobody else takes the row", func(t *testing.T) {
			if n := dispatch(t, b); n != 0 {
				t.Fatalf("B took a leased row")
			}
			if st := state(t, s, "evt_crash"); st.State != outbox.Sending || st.Attempts != 1 {
				t.Fatalf("%+v, want sending, attempt 1", st)
			}
		})
		t.Run("after the lease another dispatcher delivers it", func(t *testing.T) {
			clock.Advance(5 * time.Minute)
			if n := dispatch(t, b); n != 1 {
				t.Fatalf("B made %d attempts after the lease expired, want 1", n)
			}
			if st := state(t, s, "evt_crash"); st.State != outbox.Delivered || st.Attempts != 2 || rec.count("evt_crash") != 1 {
				t.Fatalf("%+v, delivered by B %d times", st, rec.count("evt_crash"))
			}
		})
		t.Run("the stale dispatcher's late answer changes nothing", func(t *testing.T) {
			close(release)
			if err := <-aDone; err != nil {
				t.Fatal(err)
			}
			if st := state(t, s, "evt_crash"); st.State != outbox.Delivered || st.Attempts != 2 {
				t.Fatalf("%+v after A finished late", st)
			}
			log, err := outbox.Deliveries(ctx, s.DB, outbox.Filter{Kind: "test", EventID: "evt_crash"})
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != 2 {
				t.Fatalf("log has %d attempts, want A's and B's", len(log))
			}
			clock.Advance(24 * time.Hour)
			if n := dispatch(t, b); n != 0 {
				t.Fatalf("a delivered message was claimed again")
			}
		})
	})
}

func TestTwoDispatchersShareTheWork(t *testing.T) {
	t.Parallel()
	dsn := storetest.NewMySQLDatabase(t)
	ctx := context.Background()
	open := func() *store.Store {
		s, err := store.Open(ctx, dsn, store.Options{Logger: quiet, MaxOpenConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		storetest.CheckOwners(t, s)
		return s
	}
	s1, s2 := open(), open()
	if _, err := s1.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const total = 200
	for i := range total {
		enqueue(t, s1.DB, fmt.Sprintf("evt_%03d", i))
	}

	rec := newRecorder()
	var mu sync.Mutex
	by := map[string]string{} // event id → which dispatcher delivered it
	clock := fakeClock()
	run := func(name string, s *store.Store) error {
		d := outbox.NewDispatcher(s, outbox.Options{Clock: clock, Log: quiet, Batch: 5, Workers: 3})
		d.Register("test", outbox.HandlerFunc(func(ctx context.Context, m outbox.Message) error {
			time.Sleep(time.Millisecond) // long enough for the other dispatcher to claim meanwhile
			mu.Lock()
			by[m.EventID] = name
			mu.Unlock()
			return rec.Deliver(ctx, m)
		}))
		_, err := d.DispatchOnce(ctx)
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*store.Store{s1, s2} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = run(fmt.Sprint("d", i+1), s) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	shares := map[string]int{}
	for i := range total {
		id := fmt.Sprintf("evt_%03d", i)
		if n := rec.count(id); n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
		shares[by[id]]++
	}
	var delivered int64
	if err := s1.DB.Table("outbox").Where("state = ?", outbox.Delivered).Count(&delivered).Error; err != nil {
		t.Fatal(err)
	}
	if delivered != total {
		t.Fatalf("%d rows delivered, want %d", delivered, total)
	}
	t.Logf("shares: %v", shares)
	if shares["d1"] == 0 || shares["d2"] == 0 {
		t.Errorf("one dispatcher did all the work (%v): the claims did not run side by side", shares)
	}
}

func TestScheduledJob(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	sched, err := gocron.NewScheduler()
	if err != nil {
		t.Fatal(err)
	}
	defer sched.Shutdown() //nolint:errcheck // test teardown
	rec := newRecorder()
	d := outbox.NewDispatcher(s, outbox.Options{Log: quiet})
	d.Register("test", rec)
	if _, err := d.Schedule(sched, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sched.Start()
	enqueue(t, s.DB, "evt_job")
	deadline := time.Now().Add(10 * time.Second)
	for rec.count("evt_job") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled job did not deliver within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
