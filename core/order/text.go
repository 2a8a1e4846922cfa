package order

import (
	"fmt"
	"unicode/utf8"
)

// Text is which characters a stored text field accepts. None accepts NUL or another control
// character (C0 but for the tab, CR and LF of free text, DEL, C1), the bidi embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069), U+FEFF or bytes that are not UTF-8.
// A name with a CR/LF in it breaks the mail headers it is written into and the CSV rows of
// the order export; an override makes a name or an item read differently on screen than what
// was stored.
type Text int

const (
	// OneLine is a one-line field: names, addresses, tel, zip, e-mail, item names, SKUs, codes.
	// Welcart's forms for these are one-line inputs: no tab either, nor the line and paragraph
	// separators U+2028 and U+2029.
	OneLine Text = iota
	// FreeText is text typed in a textarea (備考, an item option's text): tab, LF and CR are
	// accepted, as Welcart's textareas send them.
	FreeText
	// Encoded is a JSON column: its strings are checked field by field, the encoding only for
	// its size.
	Encoded
)

// Refused returns the first character of s that t does not accept; utf8.RuneError when s is
// not UTF-8.
func (t Text) Refused(s string) (rune, bool) {
	if t == Encoded {
		return 0, false
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return r, true
		}
		if t.refuses(r) {
			return r, true
		}
		i += n
	}
	return 0, false
}

func (t Text) refuses(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return t != FreeText
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0xfeff:
		return true
	case r == 0x2028 || r == 0x2029:
		return t != FreeText
	}
	return false
}

// Describe names a refused character for a message: its code point and what it is.
func Describe(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "UTF-8として不正なバイト"
	case r == '\t':
		return "U+0009 タブ"
	case r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029:
		return fmt.Sprintf("U+%04X 改行", r)
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return fmt.Sprintf("U+%04X 制御文字", r)
	}
	return fmt.Sprintf("U+%04X 書式制御文字", r)
}
