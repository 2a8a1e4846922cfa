package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
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
	fs, parse := flags("reconcile", e)
	since := fs.String("since", "", "also compare final settlements (取消済み, 決済エラー, かご落ち) changed since this day, YYYY-MM-DD in Asia/Tokyo")
	fix := fs.Bool("fix", false, "apply the provider's view to every difference")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: kessaid reconcile [--since YYYY-MM-DD] [--fix] [flags]\n\n"+
			"References every settlement that is not final (仮売上, 売上計上, 確認中, 処理中 with a transaction)\n"+
			"and prints a table of differences in status, amount or transaction. With --fix the provider's\n"+
			"view is applied through the settlement engine, with history rows and events.\n\n")
		fs.PrintDefaults()
	}
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
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
	actor := "reconcile"
	if u := e.getenv("USER"); u != "" {
		actor = "reconcile:" + u
	}
	diffs, err := d.Settlements.Reconcile(ctx, from, *fix, actor)
	if len(diffs) == 0 && err == nil {
		fmt.Fprintln(e.stdout, "no differences: kessai's record matches the provider's")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTLEMENT\tORDER\tTRANS_ID\tPROVIDER_ID\tFIELD\tKESSAI\tPROVIDER\tFIXED\tERROR")
	fixed := 0
	for _, x := range diffs {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.SettlementID, x.OrderID, x.TransID, x.ProviderID, x.Field,
			x.Kessai, x.Provider, yesNoFixed(x.Fixed), x.Error)
		if x.Fixed {
			fixed++
		}
	}
	_ = tw.Flush()
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
