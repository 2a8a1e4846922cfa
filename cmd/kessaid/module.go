package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/store"
)

// openModules opens the store (migrating it, as register may be the first command on a fresh
// install) and a host that launches nothing by itself.
func openModules(ctx context.Context, name string, args []string, e env) (*module.Host, *store.Store, []string, error) {
	fs, parse := flags(name, e)
	cfg, err := parse(args)
	if err != nil {
		return nil, nil, nil, err
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	if err := store.EnsureDatabase(ctx, cfg.DB); err != nil {
		return nil, nil, nil, err
	}
	st, err := store.OpenDSN(ctx, cfg.DB, store.Options{Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	// No master key: registering and listing never open a module's secrets.
	return module.New(st, nil, module.Options{PluginDir: cfg.PluginDir, Logger: log, User: cfg.AdapterUser}), st, fs.Args(), nil
}

func moduleRegister(ctx context.Context, args []string, e env) error {
	h, st, rest, err := openModules(ctx, "module register", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) != 1 {
		return usageError{"expects one argument: the adapter binary (a name or path in the plugin folder)"}
	}
	m, err := h.Register(ctx, rest[0], "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "registered %s %s (%s)\n  binary:  %s\n  sha256:  %s\n  codes:   %v\n",
		m.Slug, m.Version, m.DisplayName, m.BinaryPath, m.SHA256, m.SettlementCodes)
	if m.Selected {
		fmt.Fprintln(e.stdout, "  the module is in use: a running daemon switches to this binary at its next health check")
	}
	return nil
}

func moduleList(ctx context.Context, args []string, e env) error {
	h, st, rest, err := openModules(ctx, "module list", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) != 0 {
		return usageError{"takes no arguments"}
	}
	mods, err := h.List(ctx)
	if err != nil {
		return err
	}
	if len(mods) == 0 {
		fmt.Fprintln(e.stdout, "no modules registered: kessaid module register BINARY")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tVERSION\tSHA256\tSTATE\tIN USE\tNAME")
	for _, m := range mods {
		use := "no"
		if m.Selected {
			use = fmt.Sprintf("yes (#%d)", m.Sort)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Slug, m.Version, shortHash(m.SHA256), m.State, use, m.DisplayName)
	}
	tw.Flush()
	for _, m := range mods {
		if m.LastError != "" {
			fmt.Fprintf(e.stdout, "%s: %s\n", m.Slug, m.LastError)
		}
	}
	return nil
}

func shortHash(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
