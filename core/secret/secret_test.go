package secret_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/secret"
)

func TestBox(t *testing.T) {
	key, err := secret.ParseKey(secret.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secret.New(key)
	sealed := box.SealString("sk_live_abcdef", "module:atone:secret_key")
	if bytes.Contains(sealed, []byte("sk_live")) {
		t.Fatal("sealed value contains the plaintext")
	}
	t.Run("opens with the same context", func(t *testing.T) {
		got, err := box.OpenString(sealed, "module:atone:secret_key")
		if err != nil || got != "sk_live_abcdef" {
			t.Fatalf("open = %q, %v", got, err)
		}
	})
	t.Run("refuses another context", func(t *testing.T) {
		if _, err := box.Open(sealed, "module:other:secret_key"); !errors.Is(err, secret.ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("refuses another key", func(t *testing.T) {
		k2, _ := secret.ParseKey(secret.NewKey())
		b2, _ := secret.New(k2)
		if _, err := b2.Open(sealed, "module:atone:secret_key"); !errors.Is(err, secret.ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("refuses tampering", func(t *testing.T) {
		bad := append([]byte(nil), sealed...)
		bad[len(bad)-1] ^= 1
		if _, err := box.Open(bad, "module:atone:secret_key"); !errors.Is(err, secret.ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
}

func TestParseKey(t *testing.T) {
	for _, in := range []string{strings.Repeat("ab", 32), "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="} {
		if _, err := secret.ParseKey(in); err != nil {
			t.Errorf("ParseKey(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "short", strings.Repeat("ab", 16), strings.Repeat("zz", 32)} {
		if _, err := secret.ParseKey(in); err == nil {
			t.Errorf("ParseKey(%q) accepted a bad key", in)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "********", "sk_test_123456789": "********6789"} {
		if got := secret.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}
