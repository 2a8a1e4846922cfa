package option_test

import (
	"context"
	"testing"

	"github.com/kessai/kessai/core/option"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestOptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Run("a name never saved is absent", func(t *testing.T) {
			got, err := option.Get(ctx, st.DB, "a")
			if err != nil || len(got) != 0 {
				t.Fatalf("Get = %v, %v", got, err)
			}
		})
		t.Run("a saved value replaces the last one", func(t *testing.T) {
			if err := option.Set(ctx, st.DB, option.Value{Name: "a", Value: "1"}, option.Value{Name: "b", Value: "2"}); err != nil {
				t.Fatal(err)
			}
			if err := option.Set(ctx, st.DB, option.Value{Name: "a", Value: "3"}); err != nil {
				t.Fatal(err)
			}
			got, err := option.Get(ctx, st.DB, "a", "b", "c")
			if err != nil || len(got) != 2 || got["a"] != "3" || got["b"] != "2" {
				t.Fatalf("Get = %v, %v", got, err)
			}
		})
		t.Run("a deleted name is gone, the others stay", func(t *testing.T) {
			if err := option.Delete(ctx, st.DB, "a"); err != nil {
				t.Fatal(err)
			}
			got, err := option.Get(ctx, st.DB, "a", "b")
			if err != nil || len(got) != 1 || got["b"] != "2" {
				t.Fatalf("Get = %v, %v", got, err)
			}
		})
	})
}
