package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/daemon"
	"github.com/kessai/kessai/plugins/jst"
)

// errDifferences makes `kessaid reconcile` without --fix exit non-zero when it found any, so
// that a cron job or a monitor notices.
var errDifferences = errors.New("differences found (run with --fix to apply the provider's view)")

// reconcile references every settlement that is not final, and every other one changed since
// --since, and prints where kessai's record differs from the provider's. With --fix each
// difference goes through the settlement engine (claim, compare-and-set, history row,
// events), exactly as the janitor would apply it.
func reconcile(ctx context.Context, args []string, e env) error {
	fs, parse := flagsOnly("reconcile",
		"Usage: kessaid reconcile [--since YYYY-MM-DD] [--fix] [flags]\n\n"+
			"References every settlement that is not final (仮売上, 売上計上, 確認中, 処理中 with a transaction)\n"+
			"and prints a table of differences in status, amount or transaction. With --fix the provider's\n"+
			"view is applied through the settlement engine, with history rows and events.\n\n", e)
	since := fs.String("since", "", "also compare final settlements (取消済み, 決済エラー, かご落ち) changed since this day, YYYY-MM-DD in Asia/Tokyo")
	fix := fs.Bool("fix", false, "apply the provider's view to every difference")
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	// One clock for the command: where reconciling starts and the rows it writes.
	clock := clockwork.NewRealClock()
	from := clock.Now()
	if *since != "" {
		if from, err = time.ParseInLocation(time.DateOnly, *since, jst.Tokyo); err != nil {
			return usageError{"--since: want YYYY-MM-DD"}
		}
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log, ShutdownTimeout: 10 * time.Second, Clock: clock})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = d.Close(cctx)
	}()
	diffs, err := d.Settlements.Reconcile(ctx, from, *fix, actorOf(e, "reconcile"))
	if len(diffs) == 0 && err == nil {
		fmt.Fprintln(e.stdout, "no differences: kessai's record matches the provider's")
		return nil
	}
	var tw table // statuses are Japanese (仮売上, 取消済み): columns by display width
	tw.row("SETTLEMENT", "ORDER", "TRANS_ID", "PROVIDER_ID", "FIELD", "KESSAI", "PROVIDER", "FIXED", "ERROR")
	fixed := 0
	for _, x := range diffs {
		tw.row(strconv.FormatInt(x.SettlementID, 10), strconv.FormatInt(x.OrderID, 10), x.TransID, x.ProviderID, x.Field,
			x.Kessai, x.Provider, yesNoFixed(x.Fixed), x.Error)
		if x.Fixed {
			fixed++
		}
	}
	if err := tw.write(e.stdout); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d differences, %d fixed\n", len(diffs), fixed)
	if err != nil {
		return err
	}
	if fixed < len(diffs) {
		return errDifferences
	}
	return nil
}

func yesNoFixed(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
