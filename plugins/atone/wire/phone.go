package wire

import (
	"strings"
)

// Which customer field a phone number belongs in.
const (
	FieldPhoneNumber = "phone_number" // mobile: 070, 080, 090
	FieldTel         = "tel"          // everything else
)

// NormalizePhone keeps only the digits of a phone number, turning full-width digits
// half-width: Welcart stores what the buyer typed, atone wants 半角数字.
func NormalizePhone(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
		}
	}
	return b.String()
}

// ClassifyPhone says which field atone expects the number in: phone_number takes only mobile
// numbers (EATN0149/EATN0358), landlines go to tel. Production integrations split them the
// same way.
func ClassifyPhone(s string) string {
	n := NormalizePhone(s)
	if len(n) == 11 && (strings.HasPrefix(n, "070") || strings.HasPrefix(n, "080") || strings.HasPrefix(n, "090")) {
		return FieldPhoneNumber
	}
	return FieldTel
}

// SetPhone stores number in the field ClassifyPhone picks, as digits only.
func (c *Customer) SetPhone(number string) {
	n := NormalizePhone(number)
	if ClassifyPhone(n) == FieldPhoneNumber {
		c.PhoneNumber = n
		return
	}
	c.Tel = n
}
