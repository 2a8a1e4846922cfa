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
	"sort"
	"strings"
	"syscall"
	_ "time/tzdata" // Asia/Tokyo must resolve on hosts without a zoneinfo database

	"github.com/kessai/kessai/core/config"
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

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, env env) error) {
	commands[name] = command{summary: summary, run: run}
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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(e.stdout, "kessaid", version)
		return 0
	}
	name := args[0]
	rest := args[1:]
	// Commands of several words: "migrate status", "module list", "shop key rotate", …; the
	// longest registered name wins.
	for len(rest) > 0 {
		if _, ok := commands[name+" "+rest[0]]; !ok {
			break
		}
		name, rest = name+" "+rest[0], rest[1:]
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
		return resolve(e.getenv)
	}
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
