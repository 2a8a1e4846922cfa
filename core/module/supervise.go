package module

import (
	"context"
	"fmt"
	"time"
)

// supervise watches one selected module until its slot is closed: it notices a dead process
// within ExitPoll, pings the live one with Describe every PingInterval, relaunches with
// backoff, and gives up (Failed) after MaxCrashes within CrashWindow. A failed module stays
// down until Reenable; restarting a payment adapter forever would hide the problem from the
// admin while every checkout fails.
//
// Pings, crash windows and restart backoff run on the wall clock, not the daemon's: they are
// about a real subprocess, which answers, crashes and starts in real time whatever a test's
// clock says.
func (h *Host) supervise(s *slot) {
	defer close(s.done)
	poll := time.NewTicker(h.opt.ExitPoll)
	defer poll.Stop()
	lastPing := time.Now()
	for {
		pingNow := false
		select {
		case <-s.stop:
			return
		case <-poll.C:
		case <-s.nudge:
			pingNow = true
		}
		inst := s.current()
		if inst == nil {
			continue // failed, or being launched by someone holding launchMu
		}
		var reason string
		switch {
		case inst.client.Exited():
			reason = "adapter process exited"
		case pingNow || inst.broken.Load() || time.Since(lastPing) >= h.opt.PingInterval:
			lastPing = time.Now()
			if err := h.ping(inst); err != nil {
				reason = fmt.Sprintf("adapter did not answer the health ping: %v", err)
				if inst.client.Exited() {
					reason = "adapter process exited"
				}
			} else {
				if inst.broken.CompareAndSwap(true, false) {
					s.signal() // a passing connection failure: waiting calls may go on
				}
				h.followCatalog(s, inst)
			}
		}
		if reason != "" {
			h.restart(s, inst, reason)
			lastPing = time.Now()
		}
	}
}

func (h *Host) ping(inst *instance) error {
	ctx, cancel := context.WithTimeout(context.Background(), min(h.opt.CallTimeout, 5*time.Second))
	defer cancel()
	_, err := inst.adapter.Describe(ctx)
	return err
}

// followCatalog replaces the adapter when its catalog row changed under it (a new binary
// registered or settings saved by another process), so every replica converges on the row.
func (h *Host) followCatalog(s *slot, inst *instance) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var gen int64
	err := h.store.DB.WithContext(ctx).Model(&row{}).Where("slug = ?", s.slug).Select("generation").Scan(&gen).Error
	if err != nil || gen == inst.gen {
		return
	}
	if err := h.replace(ctx, s, fmt.Sprintf("catalog generation %d → %d", inst.gen, gen)); err != nil {
		h.log.Error("adapter not replaced after a catalog change", "module", s.slug, "err", err)
	}
}

// restart takes a dead or hung instance out of service and relaunches the module. Calls in
// flight on the dead process have already failed with a transport error (Outcome Undefined);
// calls that arrive meanwhile wait for the new process.
func (h *Host) restart(s *slot, dead *instance, reason string) {
	if !s.takeIf(dead, reason) {
		return
	}
	h.log.Warn("adapter down", "module", s.slug, "pid", dead.pid(), "reason", reason)
	h.setState(s.slug, Restarting, reason)
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		dead.client.Kill() // a hung process must not linger; a dead one is reaped
	}()
	for {
		n := s.crashed(time.Now(), h.opt.CrashWindow)
		if n >= h.opt.MaxCrashes {
			msg := fmt.Sprintf("adapter crashed %d times within %s; restarts stopped until an admin re-enables the module (last: %s)",
				n, h.opt.CrashWindow, reason)
			h.fail(s, msg)
			return
		}
		backoff := min(h.opt.RestartBackoff<<(n-1), h.opt.MaxBackoff)
		t := time.NewTimer(backoff)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		done, err := h.relaunch(s)
		if done {
			return
		}
		if permanent(err) {
			h.fail(s, err.Error())
			return
		}
		reason = err.Error()
		h.log.Warn("adapter relaunch failed", "module", s.slug, "err", err)
	}
}

// relaunch starts a new instance into an empty slot. done is true when the slot no longer
// needs one: the launch worked, someone else (Reenable, a replacement) filled the slot, or
// the slot was closed.
func (h *Host) relaunch(s *slot) (done bool, err error) {
	s.launchMu.Lock()
	defer s.launchMu.Unlock()
	select {
	case <-s.stop:
		return true, nil
	default:
	}
	if s.current() != nil {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opt.StartTimeout+h.opt.CallTimeout)
	defer cancel()
	inst, err := h.start(ctx, s.slug)
	if err != nil {
		return false, err
	}
	s.set(inst, Running, "")
	h.setState(s.slug, Running, "")
	h.log.Info("adapter restarted", "module", s.slug, "pid", inst.pid())
	return true, nil
}

func (h *Host) fail(s *slot, msg string) {
	s.launchMu.Lock()
	defer s.launchMu.Unlock()
	if s.current() != nil {
		return // re-enabled or replaced meanwhile
	}
	select {
	case <-s.stop:
		return // unselected or shutting down: stopped, not failed
	default:
	}
	// Recorded before it shows in memory, so that whoever sees Failed finds the reason saved.
	h.setState(s.slug, Failed, msg)
	s.set(nil, Failed, msg)
	h.log.Error("module failed", "module", s.slug, "err", msg)
}
