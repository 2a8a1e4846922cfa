package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/kessai/kessai/core/store"
)

func openForMigrate(ctx context.Context, name string, args []string, e env) (*store.Store, error) {
	_, parse := flags(name, e)
	cfg, err := parse(args)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureDatabase(ctx, cfg.DB); err != nil {
		return nil, err
	}
	return store.OpenDSN(ctx, cfg.DB, store.Options{Logger: newLogger(e.stderr, cfg.LogLevel)})
}

func migrateCmd(ctx context.Context, args []string, e env) error {
	st, err := openForMigrate(ctx, "migrate", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	done, err := st.Migrate(ctx)
	for _, m := range done {
		fmt.Fprintf(e.stdout, "applied %04d_%s\n", m.Version, m.Name)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintf(e.stdout, "nothing to apply: %s is current\n", st.DSN())
	} else {
		fmt.Fprintf(e.stdout, "applied %d migrations to %s\n", len(done), st.DSN())
	}
	return nil
}

func migrateStatus(ctx context.Context, args []string, e env) error {
	st, err := openForMigrate(ctx, "migrate status", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	steps, err := st.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED (UTC)")
	pending := 0
	for _, m := range steps {
		at := "pending"
		if m.AppliedAt != nil {
			at = m.AppliedAt.UTC().Format("2006-01-02 15:04:05")
		} else {
			pending++
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", m.Version, m.Name, at)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%d migrations, %d pending (%s)\n", len(steps), pending, st.DSN())
	return nil
}
