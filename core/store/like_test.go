package store_test

import (
	"slices"
	"testing"

	"gorm.io/gorm/clause"

	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// TestContainsNegated: clause.Not of several Contains keeps the rows that hold none of the
// words (column NOT LIKE … AND column NOT LIKE …), on both databases.
func TestContainsNegated(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		if err := st.DB.Exec("CREATE TABLE words (w VARCHAR(40) NOT NULL)").Error; err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"cancel,", "estimate,", "completion,", "_x"} {
			if err := st.DB.Exec("INSERT INTO words (w) VALUES (?)", w).Error; err != nil {
				t.Fatal(err)
			}
		}
		words := func(where clause.Expression) []string {
			t.Helper()
			var out []string
			if err := st.DB.Table("words").Where(where).Order("w").Pluck("w", &out).Error; err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got := words(clause.Not(store.Contains("w", "cancel"), store.Contains("w", "estimate"))); !slices.Equal(got, []string{"_x", "completion,"}) {
			t.Errorf("holding neither cancel nor estimate: %q", got)
		}
		if got := words(clause.Not(store.Contains("w", "_"))); !slices.Equal(got, []string{"cancel,", "completion,", "estimate,"}) {
			t.Errorf("without _: %q", got)
		}
	})
}
