package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/admin"
)

// readPassword reads the password from the first line of stdin: piped in by scripts, typed by
// people. It is never taken from the command line, where ps and shell history would keep it.
func readPassword(e env) (string, error) {
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usageError{"expects the password on stdin, e.g. `kessaid admin create LOGIN < password-file`"}
	}
	return pw, nil
}

var adminCreate = adminSet("admin create", admin.CreateUser, "created admin %s\n")

var adminPasswd = adminSet("admin passwd", admin.SetPassword, "password of %s changed; their sessions are ended\n")

func adminSet(name string, set func(context.Context, *gorm.DB, string, string, string) error, done string) func(context.Context, []string, env) error {
	return onRecords(name, func(ctx context.Context, r records, e env) error {
		login, err := r.one("the login")
		if err != nil {
			return err
		}
		pw, err := readPassword(e)
		if err != nil {
			return err
		}
		if err := set(ctx, r.st.DB, login, pw, "cli"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, done, login)
		return nil
	})
}

var adminList = onRecords("admin list", func(ctx context.Context, r records, e env) error {
	if err := r.none(); err != nil {
		return err
	}
	users, err := admin.ListUsers(ctx, r.st.DB)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(e.stdout, "no admin accounts: kessaid admin create LOGIN < password-file")
		return nil
	}
	var tw table
	tw.row("LOGIN", "CREATED (UTC)", "FAILED SIGN-INS", "LOCKED UNTIL (UTC)")
	for _, u := range users {
		locked := "-"
		if u.LockedUntil != nil {
			locked = u.LockedUntil.UTC().Format("2006-01-02 15:04:05")
		}
		tw.row(u.Login, u.CreatedAt.UTC().Format("2006-01-02 15:04:05"), strconv.Itoa(u.FailedLogins), locked)
	}
	return tw.write(e.stdout)
})

var adminTokenCreate = onRecords("admin token create", func(ctx context.Context, r records, e env) error {
	name, err := r.one("the token's name, e.g. welcart-bridge")
	if err != nil {
		return err
	}
	tk, plain, err := admin.CreateToken(ctx, r.st.DB, name, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created admin token %d %q\nthe token (shown only now; kessai keeps only a hash):\n%s\n", tk.ID, tk.Name, plain)
	return nil
})

var adminTokenRevoke = onRecords("admin token revoke", func(ctx context.Context, r records, e env) error {
	which, err := r.one("the token's name or id (see kessaid admin token list)")
	if err != nil {
		return err
	}
	tk, err := admin.RevokeToken(ctx, r.st.DB, which, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked admin token %d %q\n", tk.ID, tk.Name)
	return nil
})

var adminTokenList = onRecords("admin token list", func(ctx context.Context, r records, e env) error {
	if err := r.none(); err != nil {
		return err
	}
	tokens, err := admin.ListTokens(ctx, r.st.DB)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		fmt.Fprintln(e.stdout, "no admin tokens: kessaid admin token create NAME")
		return nil
	}
	var tw table
	tw.row("ID", "NAME", "PREFIX", "CREATED (UTC)", "STATE")
	for _, tk := range tokens {
		state := "active"
		if tk.RevokedAt != nil {
			state = "revoked " + tk.RevokedAt.UTC().Format("2006-01-02 15:04")
		}
		tw.row(strconv.FormatInt(tk.ID, 10), tk.Name, tk.Prefix+"…", tk.CreatedAt.UTC().Format("2006-01-02 15:04"), state)
	}
	return tw.write(e.stdout)
})
