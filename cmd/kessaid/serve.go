package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/daemon"
	"github.com/kessai/kessai/core/demo"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

func serve(ctx context.Context, name string, args []string, e env, isDemo bool) error {
	if err := nonDumpable(); err != nil {
		return err
	}
	_, parse := flags(name, e)
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	requestLog := ""
	if isDemo {
		// A newcomer watches the terminal for what matters; one line per request would bury it.
		requestLog = filepath.Join(cfg.VarDir, "requests.log")
		var closeLog func() error
		if log, closeLog, err = demoLogger(e.stderr, requestLog, cfg.LogLevel); err != nil {
			return fmt.Errorf("KESSAI_VAR_DIR: %w", err)
		}
		defer closeLog()
	}
	var sb *sandbox.Server
	var sandboxURL string
	if isDemo {
		if _, err := os.Stat(filepath.Join(cfg.PluginDir, "kessai-atone")); err != nil {
			return fmt.Errorf("the demo needs the atone adapter at %s: build it with `make build` (%v)", filepath.Join(cfg.PluginDir, "kessai-atone"), err)
		}
		// The sandbox keeps its transactions beside the demo's database, so that an order taken
		// before a restart can still be captured or cancelled after it.
		sb, err = sandbox.Open(sandbox.Config{Logger: log.With("component", "atone-sandbox"), DataPath: filepath.Join(cfg.VarDir, "atone-sandbox.db")})
		if err != nil {
			return fmt.Errorf("KESSAI_VAR_DIR: %w", err)
		}
		if sandboxURL, err = sb.Start(cfg.SandboxAddr); err != nil {
			_ = sb.Close()
			return fmt.Errorf("KESSAI_SANDBOX_ADDR: start the atone sandbox: %w", err)
		}
		defer sb.Close()
		// The demo's receivers run on the same machine, without certificates; the banner
		// says so, since a production kessaid must never run like this.
		cfg.WebhookAllowHTTP, cfg.WebhookAllowPrivate = "true", "true"
	}
	d, err := daemon.New(ctx, cfg, daemon.Options{Demo: isDemo, Logger: log})
	if err != nil {
		return err
	}
	url, err := d.Listen()
	if err != nil {
		_ = d.Close(context.Background())
		return err
	}
	if !isDemo {
		fmt.Fprintf(e.stdout, "kessaid listening on %s\n", url)
		return d.Run(ctx)
	}
	key, err := setupDemo(ctx, d, cfg.VarDir, sandboxURL, log)
	if err != nil {
		_ = d.Close(context.Background())
		return err
	}
	demo.New(url, key).Mount(d.HTTP.Engine)
	signIn := "first make your sign-in: kessaid admin create --db-dsn " + cfg.DB.String() + " LOGIN\n" +
		"                  (then type a password of 10 characters or more and press Enter)"
	if users, err := admin.ListUsers(ctx, d.Store.DB); err == nil && len(users) > 0 {
		signIn = "sign in with your admin account (kessaid admin list --db-dsn " + cfg.DB.String() + ")"
	}
	fmt.Fprintf(e.stdout, `kessai demo is running (stop with Ctrl-C)

  storefront:     %[1]s/demo/
  console:        %[1]s/admin/
                  %[2]s
  shop key:       %[3]s
                  for the shop API %[1]s/api/v1 (Authorization: Bearer <shop key>),
                  described at %[1]s/api/v1/openapi.json
  atone sandbox:  %[4]s/v1/   (widget %[4]s/v1/atone.js)
                  keeps atone's side in %[5]s
                  test member: phone %[6]s, password %[7]s (limit 50,000 yen; above it atone answers NG 金額超過)
                               phone %[8]s always NG (その他)
  database:       %[9]s
  request log:    %[10]s   (warnings and errors stay on this terminal)
  health:         %[1]s/healthz, %[1]s/readyz
  shop webhooks:  http:// and loopback/private endpoints allowed (KESSAI_WEBHOOK_ALLOW_HTTP=true,
                  KESSAI_WEBHOOK_ALLOW_PRIVATE=true): for this demo only, never in production
`, url, signIn, key, sandboxURL, sb.DataPath(), sandbox.OKMemberPhone, sandbox.TestPassword, sandbox.NGMemberPhone, cfg.DB, requestLog)
	return d.Run(ctx)
}

// setupDemo puts the atone module in use with the sandbox's keys and a payment method, adds the
// storefront's other methods (代金引換), and returns the demo shop's API key, made once and
// kept under the var folder.
func setupDemo(ctx context.Context, d *daemon.Daemon, varDir, sandboxURL string, log *slog.Logger) (string, error) {
	err := d.SetupAtone(ctx, daemon.AtoneSetup{Binary: "kessai-atone", PublicKey: sandbox.DefaultShop.PublicKey,
		SecretKey: sandbox.DefaultShop.SecretKey, APIBase: sandboxURL + "/v1/", Actor: "demo"})
	if err != nil {
		return "", err
	}
	if err := demo.AddMethods(ctx, d.Methods); err != nil {
		return "", err
	}
	keyFile := filepath.Join(varDir, "demo-shop.key")
	if b, err := os.ReadFile(keyFile); err == nil {
		key := strings.TrimSpace(string(b))
		if _, err := d.Shops.Authenticate(ctx, key); err == nil {
			return key, nil
		}
		log.Warn("demo shop key no longer valid; making a new shop", "file", keyFile)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	_, key, err := d.Shops.Create(ctx, "デモショップ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(varDir, 0o700); err != nil {
		return "", err
	}
	return key, os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
}
