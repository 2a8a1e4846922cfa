package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/mail"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins/jst"
)

// continuationRun runs the daily continuation job for one day. It is safe next to a running
// daemon and safe to repeat: periods are claimed row by row, so a period already charged (by
// the daemon or an earlier run) is not charged again, and periods a run that died claimed and
// never sent are given back and charged. It does not take the daemon's daily lock on purpose:
// an operator catching up a missed day must not be refused because the daemon's job started
// and died. SIGTERM or SIGINT stops it: nothing more is claimed, the charges sent finish and
// are recorded, the rest is given back for the next run, and the summary says so (exit 1).
// Each run writes an audit_log row.
func continuationRun(ctx context.Context, args []string, e env) error {
	fs, parse := flagsOnly("continuation run",
		"Usage: kessaid continuation run [--date YYYY-MM-DD] [flags]\n\n"+
			"Charges every 継続中 contract whose 次回課金日 is on or before the date, one period each,\n"+
			"queues the contractors' and the admin's mails, and records the run in the audit log.\n"+
			"Stopped (SIGTERM, Ctrl-C), it finishes the charges it sent and gives the rest back.\n\n", e)
	day := fs.String("date", "", "the day to run for, YYYY-MM-DD in Asia/Tokyo (default: today)")
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	// One clock for the command: the day it runs for and the rows it writes.
	clock := clockwork.NewRealClock()
	d := continuation.DateOf(clock.Now(), jst.Tokyo)
	if *day != "" {
		if d, err = continuation.ParseDate(*day); err != nil {
			return usageError{"--date: " + err.Error()}
		}
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	key, err := cfg.Key(false)
	if err != nil {
		return err
	}
	box, err := secret.New(key)
	if err != nil {
		return err
	}
	if err := store.EnsureDatabase(ctx, cfg.DB); err != nil {
		return err
	}
	st, err := store.OpenDSN(ctx, cfg.DB, store.Options{Logger: log, MaxOpenConns: cfg.DBMaxConns, Clock: clock})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	host := module.New(st, box, module.Options{PluginDir: cfg.PluginDir, Logger: log, User: cfg.AdapterUser})
	if err := host.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = host.Close(cctx)
	}()

	// Charges go through the settlement engine, as the daemon's do; an answer lost here is
	// left unknown for the daemon's janitor.
	settlements := settlement.NewService(st, host, log)
	r := continuation.NewRunner(st, box, host, settlements, continuation.Options{Log: log, Workers: cfg.ContinuationWorkers, Rates: cfg.ContinuationRates})
	settlements.Observe(r.Observer())
	rep, runErr := r.Run(ctx, d)
	detail := map[string]any{"claimed": rep.Claimed, "charged": rep.Charged, "failed": rep.Failed, "unknown": rep.Unknown,
		"given_back": rep.GivenBack, "skipped": rep.Skipped, "renewed": rep.Renewed, "admin_mail": rep.Mailed}
	if runErr != nil {
		detail["error"] = runErr.Error()
	}
	auditErr := audit.Record(context.WithoutCancel(ctx), st.DB, actorOf(e, "cli"), "continuation.run", d.String(), detail)

	// Send the queued mails now when a mail server is configured; whatever fails stays queued
	// for the daemon's dispatcher.
	if cfg.SMTPURL != "" {
		disp := outbox.NewDispatcher(st, outbox.Options{Log: log})
		if _, err := mail.Register(disp, cfg.SMTPURL, log); err != nil {
			log.Warn("continuation run: mail", "err", err)
		} else if _, err := disp.DispatchOnce(ctx); err != nil {
			log.Warn("continuation run: send mails", "err", err)
		}
	}
	fmt.Fprintf(e.stdout, "continuation run %s: %d claimed, %d charged, %d 決済エラー, %d unknown, %d given back, %d skipped, %d renewed, admin mail %s (%s)\n",
		d, rep.Claimed, rep.Charged, rep.Failed, rep.Unknown, rep.GivenBack, rep.Skipped, rep.Renewed, yesNo(rep.Mailed), rep.Duration.Round(time.Millisecond))
	return errors.Join(runErr, auditErr)
}

func yesNo(b bool) string {
	if b {
		return "queued"
	}
	return "not queued"
}
