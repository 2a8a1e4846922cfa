package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/plugins"
)

// AtoneSetup is what SetupAtone installs: the atone module with its keys, and a payment
// method that uses it.
type AtoneSetup struct {
	// Binary is the adapter binary's path or file name in the plugin folder.
	Binary    string
	PublicKey string
	SecretKey string
	// APIBase points the adapter at a sandbox; empty means atone's own test environment.
	APIBase string
	// Immediate selects 即時売上確定 instead of 仮売上.
	Immediate bool
	// MethodName is the payment method's name; default 後払い（atone）.
	MethodName string
	Actor      string
}

// SetupAtone registers, selects and configures the atone adapter and adds its payment method,
// as an admin would on the クレジット決済設定 and 支払方法 screens. It is what the demo does at
// start and what end-to-end tests do; running it again changes nothing that is already so.
func (d *Daemon) SetupAtone(ctx context.Context, s AtoneSetup) error {
	if s.MethodName == "" {
		s.MethodName = "後払い（atone）"
	}
	if s.Actor == "" {
		s.Actor = "setup"
	}
	m, err := d.Modules.Register(ctx, s.Binary, s.Actor)
	if err != nil {
		return fmt.Errorf("register atone adapter: %w", err)
	}
	selected, err := d.Modules.List(ctx)
	if err != nil {
		return err
	}
	slugs := []string{}
	for _, x := range selected {
		if x.Selected && x.Slug != m.Slug {
			slugs = append(slugs, x.Slug)
		}
	}
	if err := d.Modules.UpdateSelection(ctx, append(slugs, m.Slug), s.Actor); err != nil {
		return fmt.Errorf("select atone: %w", err)
	}
	mode := "provisional"
	if s.Immediate {
		mode = "immediate"
	}
	settings := plugins.Settings{"public_key": s.PublicKey, "secret_key": s.SecretKey, "environment": "test",
		"sales_mode": mode, "continuation_sales_mode": mode, "continuation_mail": "on", "api_base": s.APIBase}
	ferrs, err := d.Modules.UpdateSettings(ctx, m.Slug, settings, s.Actor)
	if err != nil {
		return fmt.Errorf("atone settings: %w", err)
	}
	if len(ferrs) > 0 {
		msgs := make([]string, len(ferrs))
		for i, fe := range ferrs {
			msgs[i] = fe.Field + ": " + fe.Message
		}
		return fmt.Errorf("atone settings refused: %s", strings.Join(msgs, "; "))
	}
	if _, err := d.Methods.ByName(ctx, s.MethodName); errors.Is(err, paymethod.ErrNotFound) {
		_, err = d.Methods.Add(ctx, paymethod.Method{Name: s.MethodName, Settlement: m.SettlementCodes[0],
			Explanation: "<p>atone（アトネ）は翌月まとめてお支払いいただける後払いサービスです。</p>"}, audit.System)
		if err != nil {
			return fmt.Errorf("add payment method: %w", err)
		}
	} else if err != nil {
		return err
	}
	return nil
}
