package paymethod_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// Every change names who made it in the audit log, committed with the change; a refused
// change leaves no row, and a change whose row cannot be written does not happen.
func TestChangesAreAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		pms := paymethod.New(st.DB, nil)
		actions := func() []string {
			t.Helper()
			p, err := audit.List(ctx, st.DB, 1, 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for i := len(p.Entries) - 1; i >= 0; i-- {
				e := p.Entries[i]
				out = append(out, e.Actor+" "+e.Action+" "+e.Target)
			}
			return out
		}
		bank, err := pms.Add(ctx, paymethod.Method{Name: "銀行振込", Settlement: "transferAdvance"}, "admin:hanako")
		if err != nil {
			t.Fatal(err)
		}
		cod, err := pms.Add(ctx, paymethod.Method{Name: "代金引換", Settlement: "COD"}, "bridge")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pms.Add(ctx, paymethod.Method{Name: "銀行振込", Settlement: "COD"}, "bridge"); err == nil {
			t.Fatal("a second 銀行振込 was added")
		}
		if _, err := pms.Update(ctx, bank.ID, paymethod.Method{Name: "銀行振込（前払い）", Settlement: "transferAdvance"}, "admin:hanako"); err != nil {
			t.Fatal(err)
		}
		if err := pms.SetUse(ctx, cod.ID, paymethod.Deactivate, "bridge"); err != nil {
			t.Fatal(err)
		}
		if err := pms.Sort(ctx, []int64{cod.ID, bank.ID}, "admin:hanako"); err != nil {
			t.Fatal(err)
		}
		if err := pms.Delete(ctx, cod.ID, "bridge"); err != nil {
			t.Fatal(err)
		}
		b, c := fmt.Sprint(bank.ID), fmt.Sprint(cod.ID)
		want := []string{"admin:hanako paymethod.add " + b, "bridge paymethod.add " + c, "admin:hanako paymethod.update " + b,
			"bridge paymethod.update " + c, "admin:hanako paymethod.sort ", "bridge paymethod.delete " + c}
		got := actions()
		if len(got) != len(want) {
			t.Fatalf("audit log:\n%q\nwant\n%q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("audit log:\n%q\nwant\n%q", got, want)
			}
		}
		t.Run("without its audit row the change does not happen", func(t *testing.T) {
			if err := st.DB.Exec("DROP TABLE audit_log").Error; err != nil {
				t.Fatal(err)
			}
			if _, err := pms.Update(ctx, bank.ID, paymethod.Method{Name: "振込", Settlement: "transferAdvance"}, "admin:hanako"); err == nil {
				t.Fatal("updated without an audit row")
			}
			if pm, err := pms.Get(ctx, bank.ID); err != nil || pm.Name != "銀行振込（前払い）" {
				t.Fatalf("%+v %v", pm, err)
			}
		})
	})
}
