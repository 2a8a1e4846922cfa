package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
)

func init() {
	register("shop create", "create a shop; prints its API key as the last line (shown only once)", shopCreate)
	register("shop list", "list shops and how many active keys each has", shopList)
	register("shop revoke", "revoke a shop and all its keys: kessaid shop revoke ID", shopRevoke)
	register("shop key", "add an API key to a shop (for rotation): kessaid shop key ID", shopKey)
}

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

func shopID(rest []string) (int64, error) {
	if len(rest) != 1 {
		return 0, usageError{"expects one argument: the shop id (see kessaid shop list)"}
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil {
		return 0, usageError{fmt.Sprintf("%q is not a shop id", rest[0])}
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

func shopKey(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "shop key", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := shopID(rest)
	if err != nil {
		return err
	}
	key, err := shop.New(st.DB).NewKey(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new API key for shop %d (shown only now):\n%s\n", id, key)
	return nil
}
