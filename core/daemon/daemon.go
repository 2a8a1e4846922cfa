// Package daemon assembles a running kessaid: configuration, database, HTTP server, scheduled
// jobs and adapter hosts, and takes them down again in order on shutdown. The serve and demo
// commands and the end-to-end tests all start kessai through it.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/jonboulle/clockwork"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/config"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/shopapi"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins/jst"
)

// Options adjust New for the demo and tests.
type Options struct {
	// Demo generates a master key under the var folder when none is set.
	Demo bool
	// Logger defaults to a JSON logger on stderr at the configured level.
	Logger *slog.Logger
	// ShutdownTimeout bounds how long in-flight requests may finish; zero means 20s.
	ShutdownTimeout time.Duration
	// Clock is the daemon's one clock: the store stamps rows with it, and every part that
	// tells business time (claims, leases, expiry, sessions, run days) reads it. Nil means the
	// real clock. Tests advance a fake one instead of sleeping or editing rows.
	Clock clockwork.Clock
}

// Daemon is a kessaid being assembled or running.
type Daemon struct {
	Config    config.Config
	Log       *slog.Logger
	Store     *store.Store
	Box       *secret.Box
	HTTP      *httpapi.Server
	Scheduler gocron.Scheduler
	Modules   *module.Host

	Shops         *shop.Shops
	Methods       *paymethod.Methods
	Orders        *order.Orders
	Settlements   *settlement.Service
	ShopAPI       *shopapi.API
	Admin         *admin.Console
	Outbox        *outbox.Dispatcher
	Continuations *continuation.Service

	opt      Options
	mu       sync.Mutex
	stops    []func(context.Context) error
	listener net.Listener
	profiler net.Listener // KESSAI_PPROF_ADDR's, nil without it
}

// New opens and migrates the database and builds the HTTP server. Nothing listens until Run.
func New(ctx context.Context, cfg config.Config, opt Options) (*Daemon, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if opt.ShutdownTimeout == 0 {
		opt.ShutdownTimeout = 20 * time.Second
	}
	if opt.Clock == nil {
		opt.Clock = clockwork.NewRealClock()
	}
	key, err := cfg.Key(opt.Demo)
	if err != nil {
		return nil, err
	}
	box, err := secret.New(key)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureDatabase(ctx, cfg.DB); err != nil {
		return nil, fmt.Errorf("database %s: %w", cfg.DB, err)
	}
	st, err := store.OpenDSN(ctx, cfg.DB, store.Options{Logger: log, MaxOpenConns: cfg.DBMaxConns, Clock: opt.Clock})
	if err != nil {
		return nil, err
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("migrated", "steps", len(applied), "to", applied[len(applied)-1].Version, "db", cfg.DB.String())
	}
	sched, err := gocron.NewScheduler(gocron.WithLocation(jst.Tokyo), gocron.WithLogger(gocronLogger{log}))
	if err != nil {
		st.Close()
		return nil, err
	}
	d := &Daemon{Config: cfg, Log: log, Store: st, Box: box, HTTP: httpapi.New(log), Scheduler: sched, opt: opt}
	d.HTTP.AddReadiness("database", d.databaseReady)
	d.Modules = module.New(st, box, module.Options{PluginDir: cfg.PluginDir, Logger: log, User: cfg.AdapterUser})
	if err := d.Modules.Start(ctx); err != nil {
		st.Close()
		return nil, err
	}
	d.OnStop(d.Modules.Close)
	d.HTTP.AddReadiness("modules", d.Modules.Ready)
	if err := d.commerce(); err != nil {
		_ = d.Close(ctx)
		return nil, err
	}
	return d, nil
}

// errNoDatabase is what /readyz says of a database that does not answer. The cause names the
// DSN's user, host and schema, so it goes to the log and not to whoever can reach /readyz.
var errNoDatabase = errors.New("does not answer")

func (d *Daemon) databaseReady(ctx context.Context) error {
	err := d.Store.Ping(ctx)
	var n int
	if err == nil {
		n, err = d.Store.Pending(ctx)
	}
	if err != nil {
		d.Log.WarnContext(ctx, "readiness: database", "err", err)
		return errNoDatabase
	}
	if n > 0 {
		return fmt.Errorf("%d migrations not applied", n)
	}
	return nil
}

// OnStop registers f to run at shutdown, after the HTTP server has drained and before the
// database closes. Later registrations run first.
func (d *Daemon) OnStop(f func(context.Context) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stops = append(d.stops, f)
}

// Listen binds the configured address (port 0 picks a free one), and KESSAI_PPROF_ADDR when
// set, and returns the base URL.
func (d *Daemon) Listen() (string, error) {
	ln, err := net.Listen("tcp", d.Config.HTTPAddr)
	if err != nil {
		return "", &config.Error{Var: "KESSAI_HTTP_ADDR", Problem: err.Error()}
	}
	if err := d.listenProfiler(); err != nil {
		ln.Close()
		return "", err
	}
	d.listener = ln
	scheme := "http"
	if d.Config.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String(), nil
}

// Run serves until ctx is done, then shuts down gracefully: stop accepting, let in-flight
// requests finish (bounded), stop scheduled jobs and adapters, close the database.
func (d *Daemon) Run(ctx context.Context) error {
	if d.listener == nil {
		if _, err := d.Listen(); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           d.HTTP,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
	}
	stopProfiler := d.serveProfiler()
	d.Scheduler.Start()
	errc := make(chan error, 1)
	go func() {
		var err error
		if d.Config.TLSCert != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = srv.ServeTLS(d.listener, d.Config.TLSCert, d.Config.TLSKey)
		} else {
			err = srv.Serve(d.listener)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
		close(errc)
	}()
	d.Log.Info("listening", "addr", d.listener.Addr().String())
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	d.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), d.opt.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		d.Log.Warn("http shutdown", "err", err)
	}
	if err := stopProfiler(sctx); err != nil {
		d.Log.Warn("profiler shutdown", "err", err)
	}
	return errors.Join(serveErr, d.Close(sctx))
}

// Close stops jobs and registered components and closes the database. Run calls it; tests
// that never Run call it themselves.
func (d *Daemon) Close(ctx context.Context) error {
	var errs []error
	if err := d.Scheduler.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("scheduler: %w", err))
	}
	d.mu.Lock()
	stops := slices.Clone(d.stops)
	d.stops = nil
	d.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		if err := stops[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if d.profiler != nil {
		_ = d.profiler.Close() // already closed by Run's shutdown, or bound and never served
	}
	if err := d.Store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type gocronLogger struct{ log *slog.Logger }

func (l gocronLogger) Debug(msg string, args ...any) { l.log.Debug("jobs: "+msg, args...) }
func (l gocronLogger) Info(msg string, args ...any)  { l.log.Info("jobs: "+msg, args...) }
func (l gocronLogger) Warn(msg string, args ...any)  { l.log.Warn("jobs: "+msg, args...) }
func (l gocronLogger) Error(msg string, args ...any) { l.log.Error("jobs: "+msg, args...) }
