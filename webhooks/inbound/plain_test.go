package inbound

import (
	"strings"
	"testing"
)

func TestPlain(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ks00001234-1":          "ks00001234-1",
		"注文　１２３":                "注文　１２３",
		"ks1\r\n処理結果 = OK":      `"ks1\r\n処理結果 = OK"`,
		"\x1b[31mred":           `"\x1b[31mred"`,
		"a\u2028b":              `"a\u2028b"`,
		strings.Repeat("あ", 50): strings.Repeat("あ", 42),
	} {
		if got := plain(in); got != want {
			t.Errorf("plain(%q) = %q, want %q", in, got, want)
		}
	}
}
