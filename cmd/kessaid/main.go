// Command kessaid is the kessai daemon and its command line: serve the shop and admin APIs,
// migrate the database, register adapters, manage shops, and the atone tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/kessai/kessai/core/config"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, env env) error
}

// env is what a command may touch of the outside world, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// commands are kessaid's commands by name, each with the line --help shows; each runs a
// function of the file named after its first word.
var commands = map[string]command{
	"serve": {"run the daemon (applies migrations first)", func(ctx context.Context, args []string, e env) error {
		return serve(ctx, "serve", args, e, false)
	}},
	"demo": {"run the offline demo: SQLite, the atone sandbox, a demo shop and storefront", func(ctx context.Context, args []string, e env) error {
		return serve(ctx, "demo", args, e, true)
	}},

	"migrate":        {"apply database migrations (creates the MySQL database if missing)", migrateCmd},
	"migrate status": {"list migrations and when each was applied", migrateStatus},

	"shop create":     {"create a shop; prints its API key as the last line (shown only once)", shopCreate},
	"shop list":       {"list shops and how many active keys each has", shopList},
	"shop revoke":     {"revoke a shop and all its keys: kessaid shop revoke ID", shopRevoke},
	"shop keys":       {"list a shop's API keys by id and prefix (never the keys): kessaid shop keys SHOP_ID", shopKeys},
	"shop key rotate": {"add an API key to a shop; prints it once: kessaid shop key rotate SHOP_ID", shopKeyRotate},
	"shop key revoke": {"revoke one API key, the shop's others keep working: kessaid shop key revoke KEY_ID", shopKeyRevoke},
	// The command's first name, kept for the scripts that use it.
	"shop key": {"same as shop key rotate: kessaid shop key SHOP_ID", shopKeyRotate},

	"module register": {"add an adapter binary from the plugin folder to the catalog (records its SHA-256)", moduleRegister},
	"module list":     {"list registered adapters: slug, version, hash, state, in use", moduleList},

	"admin create":       {"create an admin console account: admin create LOGIN (password on stdin, 10+ characters)", adminCreate},
	"admin passwd":       {"set an admin's password: admin passwd LOGIN (password on stdin); ends their sessions", adminPasswd},
	"admin list":         {"list admin console accounts and lockouts", adminList},
	"admin token create": {"make an admin API token: admin token create NAME; prints it as the last line (shown only once)", adminTokenCreate},
	"admin token revoke": {"revoke an admin API token: admin token revoke NAME|ID", adminTokenRevoke},
	"admin token list":   {"list admin API tokens (prefixes only)", adminTokenList},

	"atone checksum": {"print the atone checksum of a payment JSON read on stdin (for EATN0351)", atoneChecksum},

	"continuation run": {"charge the continuation contracts due on a day, as the daily job does (catch-up after downtime)", continuationRun},

	"reconcile": {"compare every open settlement with the provider's view and, with --fix, correct kessai's record to it", reconcile},
}

// usageError is a mistake in the command line: printed with a hint, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		// A command is required: the usage goes where errors go, and scripts see a failure.
		usage(e.stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(e.stdout, "kessaid", version)
		return 0
	}
	name := args[0]
	rest := args[1:]
	// Commands of two or three words: "migrate status", "module list", "admin token create", …
	for n := min(3, len(args)); n >= 2; n-- {
		if _, ok := commands[strings.Join(args[:n], " ")]; ok {
			name, rest = strings.Join(args[:n], " "), args[n:]
			break
		}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "kessaid: unknown command %q (see kessaid --help)\n", args[0])
		return 2
	}
	if err := cmd.run(ctx, rest, e); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(e.stderr, "kessaid %s: %s\n", name, ue.msg)
			return 2
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(e.stderr, "kessaid %s: %s\n", name, oneLine(err))
		return 1
	}
	return 0
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func usage(w io.Writer) {
	fmt.Fprintf(w, "kessaid %s: payment gateway adapter daemon for Japanese shops.\n\nUsage:\n  kessaid COMMAND [flags]\n\nCommands:\n", version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nConfiguration (flag > environment > default):\n")
	config.Usage(w)
	fmt.Fprintf(w, "\nRun `kessaid COMMAND --help` for a command's flags.\n")
}

// flags builds a command's flag set with the configuration flags on it; the returned function
// parses args and resolves the configuration.
func flags(name string, e env) (*flag.FlagSet, func(args []string) (config.Config, error)) {
	fs := flag.NewFlagSet("kessaid "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	resolve := config.Flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage of kessaid %s:\n", name)
		fs.PrintDefaults()
	}
	return fs, func(args []string) (config.Config, error) {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return config.Config{}, err
			}
			return config.Config{}, usageError{err.Error()}
		}
		cfg, err := resolve(e.getenv)
		if err != nil || name == "serve" || name == "demo" {
			return cfg, err
		}
		return demoKey(cfg)
	}
}

// demoKey lets a command pointed at the demo's SQLite database use the master key the demo
// generated: without KESSAI_MASTER_KEY it reads master.key from the var folder, or from
// beside the database file (where `kessaid demo` puts both). serve never does: production
// keys come from the environment only.
func demoKey(cfg config.Config) (config.Config, error) {
	if cfg.MasterKey != "" || cfg.DB.Dialect != store.SQLite {
		return cfg, nil
	}
	for _, dir := range []string{cfg.VarDir, filepath.Dir(cfg.DB.Path)} {
		path := filepath.Join(dir, "master.key")
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return cfg, &config.Error{Var: "KESSAI_MASTER_KEY", Problem: err.Error()}
		}
		key := strings.TrimSpace(string(b))
		if _, err := secret.ParseKey(key); err != nil {
			return cfg, &config.Error{Var: "KESSAI_MASTER_KEY", Problem: path + ": " + err.Error()}
		}
		cfg.MasterKey = key
		return cfg, nil
	}
	return cfg, nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
