package daemon

import (
	"context"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/shopapi"
)

// codeModules lets paymethod ask the module host which settlement codes are in use.
type codeModules struct{ h *module.Host }

func (c codeModules) SettlementCodes(ctx context.Context) (map[string]string, error) {
	return c.h.CodeModules(ctx)
}

// commerce wires shops, payment methods, orders and settlements, mounts the shop API and
// the admin JSON API for payment methods, and schedules the janitor.
func (d *Daemon) commerce() error {
	st := d.Store
	d.Shops = shop.New(st.DB)
	d.Methods = paymethod.New(st.DB, codeModules{d.Modules})
	d.Orders = order.New(st.DB)
	d.Settlements = settlement.NewService(st, d.Modules, d.Log)
	d.ShopAPI = &shopapi.API{Store: st, Shops: d.Shops, Methods: d.Methods, Orders: d.Orders, Settlements: d.Settlements}
	d.ShopAPI.Mount(d.HTTP.Engine.Group("/api/v1"))
	paymethod.Mount(d.HTTP.Engine.Group("/admin/api", httpapi.AdminToken(d.Config.AdminToken)), d.Methods)

	// The janitor settles pending and unknown settlements by reference. Claims use SKIP
	// LOCKED, so every replica may run it.
	_, err := d.Scheduler.NewJob(gocron.DurationJob(15*time.Second), gocron.NewTask(func(ctx context.Context) {
		if _, err := d.Settlements.ResolveDue(ctx, 50); err != nil {
			d.Log.Warn("janitor", "err", err)
		}
	}), gocron.WithName("janitor"), gocron.WithSingletonMode(gocron.LimitModeReschedule))
	return err
}
