package module

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kessai/kessai/plugins"
)

// slot is a selected module's place in the host: its current adapter process (nil while
// restarting or failed), its state and its crash record.
type slot struct {
	slug string

	// launchMu serialises launches and swaps for this module between the supervisor and
	// admin changes, so that two of them never race to install an instance.
	launchMu sync.Mutex

	mu      sync.RWMutex
	cur     *instance
	state   State
	lastErr string
	changed chan struct{} // closed and renewed on every set; waiting calls watch it
	crashes []time.Time

	nudge chan struct{} // a call saw the connection break: check now
	stop  chan struct{}
	done  chan struct{} // closed when the supervisor returns
	once  sync.Once
}

func newSlot(slug string) *slot {
	return &slot{
		slug:    slug,
		state:   Starting,
		changed: make(chan struct{}),
		nudge:   make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// set installs inst (nil for none) with a state and returns the instance it replaced.
func (s *slot) set(inst *instance, st State, lastErr string) *instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur
	s.cur, s.state, s.lastErr = inst, st, lastErr
	close(s.changed)
	s.changed = make(chan struct{})
	return old
}

// takeIf removes dead from the slot if it is still the current instance, marking the slot
// restarting; it reports whether it did (a replacement may already have happened).
func (s *slot) takeIf(dead *instance, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != dead {
		return false
	}
	s.cur, s.state, s.lastErr = nil, Restarting, reason
	close(s.changed)
	s.changed = make(chan struct{})
	return true
}

// signal wakes the calls waiting in acquire without changing anything.
func (s *slot) signal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *slot) status() (State, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state, s.lastErr
}

func (s *slot) current() *instance {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur
}

// crashed records a crash and returns how many happened within window.
func (s *slot) crashed(now time.Time, window time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.crashes[:0]
	for _, t := range s.crashes {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	s.crashes = append(kept, now)
	return len(s.crashes)
}

func (s *slot) resetCrashes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashes = nil
}

func (s *slot) poke() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

func (s *slot) close() { s.once.Do(func() { close(s.stop) }) }

// acquire returns the current instance with one more call counted in flight; the caller must
// call inst.calls.Done. While the module restarts it waits up to wait for a new instance.
//
// The count is taken under the read lock and a swap takes the write lock, so once an instance
// is swapped out nobody can add calls to it and drain's Wait is sound.
func (s *slot) acquire(ctx context.Context, wait time.Duration) (*instance, error) {
	var timeout <-chan time.Time
	for {
		s.mu.RLock()
		inst, st, lastErr, changed := s.cur, s.state, s.lastErr, s.changed
		if inst != nil && inst.usable() {
			inst.calls.Add(1)
			s.mu.RUnlock()
			return inst, nil
		}
		s.mu.RUnlock()
		if inst != nil {
			// Dead or suspect: the supervisor replaces it (or clears it) and signals changed.
			s.poke()
			st = Restarting
		}
		switch st {
		case Failed:
			return nil, fmt.Errorf("module %s: %w: %s", s.slug, ErrModuleFailed, lastErr)
		case Stopped, Registered:
			return nil, fmt.Errorf("module %s: %w", s.slug, ErrNotSelected)
		}
		if timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, fmt.Errorf("module %s: adapter still %s after %s", s.slug, st, wait)
		case <-ctx.Done():
			return nil, fmt.Errorf("module %s: waiting for the adapter: %w", s.slug, ctx.Err())
		}
	}
}

// notSent marks a call the host never handed to an adapter process (the module is failed,
// unselected or still restarting), so that OutcomeOf classifies it NotAttempted: nothing can
// have reached the provider. The adapter contract has no sentinel for "no adapter to call";
// ErrNotConfigured is the one with that meaning for the outcome.
type notSent struct{ err error }

func (e *notSent) Error() string   { return e.err.Error() }
func (e *notSent) Unwrap() []error { return []error{e.err, plugins.ErrNotConfigured} }

// handle is what Get returns: an Adapter whose calls go to the slot's current instance.
type handle struct {
	h *Host
	s *slot
}

var _ plugins.Adapter = (*handle)(nil)

// call runs f on the current instance, counted in flight. It never retries: a call that
// failed after it was sent may have moved money, and only Reference can tell.
func call[T any](ctx context.Context, hd *handle, op string, f func(plugins.Adapter) (T, error)) (T, error) {
	inst, err := hd.s.acquire(ctx, hd.h.opt.WaitTimeout)
	if err != nil {
		var zero T
		return zero, &plugins.CallError{Op: op, Err: &notSent{err}}
	}
	defer inst.calls.Done()
	v, err := f(inst.adapter)
	if err != nil && errors.Is(err, plugins.ErrTransport) {
		inst.broken.Store(true)
		hd.s.poke()
	}
	return v, err
}

// Describe answers what the current process described at launch, without a call: the
// contract fixes the description for the life of the process, and the settlement engine asks
// it before every optional operation. The supervisor's pings still call the process.
func (hd *handle) Describe(ctx context.Context) (plugins.Description, error) {
	inst, err := hd.s.acquire(ctx, hd.h.opt.WaitTimeout)
	if err != nil {
		return plugins.Description{}, &plugins.CallError{Op: "Describe", Err: &notSent{err}}
	}
	defer inst.calls.Done()
	return inst.desc, nil
}

// Configure configures the current process only; the next process gets the saved settings.
// Settings changes go through Host.UpdateSettings.
func (hd *handle) Configure(ctx context.Context, st plugins.Settings) error {
	_, err := call(ctx, hd, "Configure", func(a plugins.Adapter) (struct{}, error) { return struct{}{}, a.Configure(ctx, st) })
	return err
}

func (hd *handle) ValidateSettings(ctx context.Context, st plugins.Settings) ([]plugins.FieldError, error) {
	return call(ctx, hd, "ValidateSettings", func(a plugins.Adapter) ([]plugins.FieldError, error) { return a.ValidateSettings(ctx, st) })
}

func (hd *handle) PrepareCheckout(ctx context.Context, req plugins.CheckoutRequest) (plugins.CheckoutResult, error) {
	return call(ctx, hd, "PrepareCheckout", func(a plugins.Adapter) (plugins.CheckoutResult, error) { return a.PrepareCheckout(ctx, req) })
}

func (hd *handle) Confirm(ctx context.Context, req plugins.ConfirmRequest) (plugins.TransactionResult, error) {
	return call(ctx, hd, "Confirm", func(a plugins.Adapter) (plugins.TransactionResult, error) { return a.Confirm(ctx, req) })
}

func (hd *handle) Reference(ctx context.Context, req plugins.ReferenceRequest) (plugins.TransactionResult, error) {
	return call(ctx, hd, "Reference", func(a plugins.Adapter) (plugins.TransactionResult, error) { return a.Reference(ctx, req) })
}

func (hd *handle) Capture(ctx context.Context, req plugins.CaptureRequest) (plugins.TransactionResult, error) {
	return call(ctx, hd, "Capture", func(a plugins.Adapter) (plugins.TransactionResult, error) { return a.Capture(ctx, req) })
}

func (hd *handle) Cancel(ctx context.Context, req plugins.CancelRequest) (plugins.TransactionResult, error) {
	return call(ctx, hd, "Cancel", func(a plugins.Adapter) (plugins.TransactionResult, error) { return a.Cancel(ctx, req) })
}

func (hd *handle) Modify(ctx context.Context, req plugins.ModifyRequest) (plugins.TransactionResult, error) {
	return call(ctx, hd, "Modify", func(a plugins.Adapter) (plugins.TransactionResult, error) { return a.Modify(ctx, req) })
}

func (hd *handle) Charge(ctx context.Context, req plugins.ChargeRequest) (plugins.TransactionResult, error) {
	return call(ctx, hd, "Charge", func(a plugins.Adapter) (plugins.TransactionResult, error) { return a.Charge(ctx, req) })
}

func (hd *handle) ParseWebhook(ctx context.Context, req plugins.WebhookRequest) (plugins.WebhookEvent, error) {
	return call(ctx, hd, "ParseWebhook", func(a plugins.Adapter) (plugins.WebhookEvent, error) { return a.ParseWebhook(ctx, req) })
}
