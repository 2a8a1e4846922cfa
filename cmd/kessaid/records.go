package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/kessai/kessai/core/config"
	"github.com/kessai/kessai/core/store"
)

// records is what a command working on kessai's records gets: the migrated database, the
// configuration, its logger, and the arguments left after the flags.
type records struct {
	st   *store.Store
	cfg  config.Config
	log  *slog.Logger
	args []string
}

// onRecords makes the command name of fn: it reads the flags, opens the configured database
// and applies pending migrations (a command may be the first one on a fresh install), runs
// fn, and closes the database.
func onRecords(name string, fn func(ctx context.Context, r records, e env) error) func(context.Context, []string, env) error {
	return func(ctx context.Context, args []string, e env) error {
		fs, parse := flags(name, e)
		cfg, err := parse(args)
		if err != nil {
			return err
		}
		log := newLogger(e.stderr, cfg.LogLevel)
		if err := store.EnsureDatabase(ctx, cfg.DB); err != nil {
			return err
		}
		st, err := store.OpenDSN(ctx, cfg.DB, store.Options{Logger: log})
		if err != nil {
			return err
		}
		defer st.Close()
		if _, err := st.Migrate(ctx); err != nil {
			return err
		}
		return fn(ctx, records{st: st, cfg: cfg, log: log, args: fs.Args()}, e)
	}
}

// none refuses arguments to a command that takes none.
func (r records) none() error {
	if len(r.args) != 0 {
		return usageError{"takes no arguments"}
	}
	return nil
}

// one is the command's single argument; hint says what it is.
func (r records) one(hint string) (string, error) {
	if len(r.args) != 1 {
		return "", usageError{"expects one argument: " + hint}
	}
	return r.args[0], nil
}

// id is the command's single numeric argument: a shop's or a key's id, listed by where.
func (r records) id(what, where string) (int64, error) {
	if len(r.args) != 1 {
		return 0, usageError{fmt.Sprintf("expects one argument: the %s id (see %s)", what, where)}
	}
	id, err := strconv.ParseInt(r.args[0], 10, 64)
	if err != nil {
		return 0, usageError{fmt.Sprintf("%q is not a %s id", r.args[0], what)}
	}
	return id, nil
}

// flagsOnly is flags for a command with flags of its own and no arguments: help prints usage
// (what the command does) above the flags, and the parse refuses any argument left over.
func flagsOnly(name, usage string, e env) (*flag.FlagSet, func(args []string) (config.Config, error)) {
	fs, parse := flags(name, e)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, usage)
		fs.PrintDefaults()
	}
	return fs, func(args []string) (config.Config, error) {
		cfg, err := parse(args)
		if err == nil && fs.NArg() > 0 {
			err = usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
		}
		return cfg, err
	}
}

// actorOf names who ran a command in the audit log and the settlement history: base, and the
// operator's login when the shell tells it.
func actorOf(e env, base string) string {
	if u := e.getenv("USER"); u != "" {
		return base + ":" + u
	}
	return base
}
