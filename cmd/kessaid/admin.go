package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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

func adminCreate(ctx context.Context, args []string, e env) error {
	return adminSet(ctx, "admin create", args, e, admin.CreateUser, "created admin %s\n")
}

func adminPasswd(ctx context.Context, args []string, e env) error {
	return adminSet(ctx, "admin passwd", args, e, admin.SetPassword, "password of %s changed; their sessions are ended\n")
}

func adminSet(ctx context.Context, name string, args []string, e env,
	set func(context.Context, *gorm.DB, string, string, string) error, done string) error {
	st, rest, err := openStore(ctx, name, args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) != 1 {
		return usageError{"expects one argument: the login"}
	}
	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	if err := set(ctx, st.DB, rest[0], pw, "cli"); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, done, rest[0])
	return nil
}

func adminList(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "admin list", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) != 0 {
		return usageError{"takes no arguments"}
	}
	users, err := admin.ListUsers(ctx, st.DB)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(e.stdout, "no admin accounts: kessaid admin create LOGIN < password-file")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tCREATED (UTC)\tFAILED SIGN-INS\tLOCKED UNTIL (UTC)")
	for _, u := range users {
		locked := "-"
		if u.LockedUntil != nil {
			locked = u.LockedUntil.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", u.Login, u.CreatedAt.UTC().Format("2006-01-02 15:04:05"), u.FailedLogins, locked)
	}
	return tw.Flush()
}

func adminTokenCreate(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "admin token create", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) != 1 {
		return usageError{"expects one argument: the token's name, e.g. welcart-bridge"}
	}
	tk, plain, err := admin.CreateToken(ctx, st.DB, rest[0], "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created admin token %d %q\nthe token (shown only now; kessai keeps only a hash):\n%s\n", tk.ID, tk.Name, plain)
	return nil
}

func adminTokenRevoke(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "admin token revoke", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) != 1 {
		return usageError{"expects one argument: the token's name or id (see kessaid admin token list)"}
	}
	tk, err := admin.RevokeToken(ctx, st.DB, rest[0], "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked admin token %d %q\n", tk.ID, tk.Name)
	return nil
}

func adminTokenList(ctx context.Context, args []string, e env) error {
	st, rest, err := openStore(ctx, "admin token list", args, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(rest) != 0 {
		return usageError{"takes no arguments"}
	}
	tokens, err := admin.ListTokens(ctx, st.DB)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		fmt.Fprintln(e.stdout, "no admin tokens: kessaid admin token create NAME")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED (UTC)\tSTATE")
	for _, tk := range tokens {
		state := "active"
		if tk.RevokedAt != nil {
			state = "revoked " + tk.RevokedAt.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\n", tk.ID, tk.Name, tk.Prefix, tk.CreatedAt.UTC().Format("2006-01-02 15:04"), state)
	}
	return tw.Flush()
}
