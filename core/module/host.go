package module

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
)

// Options tune a Host. Zero values take the defaults in brackets.
type Options struct {
	// PluginDir is the only folder adapter binaries are run from (KESSAI_PLUGIN_DIR).
	PluginDir string

	// Logger receives the host's and the adapters' log lines, with the module slug attached.
	Logger *slog.Logger

	// PingInterval is how often a running adapter must answer Describe [10s]. The same tick
	// notices a catalog change made by another process (kessaid module register, another
	// replica) and replaces the adapter.
	PingInterval time.Duration

	// ExitPoll is how often the host looks whether an adapter process has exited [100ms];
	// go-plugin has no exit notification, and a crash must be noticed fast.
	ExitPoll time.Duration

	// RestartBackoff is the wait before the first relaunch after a crash, doubled for each
	// further crash in CrashWindow and capped at MaxBackoff [100ms, 5s].
	RestartBackoff time.Duration
	MaxBackoff     time.Duration

	// MaxCrashes crashes within CrashWindow mark the module failed [5 in 1m].
	MaxCrashes  int
	CrashWindow time.Duration

	// DrainTimeout bounds how long a replaced adapter may finish its calls in flight [30s].
	DrainTimeout time.Duration

	// StartTimeout bounds an adapter's launch handshake [10s].
	StartTimeout time.Duration

	// CallTimeout bounds the host's own calls: Describe, Configure, ValidateSettings [10s].
	CallTimeout time.Duration

	// WaitTimeout is how long a call waits for a restarting adapter before failing [5s].
	WaitTimeout time.Duration

	// User is the system user adapters run as (KESSAI_ADAPTER_USER); empty runs them as
	// kessaid's own user. Only a kessaid running as root can switch: an adapter then holds
	// no privilege of kessaid's, and cannot read its files.
	User string
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PingInterval, 10*time.Second)
	def(&o.ExitPoll, 100*time.Millisecond)
	def(&o.RestartBackoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 5*time.Second)
	def(&o.CrashWindow, time.Minute)
	def(&o.DrainTimeout, 30*time.Second)
	def(&o.StartTimeout, 10*time.Second)
	def(&o.CallTimeout, 10*time.Second)
	def(&o.WaitTimeout, 5*time.Second)
	if o.MaxCrashes <= 0 {
		o.MaxCrashes = 5
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Host keeps one supervised adapter process per selected module and hands out adapters whose
// calls go to the current process. Admin changes (selection, settings, a new binary) replace
// processes without failing the calls in flight: new calls go to the new process, the old one
// is killed once its calls are done (drain).
type Host struct {
	store    *store.Store
	box      *secret.Box
	log      *slog.Logger
	opt      Options
	versions map[int]plugin.PluginSet // plugins.VersionedPlugins; tests pretend to be another version

	ops sync.Mutex // serialises admin changes: register, selection, settings, reenable

	mu     sync.Mutex
	slots  map[string]*slot
	closed bool
	bg     sync.WaitGroup // supervisors, drains and kills

	dying     chan struct{} // closed when Close runs out of time: drains kill at once
	dyingOnce sync.Once

	// runAs starts adapters as Options.User (nil: as kessaid's own user); runAsErr is why
	// Options.User cannot be used, returned by Start and by every launch.
	runAs    *syscall.SysProcAttr
	runAsErr error
}

// New returns a host over the modules table. It launches nothing until Start. box may be nil
// for tools that never touch settings (kessaid module register/list).
func New(st *store.Store, box *secret.Box, opt Options) *Host {
	opt.defaults()
	h := &Host{
		store:    st,
		box:      box,
		log:      opt.Logger,
		opt:      opt,
		versions: plugins.VersionedPlugins,
		slots:    map[string]*slot{},
		dying:    make(chan struct{}),
	}
	h.runAs, h.runAsErr = runAs(opt.User, os.Geteuid())
	return h
}

// Start launches the adapters of every selected module, in selection order. A module that
// cannot start is marked failed and shown as such; it does not stop the daemon. An
// Options.User that cannot be used does: no adapter could start.
func (h *Host) Start(ctx context.Context) error {
	if h.runAsErr != nil { // every launch would fail the same way: refuse to start instead
		return h.runAsErr
	}
	h.ops.Lock()
	defer h.ops.Unlock()
	var rows []row
	if err := h.store.DB.WithContext(ctx).Where("selected = ?", true).Order("sort, slug").Find(&rows).Error; err != nil {
		return fmt.Errorf("start modules: %w", err)
	}
	for _, r := range rows {
		h.open(ctx, r.Slug)
	}
	return nil
}

// open creates the slot of a selected module, launches its adapter and starts its supervisor.
func (h *Host) open(ctx context.Context, slug string) *slot {
	s := newSlot(slug)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return s
	}
	h.slots[slug] = s
	h.bg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.bg.Done()
		h.supervise(s)
	}()
	h.setState(slug, Starting, "")
	s.launchMu.Lock()
	defer s.launchMu.Unlock()
	// A launch outlives the admin request that asked for it: a client hanging up must not
	// leave the module failed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opt.StartTimeout+h.opt.CallTimeout)
	defer cancel()
	inst, err := h.start(ctx, slug)
	if err != nil {
		h.log.Error("module failed to start", "module", slug, "err", err)
		s.set(nil, Failed, err.Error())
		h.setState(slug, Failed, err.Error())
		return s
	}
	s.set(inst, Running, "")
	h.setState(slug, Running, "")
	return s
}

// start launches the module's registered binary and configures it with its saved settings.
// A Configure failure (no keys saved yet) leaves the adapter running: its money operations
// answer ErrNotConfigured until the admin saves valid settings.
func (h *Host) start(ctx context.Context, slug string) (*instance, error) {
	r, err := loadRow(ctx, h.store.DB, slug)
	if err != nil {
		return nil, err
	}
	inst, err := h.launch(ctx, slug, r.BinaryPath, r.SHA256)
	if err != nil {
		return nil, err
	}
	inst.gen = r.Generation
	settings, err := h.settingsOf(r)
	if err != nil {
		inst.client.Kill()
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, h.opt.CallTimeout)
	defer cancel()
	if err := inst.adapter.Configure(cctx, settings); err != nil {
		h.log.Warn("adapter not configured", "module", slug, "err", err)
	}
	return inst, nil
}

// permanent reports whether a launch error will recur on every attempt, so that retrying is
// pointless and the module must go to failed at once.
func permanent(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrProtocolVersion) || errors.Is(err, ErrAdapterUser) ||
		errors.Is(err, ErrPluginDir) || errors.Is(err, ErrUnknownModule) ||
		errors.Is(err, plugins.ErrProtocol) || errors.Is(err, os.ErrNotExist)
}

// Get returns the adapter of a selected module. The returned value is a handle, not a
// process: each call goes to the module's current adapter process, waiting (up to
// Options.WaitTimeout) while it restarts. A call the host could not hand to any process fails
// with a *plugins.CallError whose outcome is NotAttempted; a call in flight when the process
// died fails with Outcome Undefined and is never retried by the host.
//
// Errors: ErrUnknownModule, ErrNotSelected, ErrModuleFailed.
func (h *Host) Get(ctx context.Context, slug string) (plugins.Adapter, error) {
	s := h.slot(slug)
	if s == nil {
		if _, err := loadRow(ctx, h.store.DB, slug); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("module %s: %w", slug, ErrNotSelected)
	}
	if st, lastErr := s.status(); st == Failed {
		return nil, fmt.Errorf("module %s: %w: %s", slug, ErrModuleFailed, lastErr)
	}
	return &handle{h: h, s: s}, nil
}

func (h *Host) slot(slug string) *slot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.slots[slug]
}

// Ready is the host's readiness check: an error naming every selected module that is failed.
// A module that is restarting is still ready: calls wait for it.
func (h *Host) Ready(context.Context) error {
	h.mu.Lock()
	var failed []string
	for slug, s := range h.slots {
		if st, lastErr := s.status(); st == Failed {
			failed = append(failed, fmt.Sprintf("module %s failed: %s", slug, lastErr))
		}
	}
	h.mu.Unlock()
	if len(failed) == 0 {
		return nil
	}
	sort.Strings(failed)
	return fmt.Errorf("%w: %s", ErrModuleFailed, strings.Join(failed, "; "))
}

// Reenable restarts a failed module's adapter with a clean crash count. It is the admin's
// answer to a module that gave up; for a running module it does nothing.
func (h *Host) Reenable(ctx context.Context, slug, actor string) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	s := h.slot(slug)
	if s == nil {
		if _, err := loadRow(ctx, h.store.DB, slug); err != nil {
			return err
		}
		return fmt.Errorf("module %s: %w", slug, ErrNotSelected)
	}
	s.launchMu.Lock()
	defer s.launchMu.Unlock()
	if st, _ := s.status(); st != Failed {
		return nil
	}
	if err := audit.Record(ctx, h.store.DB, actor, "module.reenable", slug, nil); err != nil {
		return err
	}
	s.resetCrashes()
	s.set(nil, Starting, "")
	h.setState(slug, Starting, "")
	inst, err := h.start(ctx, slug)
	if err != nil {
		s.set(nil, Failed, err.Error())
		h.setState(slug, Failed, err.Error())
		return fmt.Errorf("reenable %s: %w", slug, err)
	}
	s.set(inst, Running, "")
	h.setState(slug, Running, "")
	h.log.Info("module re-enabled", "module", slug, "actor", actor)
	return nil
}

// replace launches a fresh adapter for a selected module from its current catalog row and
// settings, then switches calls to it and drains the old one. If the launch fails, the old
// adapter keeps serving.
func (h *Host) replace(ctx context.Context, s *slot, why string) error {
	s.launchMu.Lock()
	defer s.launchMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opt.StartTimeout+h.opt.CallTimeout)
	defer cancel()
	inst, err := h.start(ctx, s.slug)
	if err != nil {
		return fmt.Errorf("replace adapter of %s: %w", s.slug, err)
	}
	old := s.set(inst, Running, "")
	h.setState(s.slug, Running, "")
	h.log.Info("adapter replaced", "module", s.slug, "why", why, "pid", inst.pid())
	h.drain(old)
	return nil
}

// drain kills inst once its calls in flight have finished, or after DrainTimeout.
func (h *Host) drain(inst *instance) {
	if inst == nil {
		return
	}
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		done := make(chan struct{})
		go func() {
			inst.calls.Wait()
			close(done)
		}()
		t := time.NewTimer(h.opt.DrainTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			h.log.Warn("adapter killed with calls in flight", "module", inst.slug, "pid", inst.pid(), "after", h.opt.DrainTimeout)
		case <-h.dying:
		}
		inst.client.Kill()
	}()
}

// stopSlot takes a module out of service: no new calls, supervisor stopped, the process
// drained. The caller has removed s from h.slots.
func (h *Host) stopSlot(s *slot) {
	s.close()
	<-s.done
	s.launchMu.Lock()
	old := s.set(nil, Stopped, "")
	s.launchMu.Unlock()
	h.drain(old)
}

// Close stops every adapter, letting calls in flight finish until ctx is done.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	slots := h.slots
	h.slots = map[string]*slot{}
	h.mu.Unlock()
	for _, s := range slots {
		h.stopSlot(s)
	}
	done := make(chan struct{})
	go func() {
		h.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// The daemon is going away: drains stop waiting and kill their processes now.
		h.dyingOnce.Do(func() { close(h.dying) })
		<-done
		return fmt.Errorf("close modules: %w", ctx.Err())
	}
}

// Pid is the process id of a selected module's current adapter, 0 when none runs. It exists
// for tests that kill adapters and for the admin screen.
func (h *Host) Pid(slug string) int {
	s := h.slot(slug)
	if s == nil {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.pid()
}

// State is a selected module's current state as this host sees it; Registered when the module
// is not selected here.
func (h *Host) State(slug string) (State, string) {
	s := h.slot(slug)
	if s == nil {
		return Registered, ""
	}
	return s.status()
}
