package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
)

// openStore opens and migrates the configured database for a command.
func openStore(ctx context.Context, name string, args []string, e env) (*store.Store, []string, error) {
	fs, parse := flags(name, e)
	cfg, err := parse(args)
	if err != nil {
		return nil, nil, err
	}
	if err := store.EnsureDatabase(ctx, cfg.DB); err != nil {
		return nil, nil, err
	}
	st, err := store.OpenDSN(ctx, cfg.DB, store.Options{Logger: newLogger(e.stderr, cfg.LogLevel)})
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, fs.Args(), nil
}

func shopCreate(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "shop create", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) == 0 {
		return usageError{"expects the shop's name: kessaid shop create NAME"}
	}
	sh, key, err := shop.New(st.DB).Create(ctx, strings.Join(rest, " "))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created shop %d %q\nits API key (shown only now; kessai keeps only a hash):\n%s\n", sh.ID, sh.Name, key)
	return nil
}

func shopList(ctx context.Context, args []string, e env) error {
	st, _, err := openStore(ctx, "shop list", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	shops, err := shop.New(st.DB).List(ctx)
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
}

func shopID(rest []string) (int64, error) { return oneID(rest, "shop", "kessaid shop list") }

// oneID is the single numeric argument of a command: a shop's or a key's id.
func oneID(rest []string, what, where string) (int64, error) {
	if len(rest) != 1 {
		return 0, usageError{fmt.Sprintf("expects one argument: the %s id (see %s)", what, where)}
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil {
		return 0, usageError{fmt.Sprintf("%q is not a %s id", rest[0], what)}
	}
	return id, nil
}

func shopRevoke(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "shop revoke", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := shopID(rest)
	if err != nil {
		return err
	}
	if err := shop.New(st.DB).Revoke(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked shop %d and all its keys\n", id)
	return nil
}

func shopKeys(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "shop keys", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := shopID(rest)
	if err != nil {
		return err
	}
	keys, err := shop.New(st.DB).Keys(ctx, id)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tBEGINS WITH\tCREATED (UTC)\tSTATE")
	for _, k := range keys {
		fmt.Fprintf(tw, "%d\t%s…\t%s\t%s\n", k.ID, k.Prefix, k.CreatedAt.Format("2006-01-02 15:04"), keyState(k))
	}
	return tw.Flush()
}

func keyState(k shop.Key) string {
	if k.RevokedAt != nil {
		return "revoked " + k.RevokedAt.Format("2006-01-02 15:04")
	}
	return "active"
}

func shopKeyRotate(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "shop key rotate", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := shopID(rest)
	if err != nil {
		return err
	}
	k, key, err := shop.New(st.DB).NewKey(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new API key %d for shop %d; the shop's other keys keep working until `kessaid shop key revoke KEY_ID`\n"+
		"its API key (shown only now; kessai keeps only a hash):\n%s\n", k.ID, id, key)
	return nil
}

func shopKeyRevoke(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "shop key revoke", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := oneID(rest, "key", "kessaid shop keys SHOP_ID")
	if err != nil {
		return err
	}
	shops := shop.New(st.DB)
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
}
