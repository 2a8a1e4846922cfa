package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// atoneSecretEnv lets the secret key stay out of shell history and process listings.
const atoneSecretEnv = "KESSAI_ATONE_SECRET_KEY"

// atoneChecksum prints the checksum atone.js expects for the payment on stdin. Merchants use
// it when the widget answers EATN0351 不正なチェックサムです。: with -v it also shows the
// string that was hashed (secret masked) and whether the payment's own checksum matches,
// which is what tells a wrong key from a payment changed after signing.
func atoneChecksum(_ context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("kessaid atone checksum", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	key := fs.String("secret-key", "", "shop secret key (店舗秘密鍵); default $"+atoneSecretEnv)
	verbose := fs.Bool("v", false, "also print the hashed string (secret masked) and check the payment's checksum")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: kessaid atone checksum [--secret-key KEY] [-v] < payment.json\n\n"+
			"Prints the checksum of an atone payment object. The secret key may come from $%s instead\n"+
			"of the command line.\n\n", atoneSecretEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q: the payment is read from stdin", fs.Arg(0))}
	}
	secret := *key
	if secret == "" && e.getenv != nil {
		secret = e.getenv(atoneSecretEnv)
	}
	if secret == "" {
		return usageError{"no secret key: pass --secret-key or set " + atoneSecretEnv}
	}
	if e.stdin == nil {
		return usageError{"no payment on stdin"}
	}
	payment, err := io.ReadAll(io.LimitReader(e.stdin, 10<<20))
	if err != nil {
		return fmt.Errorf("read payment: %w", err)
	}
	if strings.TrimSpace(string(payment)) == "" {
		return usageError{"no payment on stdin"}
	}
	sum, err := wire.Checksum(secret, payment)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, sum)
	if !*verbose {
		return nil
	}
	in, err := wire.ChecksumInput(secret, payment)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "hashed: ****%s\n", strings.TrimPrefix(in, secret))
	ok, err := wire.VerifyChecksum(secret, payment)
	switch {
	case err != nil:
		return err
	case ok:
		fmt.Fprintln(e.stderr, "checksum in payment: matches")
	case strings.Contains(string(payment), `"checksum"`):
		return errors.New("checksum in payment does not match: wrong secret key, or the payment changed after signing")
	}
	return nil
}
