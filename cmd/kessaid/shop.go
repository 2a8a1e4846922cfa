package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kessai/kessai/core/shop"
)

var shopCreate = onRecords("shop create", func(ctx context.Context, r records, e env) error {
	if len(r.args) == 0 {
		return usageError{"expects the shop's name: kessaid shop create NAME"}
	}
	sh, key, err := shop.New(r.st.DB).Create(ctx, strings.Join(r.args, " "))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created shop %d %q\nits API key (shown only now; kessai keeps only a hash):\n%s\n", sh.ID, sh.Name, key)
	return nil
})

var shopList = onRecords("shop list", func(ctx context.Context, r records, e env) error {
	shops, err := shop.New(r.st.DB).List(ctx)
	if err != nil {
		return err
	}
	var tw table // shop names are mostly Japanese: columns by display width
	tw.row("ID", "NAME", "KEYS", "CREATED (UTC)", "STATE")
	for _, s := range shops {
		state := "active"
		if s.RevokedAt != nil {
			state = "revoked " + s.RevokedAt.Format("2006-01-02 15:04")
		}
		tw.row(strconv.FormatInt(s.ID, 10), s.Name, strconv.Itoa(s.ActiveKeys), s.CreatedAt.Format("2006-01-02 15:04"), state)
	}
	return tw.write(e.stdout)
})

// shopID is the shop id argument of the shop commands.
func shopID(r records) (int64, error) { return r.id("shop", "kessaid shop list") }

var shopRevoke = onRecords("shop revoke", func(ctx context.Context, r records, e env) error {
	id, err := shopID(r)
	if err != nil {
		return err
	}
	if err := shop.New(r.st.DB).Revoke(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked shop %d and all its keys\n", id)
	return nil
})

var shopKeys = onRecords("shop keys", func(ctx context.Context, r records, e env) error {
	id, err := shopID(r)
	if err != nil {
		return err
	}
	keys, err := shop.New(r.st.DB).Keys(ctx, id)
	if err != nil {
		return err
	}
	var tw table
	tw.row("KEY ID", "BEGINS WITH", "CREATED (UTC)", "STATE")
	for _, k := range keys {
		tw.row(strconv.FormatInt(k.ID, 10), k.Prefix+"…", k.CreatedAt.Format("2006-01-02 15:04"), keyState(k))
	}
	return tw.write(e.stdout)
})

func keyState(k shop.Key) string {
	if k.RevokedAt != nil {
		return "revoked " + k.RevokedAt.Format("2006-01-02 15:04")
	}
	return "active"
}

var shopKeyRotate = onRecords("shop key rotate", func(ctx context.Context, r records, e env) error {
	id, err := shopID(r)
	if err != nil {
		return err
	}
	k, key, err := shop.New(r.st.DB).NewKey(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new API key %d for shop %d; the shop's other keys keep working until `kessaid shop key revoke KEY_ID`\n"+
		"its API key (shown only now; kessai keeps only a hash):\n%s\n", k.ID, id, key)
	return nil
})

var shopKeyRevoke = onRecords("shop key revoke", func(ctx context.Context, r records, e env) error {
	id, err := r.id("key", "kessaid shop keys SHOP_ID")
	if err != nil {
		return err
	}
	shops := shop.New(r.st.DB)
	k, err := shops.RevokeKey(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "key %d (%s…) of shop %d: %s\n", k.ID, k.Prefix, k.ShopID, keyState(*k))
	keys, err := shops.Keys(ctx, k.ShopID)
	if err != nil {
		return err
	}
	for _, other := range keys {
		if other.RevokedAt == nil {
			return nil
		}
	}
	fmt.Fprintf(e.stdout, "shop %d has no active key left: make one with `kessaid shop key rotate %d`\n", k.ShopID, k.ShopID)
	return nil
})
