package paymethod_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

type codes map[string]string

func (c codes) SettlementCodes(context.Context) (map[string]string, error) { return c, nil }

func TestPaymentMethods(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		pms := paymethod.New(st.DB, codes{"acting_atone": "atone"})
		atone, err := pms.Add(ctx, paymethod.Method{Name: "後払い（atone）", Explanation: "<b>atone</b>", Settlement: "acting_atone"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		bank, err := pms.Add(ctx, paymethod.Method{Name: "銀行振込", Settlement: "transferAdvance"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		t.Run("the module comes from the code", func(t *testing.T) {
			if atone.Module != "atone" || atone.Sort != 0 || bank.Sort != 1 || !atone.Active() {
				t.Fatalf("%+v %+v", atone, bank)
			}
		})
		t.Run("refusals name the field", func(t *testing.T) {
			for _, tc := range []struct {
				m     paymethod.Method
				field string
			}{
				{paymethod.Method{Name: "", Settlement: "COD"}, "name"},
				{paymethod.Method{Name: "後払い（atone）", Settlement: "COD"}, "name"},
				{paymethod.Method{Name: "x", Settlement: "acting_zeus_card"}, "settlement"},
				{paymethod.Method{Name: "y", Settlement: "COD", Use: "maybe"}, "use"},
				{paymethod.Method{Name: "z", Settlement: "acting"}, "module"},
			} {
				_, err := pms.Add(ctx, tc.m, "test")
				var re *paymethod.RuleError
				if !errors.As(err, &re) || re.Field != tc.field {
					t.Errorf("Add(%+v) = %v, want a rule error on %s", tc.m, err, tc.field)
				}
			}
		})
		t.Run("Welcart's own codes need no module in use; acting names its module", func(t *testing.T) {
			for _, m := range []paymethod.Method{
				{Name: "クレジットカード（PayPal）", Settlement: "acting", Module: "paypal.php"},
				{Name: "銀行振込（後払い）", Settlement: "transferDeferred"},
				{Name: "代金引換", Settlement: "COD"},
			} {
				pm, err := pms.Add(ctx, m, "test")
				if err != nil {
					t.Fatalf("%+v: %v", m, err)
				}
				if pm.Module != m.Module {
					t.Fatalf("%+v: module %q", m, pm.Module)
				}
				if err := pms.Delete(ctx, pm.ID, "test"); err != nil {
					t.Fatal(err)
				}
			}
		})
		t.Run("sort sets the storefront order", func(t *testing.T) {
			if err := pms.Sort(ctx, []int64{bank.ID, atone.ID}, "test"); err != nil {
				t.Fatal(err)
			}
			l, _ := pms.List(ctx, false)
			if l[0].ID != bank.ID || l[1].ID != atone.ID {
				t.Fatalf("order %v", l)
			}
			if err := pms.Sort(ctx, []int64{bank.ID}, "test"); !errors.Is(err, paymethod.ErrRule) {
				t.Fatalf("partial sort = %v", err)
			}
		})
		t.Run("stopped methods are not listed for the storefront", func(t *testing.T) {
			if err := pms.SetUse(ctx, bank.ID, paymethod.Deactivate, "test"); err != nil {
				t.Fatal(err)
			}
			l, _ := pms.List(ctx, true)
			if len(l) != 1 || l[0].ID != atone.ID {
				t.Fatalf("active list %v", l)
			}
		})
		t.Run("a method orders were bought with cannot be deleted", func(t *testing.T) {
			now := time.Now().UTC()
			st.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('s', ?)", now)
			st.DB.Exec("INSERT INTO orders (shop_id, order_number, order_payment_name, order_date, created_at, updated_at) VALUES (1, '1', ?, ?, ?, ?)", atone.Name, now, now, now)
			err := pms.Delete(ctx, atone.ID, "test")
			var re *paymethod.RuleError
			if !errors.As(err, &re) || re.Message == "" || !re.InUse || fault.KindOf(err) != fault.Conflict {
				t.Fatalf("delete in-use = %v", err)
			}
			if err := pms.Delete(ctx, bank.ID, "test"); err != nil {
				t.Fatal(err)
			}
			l, _ := pms.List(ctx, false)
			if len(l) != 1 || l[0].Sort != 0 {
				t.Fatalf("after delete %v", l)
			}
		})
	})
}

func TestChangesElsewhere(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clock := clockwork.NewFakeClock()
		here, elsewhere := paymethod.New(st.DB, nil), paymethod.New(st.DB, nil)
		here.Clock = clock
		cod, err := here.Add(ctx, paymethod.Method{Name: "代金引換", Settlement: "COD"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		active := func() int {
			t.Helper()
			ms, err := here.List(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			return len(ms)
		}
		if active() != 1 {
			t.Fatal("the new method is not listed")
		}
		t.Run("a change here is seen at once", func(t *testing.T) {
			if err := here.SetUse(ctx, cod.ID, paymethod.Deactivate, "test"); err != nil {
				t.Fatal(err)
			}
			if n := active(); n != 0 {
				t.Fatalf("%d active after 停止", n)
			}
		})
		t.Run("a change on another replica is seen once the cache has lasted", func(t *testing.T) {
			if err := elsewhere.SetUse(ctx, cod.ID, paymethod.Activate, "test"); err != nil {
				t.Fatal(err)
			}
			clock.Advance(paymethod.CacheTTL)
			if n := active(); n != 1 {
				t.Fatalf("%d active after 使用 elsewhere", n)
			}
			pm, err := here.ByName(ctx, "代金引換")
			if err != nil || !pm.Active() {
				t.Fatalf("ByName: %+v %v", pm, err)
			}
		})
		t.Run("what a caller does to an answer stays its own", func(t *testing.T) {
			pm, _ := here.ByName(ctx, "代金引換")
			pm.Name = "x"
			ms, _ := here.List(ctx, false)
			ms[0].Name = "y"
			if again, err := here.ByName(ctx, "代金引換"); err != nil || again.Name != "代金引換" {
				t.Fatalf("ByName after callers' changes: %+v %v", again, err)
			}
		})
	})
}
