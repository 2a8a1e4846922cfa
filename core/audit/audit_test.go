package audit_test

import (
	"context"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestAdminAuditLog(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for i := range 7 {
			if err := audit.Record(ctx, st.DB, "hanako", "paymethod.update", fmt.Sprint(i), map[string]any{"n": i}); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("newest first, paged", func(t *testing.T) {
			p, err := audit.List(ctx, st.DB, 1, 3)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != 7 || p.Pages() != 3 || len(p.Entries) != 3 || p.Entries[0].Target != "6" || p.Entries[2].Target != "4" {
				t.Fatalf("%+v", p)
			}
			last, _ := audit.List(ctx, st.DB, 99, 3)
			if last.Page != 3 || len(last.Entries) != 1 || last.Entries[0].Target != "0" || last.Entries[0].Detail != `{"n":0}` {
				t.Fatalf("last page %+v", last)
			}
		})
		t.Run("a row written in a rolled-back transaction is gone with it", func(t *testing.T) {
			err := st.DB.Transaction(func(tx *gorm.DB) error {
				if err := audit.Record(ctx, tx, "", "module.selection", "", nil); err != nil {
					return err
				}
				return fmt.Errorf("the change failed")
			})
			if err == nil {
				t.Fatal("transaction committed")
			}
			p, _ := audit.List(ctx, st.DB, 1, 50)
			if p.Total != 7 {
				t.Fatalf("rolled-back audit row kept: %d rows", p.Total)
			}
		})
		t.Run("an empty actor is the system", func(t *testing.T) {
			if err := audit.Record(ctx, st.DB, "", "janitor.run", "", nil); err != nil {
				t.Fatal(err)
			}
			p, _ := audit.List(ctx, st.DB, 1, 1)
			if p.Entries[0].Actor != audit.System || p.Entries[0].Detail != "null" {
				t.Fatalf("%+v", p.Entries[0])
			}
		})
	})
}
