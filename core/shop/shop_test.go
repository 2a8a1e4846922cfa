package shop_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestShopKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		shops := shop.New(st.DB)
		sh, key, err := shops.Create(ctx, "デモショップ")
		if err != nil {
			t.Fatal(err)
		}
		t.Run("the key authenticates its shop", func(t *testing.T) {
			got, err := shops.Authenticate(ctx, key)
			if err != nil || got.ID != sh.ID {
				t.Fatalf("authenticate: %v %v", got, err)
			}
		})
		t.Run("the key is stored only hashed", func(t *testing.T) {
			var n int64
			st.DB.Raw("SELECT COUNT(*) FROM shop_keys WHERE hash = ? OR prefix = ?", key, key).Scan(&n)
			if n != 0 {
				t.Fatal("plain key found in shop_keys")
			}
		})
		t.Run("wrong keys are refused", func(t *testing.T) {
			for _, k := range []string{"", "nope", key + "x", strings.ToUpper(key)} {
				if _, err := shops.Authenticate(ctx, k); !errors.Is(err, shop.ErrBadKey) {
					t.Errorf("Authenticate(%q) = %v", k, err)
				}
			}
		})
		t.Run("revoking the shop revokes its keys", func(t *testing.T) {
			if err := shops.Revoke(ctx, sh.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := shops.Authenticate(ctx, key); !errors.Is(err, shop.ErrBadKey) {
				t.Fatalf("revoked key still works: %v", err)
			}
			if err := shops.Revoke(ctx, 999); !errors.Is(err, shop.ErrNotFound) {
				t.Fatalf("revoke unknown = %v", err)
			}
		})
	})
}
