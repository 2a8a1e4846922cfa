package order_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// A Welcart bridge sends the order's ID and link key in its Welcart along with the order.
// Each is unique in the shop, so that the façade finds the order by what Welcart posts.
func TestWelcartKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		st.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('a', CURRENT_TIMESTAMP), ('b', CURRENT_TIMESTAMP)")
		orders := order.New(st.DB)
		withKeys := func(shop int64, number string, wid int64, key string) order.Order {
			in := parse(t, strings.Replace(welcartOrder, `"order_number": "1001",`,
				`"order_number": "`+number+`", "welcart_order_id": `+itoa(wid)+`, "welcart_trans_id": " `+key+` ",`, 1))
			if err := in.Validate(); err != nil {
				t.Fatal(err)
			}
			return in.Row(shop)
		}
		first := withKeys(1, "w1", 1001, "81234567")
		if err := orders.Taken(ctx, &first); err != nil {
			t.Fatalf("Taken before any order: %v", err)
		}
		if err := order.Create(ctx, st.DB, &first); err != nil {
			t.Fatal(err)
		}
		got, err := orders.Get(ctx, 1, first.ID)
		if err != nil || got.WelcartOrderID == nil || *got.WelcartOrderID != 1001 || got.WelcartTransID == nil || *got.WelcartTransID != "81234567" {
			t.Fatalf("stored %+v %v", got, err)
		}

		t.Run("each key is unique in the shop, whichever is taken", func(t *testing.T) {
			for _, tc := range []struct {
				o     order.Order
				field string
			}{
				{withKeys(1, "w2", 1001, "89999999"), "welcart_order_id"},
				{withKeys(1, "w3", 1002, "81234567"), "welcart_trans_id"},
			} {
				var de *order.DuplicateError
				if err := orders.Taken(ctx, &tc.o); !errors.As(err, &de) || de.Field != tc.field {
					t.Fatalf("Taken = %v, want %s", err, tc.field)
				}
				// Two requests may both pass Taken: the unique index refuses the second, and
				// Create names the key.
				if err := order.Create(ctx, st.DB, &tc.o); !errors.As(err, &de) || de.Field != tc.field {
					t.Fatalf("Create = %v, want %s", err, tc.field)
				}
			}
			dup := withKeys(1, "w1", 1003, "83333333")
			if err := order.Create(ctx, st.DB, &dup); !errors.Is(err, order.ErrDuplicate) {
				t.Fatalf("the order number: %v", err)
			}
		})
		t.Run("another shop may hold the same keys, and orders without keys are many", func(t *testing.T) {
			other := withKeys(2, "w1", 1001, "81234567")
			if err := order.Create(ctx, st.DB, &other); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"p1", "p2"} {
				plain := parse(t, strings.Replace(welcartOrder, `"1001"`, `"`+n+`"`, 1)).Row(1)
				if err := order.Create(ctx, st.DB, &plain); err != nil {
					t.Fatal(err)
				}
			}
		})
		t.Run("Named: Welcart's order ID first, then kessai's id", func(t *testing.T) {
			// Both number from 1000: Welcart's order ID of one order may be kessai's id of
			// another.
			plain, _, err := orders.List(ctx, order.Filter{ShopID: 1, Number: "p1"})
			if err != nil || len(plain) != 1 {
				t.Fatal(err)
			}
			twin := withKeys(1, "w4", plain[0].ID, "84444444")
			if err := order.Create(ctx, st.DB, &twin); err != nil {
				t.Fatal(err)
			}
			l, err := orders.Named(ctx, 1, plain[0].ID)
			if err != nil || len(l) != 2 || l[0].ID != twin.ID || l[1].ID != plain[0].ID {
				t.Fatalf("%v %v", ids(l), err)
			}
			if l, _ := orders.Named(ctx, 0, 1001); len(l) != 2 || l[0].ShopID == l[1].ShopID { // every shop's
				t.Fatalf("every shop: %v", ids(l))
			}
			if l, _ := orders.Named(ctx, 2, 9999); len(l) != 0 {
				t.Fatalf("none: %v", ids(l))
			}
		})
		t.Run("an edit keeps the keys", func(t *testing.T) {
			cancel := "cancel"
			n, _, err := order.Edit{Process: &cancel}.Apply(*got)
			if err != nil || n.WelcartOrderID != got.WelcartOrderID || n.WelcartTransID != got.WelcartTransID {
				t.Fatalf("%+v %v", n, err)
			}
		})
	})
}

func TestValidateWelcartKeys(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		json  string
		field string
	}{
		"order ID 0":               {`"welcart_order_id": 0,`, "welcart_order_id"},
		"negative order ID":        {`"welcart_order_id": -5,`, "welcart_order_id"},
		"link key of 65":           {`"welcart_trans_id": "` + strings.Repeat("1", 65) + `",`, "welcart_trans_id"},
		"link key with a new line": {`"welcart_trans_id": "123\n456",`, "welcart_trans_id"},
		"link key of 64":           {`"welcart_trans_id": "` + strings.Repeat("1", 64) + `",`, ""},
		"no keys":                  {``, ""},
	} {
		t.Run(name, func(t *testing.T) {
			in := parse(t, strings.Replace(welcartOrder, `"member_id": 1000,`, tc.json+`"member_id": 1000,`, 1))
			err := in.Validate()
			var ve order.ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field != "" && (!errors.As(err, &ve) || ve[0].Field != tc.field):
				t.Fatalf("Validate() = %v, want a refusal of %s", err, tc.field)
			}
		})
	}
}

func ids(l []order.Order) []int64 {
	out := make([]int64, len(l))
	for i, o := range l {
		out[i] = o.ID
	}
	return out
}

func itoa(n int64) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
