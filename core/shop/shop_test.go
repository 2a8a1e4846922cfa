package shop_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestShopKeys(t *testing.T) {
	t.Parallel()
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

func TestRevokeOneKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		shops := shop.New(st.DB)
		sh, oldKey, err := shops.Create(ctx, "デモショップ")
		if err != nil {
			t.Fatal(err)
		}
		k, newKey, err := shops.NewKey(ctx, sh.ID)
		if err != nil || k.ShopID != sh.ID || !strings.HasPrefix(newKey, k.Prefix) {
			t.Fatalf("new key: %+v %v", k, err)
		}
		keys, err := shops.Keys(ctx, sh.ID)
		if err != nil || len(keys) != 2 || keys[1].ID != k.ID {
			t.Fatalf("keys: %+v %v", keys, err)
		}
		t.Run("both keys work until one is revoked", func(t *testing.T) {
			for _, key := range []string{oldKey, newKey} {
				if _, err := shops.Authenticate(ctx, key); err != nil {
					t.Fatal(err)
				}
			}
		})
		t.Run("revoking the old key leaves the shop and its new key working", func(t *testing.T) {
			revoked, err := shops.RevokeKey(ctx, keys[0].ID)
			if err != nil || revoked.RevokedAt == nil {
				t.Fatalf("%+v %v", revoked, err)
			}
			if _, err := shops.Authenticate(ctx, oldKey); !errors.Is(err, shop.ErrBadKey) {
				t.Fatalf("the revoked key still works: %v", err)
			}
			if got, err := shops.Authenticate(ctx, newKey); err != nil || got.ID != sh.ID || got.RevokedAt != nil {
				t.Fatalf("the other key stopped working: %v %v", got, err)
			}
		})
		t.Run("revoking again changes nothing; an unknown key is not found", func(t *testing.T) {
			again, err := shops.RevokeKey(ctx, keys[0].ID)
			if err != nil || again.RevokedAt == nil {
				t.Fatalf("%+v %v", again, err)
			}
			if _, err := shops.RevokeKey(ctx, 999999); !errors.Is(err, shop.ErrKeyNotFound) {
				t.Fatalf("unknown key: %v", err)
			}
		})
		t.Run("a revoked shop gets no new key", func(t *testing.T) {
			if err := shops.Revoke(ctx, sh.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := shops.NewKey(ctx, sh.ID); !errors.Is(err, shop.ErrRevoked) {
				t.Fatalf("new key for a revoked shop: %v", err)
			}
		})
	})
}

func TestRevocationElsewhere(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clock := clockwork.NewFakeClock()
		here, elsewhere := shop.New(st.DB), shop.New(st.DB)
		here.Clock = clock
		sh, key, err := elsewhere.Create(ctx, "デモショップ")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := here.Authenticate(ctx, key); err != nil {
			t.Fatal(err)
		}
		keys, err := elsewhere.Keys(ctx, sh.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := elsewhere.RevokeKey(ctx, keys[0].ID); err != nil {
			t.Fatal(err)
		}
		t.Run("a key revoked by another replica is trusted no longer than the cache lasts", func(t *testing.T) {
			clock.Advance(shop.CacheTTL)
			if _, err := here.Authenticate(ctx, key); !errors.Is(err, shop.ErrBadKey) {
				t.Fatalf("revoked key still works after %s: %v", shop.CacheTTL, err)
			}
		})
		t.Run("a key made elsewhere works at once", func(t *testing.T) {
			_, fresh, err := elsewhere.NewKey(ctx, sh.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := here.Authenticate(ctx, fresh); err != nil || got.ID != sh.ID {
				t.Fatalf("authenticate: %v %v", got, err)
			}
		})
	})
}
