package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/go-co-op/gocron/v2"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/admin"
	"github.com/kessai/kessai/core/checkout"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/idempotency"
	"github.com/kessai/kessai/core/mail"
	"github.com/kessai/kessai/core/metrics"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/shopapi"
	"github.com/kessai/kessai/core/welcart"
	"github.com/kessai/kessai/webhooks/hook"
	"github.com/kessai/kessai/webhooks/inbound"
)

// codeModules lets paymethod ask the module host which settlement codes are in use.
type codeModules struct{ h *module.Host }

func (c codeModules) SettlementCodes(ctx context.Context) (map[string]string, error) {
	return c.h.CodeModules(ctx)
}

// events are the outbound shop webhooks a settlement change publishes.
var events = map[settlement.Status]hook.Type{
	settlement.Authorized: hook.SettlementAuthorized,
	settlement.Captured:   hook.SettlementCaptured,
	settlement.Cancelled:  hook.SettlementCancelled,
	settlement.Failed:     hook.SettlementError,
}

// publish writes the shop's webhook event in the transaction of the change, so an event
// exists exactly when its change committed. settlement.* events are about orders: a
// continuation charge is the contract's, whose observer publishes continuation.charged and
// continuation.failed; a settlement.authorized for it would tell the shop its order was paid
// again.
func publish(ctx context.Context, tx *gorm.DB, c settlement.Change) error {
	if c.Settlement.ContinuationChargeID != nil {
		return nil
	}
	typ, ok := events[c.To]
	// A 取引修正 and a 一部取消 change the money and may keep the status: the shop hears of
	// them as a modification, with the operation that made it.
	modified := c.Op == settlement.OpModify || c.Op == settlement.OpRefund && c.To != settlement.Cancelled
	if modified {
		typ, ok = hook.SettlementModified, true
	}
	if !ok || c.From == c.To && !modified {
		return nil
	}
	s := c.Settlement
	_, err := hook.Publish(ctx, tx, s.ShopID, typ, map[string]any{
		"order_id": s.OrderID, "trans_id": s.TransID, "wc_trans_id": s.WcTransID, "status": s.Status,
		"status_label": s.Status.Label(), "amount": s.Amount, "reason": s.Reason, "operation": c.Op,
	})
	return err
}

// janitorEvery is how often the janitor runs.
const janitorEvery = 15 * time.Second

// commerce wires shops, payment methods, orders, settlements and the admin console; mounts the
// shop API, the Welcart façade, provider webhooks, outbound shop webhooks and metrics; and
// schedules the janitor and the outbox dispatcher.
func (d *Daemon) commerce() error {
	st := d.Store
	m := metrics.Default
	d.HTTP.Engine.Use(m.Middleware())
	m.Mount(d.HTTP.Engine, d.Config.MetricsToken)

	d.Shops = shop.New(st.DB)
	d.Shops.Clock = st.Clock
	d.Methods = paymethod.New(st.DB, codeModules{d.Modules})
	d.Methods.Clock = st.Clock
	d.Orders = order.New(st.DB)
	// The settlement engine, the admin console, the idempotency keys, the outbox and
	// continuation take the store's clock, which is the daemon's.
	d.Settlements = settlement.NewService(st, d.Modules, d.Log)
	d.Settlements.OnCall = func(module, op, outcome string, took time.Duration) { m.AdapterCall(module, op, outcome, took) }
	d.Settlements.Observe(settlement.ObserverFunc(publish))
	// An edited order is saved in the transaction that proves its 取引修正, and a contract's
	// 決済金額 follows its order in the same transaction.
	d.Settlements.Observe(order.Follow())
	order.OnSaved("continuation", continuation.FollowOrder)

	d.Admin = admin.Mount(d.HTTP.Engine, admin.Deps{Store: st, Modules: d.Modules, Methods: d.Methods, Log: d.Log,
		SecureCookies: d.Config.SecureCookies == "true"})
	if d.Config.AdminToken != "" {
		d.Log.Warn("KESSAI_ADMIN_TOKEN is set: it opens the admin API until the first admin user exists; " +
			"create one (kessaid admin create LOGIN), give programs an admin API token (kessaid admin token create NAME) and unset it")
	}
	adminTokens := admin.NewTokens(st.DB, d.Config.AdminToken)
	adminAPI := d.HTTP.Engine.Group("/admin/api", d.Admin.APIAuth(adminTokens))
	module.Mount(adminAPI, d.Modules)
	paymethod.Mount(adminAPI, d.Methods)

	d.ShopAPI = &shopapi.API{Store: st, Shops: d.Shops, Methods: d.Methods, Orders: d.Orders, Settlements: d.Settlements, Funnel: funnel{m}}
	api := d.HTTP.Engine.Group("/api/v1")
	d.ShopAPI.Mount(api)
	// kessai.js runs the shop API's checkouts on the buyer's page.
	checkout.Mount(d.HTTP.Engine)
	d.Admin.MountCommerce(admin.Commerce{Orders: d.Orders, Settlements: d.Settlements})
	endpoints := hook.NewEndpoints(st.DB, d.Box, hook.Policy{
		AllowHTTP: d.Config.WebhookAllowHTTP == "true", AllowPrivate: d.Config.WebhookAllowPrivate == "true"})
	shopAuth := httpapi.ShopAuth(d.Shops)
	hook.Mount(d.HTTP.Engine.Group("", shopAuth), endpoints, httpapi.ShopID)

	welcart.Mount(d.HTTP.Engine, welcart.Deps{Store: st, Shops: d.Shops, Methods: d.Methods, Orders: d.Orders, Settlements: d.Settlements,
		Admins: adminTokens})
	inbound.Mount(d.HTTP.Engine, inbound.Deps{Store: st, Adapters: d.Modules, Settlements: d.Settlements, Orders: d.Orders, Log: d.Log})

	d.Outbox = outbox.NewDispatcher(st, outbox.Options{Log: d.Log})
	d.Outbox.Register(hook.Kind, hook.NewSender(endpoints))
	if _, err := mail.Register(d.Outbox, d.Config.SMTPURL, d.Log); err != nil { // no URL: mails stay queued
		return err
	}
	if _, err := d.Outbox.Schedule(d.Scheduler, 5*time.Second); err != nil {
		return err
	}

	cont, err := continuation.Register(context.Background(), continuation.Parts{Store: st, Box: d.Box, Modules: d.Modules,
		Scheduler: d.Scheduler, Log: d.Log, Settlements: d.Settlements,
		Options: continuation.Options{Workers: d.Config.ContinuationWorkers, Rates: d.Config.ContinuationRates}})
	if err != nil {
		return err
	}
	d.Continuations = cont
	// A run stopped at shutdown records the charges it sent before the adapters they go
	// through are stopped (OnStop runs this before the module host's Close).
	d.OnStop(cont.Runner().Wait)
	d.Admin.MountContinuations(cont)
	// A recurring order's first payment creates its contract in the same transaction.
	d.Settlements.Observe(settlement.ObserverFunc(func(ctx context.Context, tx *gorm.DB, c settlement.Change) error {
		s := c.Settlement
		if s.ContinuationChargeID != nil || (c.To != settlement.Authorized && c.To != settlement.Captured) || c.From == c.To {
			return nil
		}
		o, err := order.Get(ctx, tx, 0, s.OrderID)
		if err != nil {
			return err
		}
		err = continuation.CreateForOrder(ctx, tx, d.Box, *o, s, c.Result.AuthToken, s.WcTransID)
		if errors.Is(err, continuation.ErrExists) {
			return nil
		}
		return err
	}))
	// Continuation charges go through the engine; what their answers do to the contract
	// (charge row, contractor mail, continuation.* events) happens on every path that records
	// one, the janitor's and the provider's notifications included.
	d.Settlements.Observe(cont.Observer())
	continuation.MountAdmin(adminAPI, cont)
	continuation.Mount(api.Group("", shopAuth), httpapi.ShopID, cont)

	// The janitor settles pending and unknown settlements by reference. Claims use SKIP
	// LOCKED, so every replica may run it.
	_, err = d.Scheduler.NewJob(gocron.DurationJob(janitorEvery), gocron.NewTask(func(ctx context.Context) {
		if _, err := d.Settlements.ResolveDue(ctx, 50); err != nil {
			d.Log.Warn("janitor", "err", err)
		}
		// The same check as `kessaid reconcile`, for what changed lately.
		if diffs, err := d.Settlements.ReconcileRecent(ctx, 5*time.Minute, janitorEvery); err != nil {
			d.Log.Warn("janitor: reconcile", "err", err)
		} else {
			for _, x := range diffs {
				d.Log.Warn("janitor: settlement differed from the provider", "settlement", x.SettlementID, "field", x.Field,
					"kessai", x.Kessai, "provider", x.Provider, "fixed", x.Fixed, "err", x.Error)
			}
		}
		// Idempotency keys are remembered for a day; forget the expired ones.
		if _, err := idempotency.Expire(ctx, st.DB, st.DB.NowFunc()); err != nil {
			d.Log.Warn("janitor", "err", err)
		}
	}), gocron.WithName("janitor"), gocron.WithSingletonMode(gocron.LimitModeReschedule))
	return err
}

type funnel struct{ m *metrics.Metrics }

func (f funnel) Checkout(method, stage string) { f.m.Checkout(method, metrics.Stage(stage)) }
