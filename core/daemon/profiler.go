package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/kessai/kessai/core/config"
)

// listenProfiler binds KESSAI_PPROF_ADDR, when set. config refuses an address that is not
// loopback; the bound one is checked again, since localhost is only a name.
func (d *Daemon) listenProfiler() error {
	if d.Config.PprofAddr == "" {
		return nil
	}
	if err := config.CheckLoopback(d.Config.PprofAddr); err != nil {
		return &config.Error{Var: "KESSAI_PPROF_ADDR", Problem: err.Error()}
	}
	ln, err := net.Listen("tcp", d.Config.PprofAddr)
	if err != nil {
		return &config.Error{Var: "KESSAI_PPROF_ADDR", Problem: err.Error()}
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		ln.Close()
		return &config.Error{Var: "KESSAI_PPROF_ADDR", Problem: fmt.Sprintf("%s bound %s, which is not a loopback address", d.Config.PprofAddr, ln.Addr())}
	}
	d.profiler = ln
	return nil
}

// ProfilerURL is where the profiler answers (http://127.0.0.1:PORT), once Listen has bound
// KESSAI_PPROF_ADDR; empty without it.
func (d *Daemon) ProfilerURL() string {
	if d.profiler == nil {
		return ""
	}
	return "http://" + d.profiler.Addr().String()
}

// serveProfiler serves Go's profiles under /debug/pprof/ on the profiler's own listener, apart
// from the API, and returns its shutdown. /debug/pprof/cmdline is left out: kessaid's command
// line may hold a database password.
func (d *Daemon) serveProfiler() func(context.Context) error {
	if d.profiler == nil {
		return func(context.Context) error { return nil }
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/cmdline", http.NotFound)
	// A CPU profile or trace runs for its seconds parameter: no write timeout.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(d.profiler); !errors.Is(err, http.ErrServerClosed) {
			d.Log.Warn("profiler stopped", "err", err)
		}
	}()
	d.Log.Info("profiler listening", "url", d.ProfilerURL()+"/debug/pprof/")
	return srv.Shutdown
}
