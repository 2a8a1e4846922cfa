package order_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// TestNameSearchTakesTheWordAsTyped: a name search matches the characters typed, LIKE's own
// among them (_ and %, the escape's ! and the backslash), on MySQL and on SQLite alike. SQLite
// has no default escape character, so a pattern escaped without saying how matched nothing.
func TestNameSearchTakesTheWordAsTyped(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		st.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('a', CURRENT_TIMESTAMP)")
		byName := map[string]int64{}
		for i, given := range []string{"花_子", "花X子", "100%引き", "100円引き", `花\子`, "花!子"} {
			in := parse(t, welcartOrder)
			in.OrderNumber = fmt.Sprintf("%d", 2001+i)
			in.Customer.Name2 = given
			row := in.Row(1)
			if err := order.Create(ctx, st.DB, &row); err != nil {
				t.Fatal(err)
			}
			byName[given] = row.ID
		}
		orders := order.New(st.DB)
		for _, tc := range []struct {
			word string
			want []string
		}{
			{"花_子", []string{"花_子"}},
			{"_", []string{"花_子"}},
			{"100%", []string{"100%引き"}},
			{`\`, []string{`花\子`}},
			{"!", []string{"花!子"}},
			{"花", []string{"花_子", "花X子", `花\子`, "花!子"}},
		} {
			t.Run(tc.word, func(t *testing.T) {
				l, total, err := orders.List(ctx, order.Filter{ShopID: 1, Name: tc.word})
				if err != nil {
					t.Fatal(err)
				}
				var got, want []int64
				for _, o := range l {
					got = append(got, o.ID)
				}
				for _, n := range tc.want {
					want = append(want, byName[n])
				}
				slices.Sort(got)
				slices.Sort(want)
				if total != int64(len(want)) || !slices.Equal(got, want) {
					t.Fatalf("%q found orders %v (total %d), want %v", tc.word, got, total, want)
				}
			})
		}
	})
}
