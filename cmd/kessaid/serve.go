package main

import (
	"context"
	"fmt"

	"github.com/kessai/kessai/core/daemon"
)

func init() {
	register("serve", "run the daemon (applies migrations first)", func(ctx context.Context, args []string, e env) error {
		return serve(ctx, "serve", args, e, false)
	})
	register("demo", "run the offline demo on SQLite (generates a master key under ./var)", func(ctx context.Context, args []string, e env) error {
		return serve(ctx, "demo", args, e, true)
	})
}

func serve(ctx context.Context, name string, args []string, e env, demo bool) error {
	_, parse := flags(name, e)
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	d, err := daemon.New(ctx, cfg, daemon.Options{Demo: demo, Logger: log})
	if err != nil {
		return err
	}
	url, err := d.Listen()
	if err != nil {
		_ = d.Close(context.Background())
		return err
	}
	if demo {
		fmt.Fprintf(e.stdout, "kessai demo is running\n  daemon:   %s\n  health:   %s/healthz\n  database: %s\n", url, url, cfg.DB)
	} else {
		fmt.Fprintf(e.stdout, "kessaid listening on %s\n", url)
	}
	return d.Run(ctx)
}
