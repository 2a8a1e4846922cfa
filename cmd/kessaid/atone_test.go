package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The vector of atone-api.md §6.2.
const (
	atoneVectorSecret  = "test-secret-key"
	atoneVectorPayment = `{"amount":10,"shop_transaction_no":"shop-tran-no-123456789","sales_settled":false,"description_trans":"備考です。","customer":{"customer_name":"接続テスト"},"items":[{"shop_item_id":"1","item_name":"１０円チョコ","item_price":10,"item_count":1,"item_url":"https://atone.be/items/1"}]}`
	atoneVectorSum     = "/BbcSFQap2ibY5xNPh1j8VlyoRDYYgWHTQKIJ/BYOfg="
)

func runAtone(t *testing.T, stdin string, environ map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"atone", "checksum"}, args...), env{
		stdin:  strings.NewReader(stdin),
		stdout: &out, stderr: &errb,
		getenv: func(k string) string { return environ[k] },
	})
	return code, out.String(), errb.String()
}

func TestAtoneChecksumCommand(t *testing.T) {
	t.Run("the key on the command line", func(t *testing.T) {
		code, out, errs := runAtone(t, atoneVectorPayment, nil, "--secret-key", atoneVectorSecret)
		if code != 0 || out != atoneVectorSum+"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("the key from the environment, kept out of shell history", func(t *testing.T) {
		code, out, _ := runAtone(t, atoneVectorPayment, map[string]string{atoneSecretEnv: atoneVectorSecret})
		if code != 0 || out != atoneVectorSum+"\n" {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
	})
	t.Run("the flag wins over the environment", func(t *testing.T) {
		_, out, _ := runAtone(t, atoneVectorPayment, map[string]string{atoneSecretEnv: "other"}, "--secret-key", atoneVectorSecret)
		if out != atoneVectorSum+"\n" {
			t.Fatalf("stdout %q", out)
		}
	})
	t.Run("-v shows the hashed string without the secret and checks a signed payment", func(t *testing.T) {
		signed := strings.Replace(atoneVectorPayment, `{"amount"`, `{"checksum":"`+atoneVectorSum+`","amount"`, 1)
		code, _, errs := runAtone(t, signed, nil, "--secret-key", atoneVectorSecret, "-v")
		if code != 0 || strings.Contains(errs, atoneVectorSecret) ||
			!strings.Contains(errs, "****,10接続テスト備考です。1１０円チョコ10https://atone.be/items/11false") ||
			!strings.Contains(errs, "matches") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("a payment signed with another key is reported, exit 1", func(t *testing.T) {
		signed := strings.Replace(atoneVectorPayment, `{"amount"`, `{"checksum":"AAAA","amount"`, 1)
		code, out, errs := runAtone(t, signed, nil, "--secret-key", atoneVectorSecret, "-v")
		if code != 1 || out != atoneVectorSum+"\n" || !strings.Contains(errs, "does not match") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("no secret is a usage error", func(t *testing.T) {
		code, _, errs := runAtone(t, atoneVectorPayment, nil)
		if code != 2 || !strings.Contains(errs, atoneSecretEnv) {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("not JSON is one line, exit 1", func(t *testing.T) {
		code, _, errs := runAtone(t, "amount=10", nil, "--secret-key", "k")
		if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
}
