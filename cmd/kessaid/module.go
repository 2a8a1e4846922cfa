package main

import (
	"context"
	"fmt"

	"github.com/kessai/kessai/core/module"
)

// modules is a host over r's database that launches nothing by itself. It has no master key:
// registering and listing never open a module's secrets.
func modules(r records) *module.Host {
	return module.New(r.st, nil, module.Options{PluginDir: r.cfg.PluginDir, Logger: r.log, User: r.cfg.AdapterUser})
}

var moduleRegister = onRecords("module register", func(ctx context.Context, r records, e env) error {
	bin, err := r.one("the adapter binary (a name or path in the plugin folder)")
	if err != nil {
		return err
	}
	m, err := modules(r).Register(ctx, bin, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "registered %s %s (%s)\n  binary:  %s\n  sha256:  %s\n  codes:   %v\n",
		m.Slug, m.Version, m.DisplayName, m.BinaryPath, m.SHA256, m.SettlementCodes)
	if m.Selected {
		fmt.Fprintln(e.stdout, "  the module is in use: a running daemon switches to this binary at its next health check")
	}
	return nil
})

var moduleList = onRecords("module list", func(ctx context.Context, r records, e env) error {
	if err := r.none(); err != nil {
		return err
	}
	mods, err := modules(r).List(ctx)
	if err != nil {
		return err
	}
	if len(mods) == 0 {
		fmt.Fprintln(e.stdout, "no modules registered: kessaid module register BINARY")
		return nil
	}
	var tw table // display names are Japanese: columns by display width
	tw.row("SLUG", "VERSION", "SHA256", "STATE", "IN USE", "NAME")
	for _, m := range mods {
		use := "no"
		if m.Selected {
			use = fmt.Sprintf("yes (#%d)", m.Sort)
		}
		tw.row(m.Slug, m.Version, shortHash(m.SHA256), fmt.Sprint(m.State), use, m.DisplayName)
	}
	if err := tw.write(e.stdout); err != nil {
		return err
	}
	for _, m := range mods {
		if m.LastError != "" {
			fmt.Fprintf(e.stdout, "%s: %s\n", m.Slug, m.LastError)
		}
	}
	return nil
})

func shortHash(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
