// Command atone-sandbox runs the local atone stand-in: atone's v1 server API, the atone.js
// widget and its checkout page, for shops configured by key pairs.
//
//	atone-sandbox --addr 127.0.0.1:8790 --public-key PK --secret-key SK [--public-key PK2 --secret-key SK2]
//	atone-sandbox --config shops.json --data var/atone-sandbox.db
//
// With --data, transactions, tokens and members are kept in that SQLite file, so a restarted
// sandbox still answers for the orders taken before; without it they live in memory.
//
// The config file is {"shops": [{"name", "public_key", "secret_key", "payment_webhook_url",
// "authentication_webhook_url"}], "members": [...]}; members default to the test members.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kessai/kessai/plugins/atone/sandbox"
)

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

type fileConfig struct {
	Shops   []sandbox.Shop   `json:"shops"`
	Members []sandbox.Member `json:"members"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "atone-sandbox:", err)
		os.Exit(2)
	}
}

// run starts the sandbox, prints where it is, and serves until ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, addr, err := parse(args)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sb, err := sandbox.Open(cfg)
	if err != nil {
		return err
	}
	base, err := sb.Start(addr)
	if err != nil {
		_ = sb.Close()
		return err
	}
	printBanner(out, base, sb)
	<-ctx.Done()
	if err := sb.Close(); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

func parse(args []string) (sandbox.Config, string, error) {
	fs := flag.NewFlagSet("atone-sandbox", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8790", "listen address HOST:PORT")
	config := fs.String("config", "", "JSON file with shops (and optionally members)")
	data := fs.String("data", "", "SQLite file keeping transactions, tokens and members across restarts (created if missing); empty keeps them in memory")
	var pubs, secs repeated
	fs.Var(&pubs, "public-key", "shop public key (店舗公開可能鍵); repeat for more shops")
	fs.Var(&secs, "secret-key", "shop secret key (店舗秘密鍵); one per --public-key, in order")
	if err := fs.Parse(args); err != nil {
		return sandbox.Config{}, "", err
	}
	if fs.NArg() > 0 {
		return sandbox.Config{}, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := sandbox.Config{DataPath: *data}
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			return cfg, "", fmt.Errorf("read config: %w", err)
		}
		var fc fileConfig
		if err := json.Unmarshal(b, &fc); err != nil {
			return cfg, "", fmt.Errorf("config %s: %w", *config, err)
		}
		cfg.Shops, cfg.Members = fc.Shops, fc.Members
	}
	if len(pubs) != len(secs) {
		return cfg, "", errors.New("give one --secret-key for every --public-key")
	}
	for i := range pubs {
		cfg.Shops = append(cfg.Shops, sandbox.Shop{
			Name: fmt.Sprintf("テスト店舗%d", len(cfg.Shops)+1), PublicKey: pubs[i], SecretKey: secs[i],
		})
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", fmt.Errorf("config: %w", err)
	}
	return cfg, *addr, nil
}

func printBanner(out io.Writer, base string, sb *sandbox.Server) {
	fmt.Fprintf(out, "atone sandbox listening on %s\n", base)
	fmt.Fprintf(out, "  API base URL:  %s/v1/\n", base)
	fmt.Fprintf(out, "  widget script: %s/v1/atone.js\n", base)
	fmt.Fprintf(out, "  data:          %s\n", sb.DataPath())
	for _, sh := range sb.Shops() {
		fmt.Fprintf(out, "  shop %s: public key %s, secret key %s\n", sh.Name, sh.PublicKey, sh.SecretKey)
	}
	fmt.Fprintln(out, "test members:")
	for _, m := range sb.Members() {
		fmt.Fprintf(out, "  %s / %s  %s\n", m.Phone, m.Password, m.Note)
	}
}
