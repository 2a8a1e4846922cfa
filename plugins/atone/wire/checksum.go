package wire

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// checksumExcluded are the top-level keys the checksum never covers: the checksum itself,
// shop_transaction_no (production plugins drop it before hashing) and transaction_options
// ([I, strong]: every integration adds it only after hashing).
var checksumExcluded = []string{"checksum", "shop_transaction_no", "transaction_options"}

// Checksum signs a payment for the widget: SHA-256 over secret + "," + the payment's leaf
// values, keys sorted at every level, then standard Base64.
//
// payment may be a Payment, a map, or raw JSON ([]byte, json.RawMessage, string). Raw JSON
// is hashed as sent, so a numeric string "10" and a number 10 both contribute "10".
func Checksum(secret string, payment any) (string, error) {
	in, err := ChecksumInput(secret, payment)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(in))
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// ChecksumInput is the string that Checksum hashes; useful when a checksum does not match
// and one has to see why.
func ChecksumInput(secret string, payment any) (string, error) {
	v, err := rawObject(payment)
	if err != nil {
		return "", fmt.Errorf("checksum: decode payment: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("checksum: payment is %T, not a JSON object", v)
	}
	var b strings.Builder
	b.WriteString(secret)
	b.WriteByte(',')
	keys := sortedKeys(obj)
	for _, k := range keys {
		if slices.Contains(checksumExcluded, k) {
			continue
		}
		flatten(obj[k], &b)
	}
	return b.String(), nil
}

// VerifyChecksum reports whether the payment carries the checksum secret gives it.
func VerifyChecksum(secret string, payment any) (bool, error) {
	v, err := rawObject(payment)
	if err != nil {
		return false, fmt.Errorf("checksum: decode payment: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return false, fmt.Errorf("checksum: payment is %T, not a JSON object", v)
	}
	got, _ := obj["checksum"].(string)
	want, err := Checksum(secret, obj)
	if err != nil {
		return false, err
	}
	return got != "" && got == want, nil
}

// Sign sets p.Checksum for secret.
func (p *Payment) Sign(secret string) error {
	p.Checksum = ""
	sum, err := Checksum(secret, p)
	if err != nil {
		return err
	}
	p.Checksum = sum
	return nil
}

// flatten writes the leaf values depth-first. Arrays keep their order; nested arrays and
// objects below the third level recurse the same way ([I]: published samples stop at three
// levels). null contributes nothing, like PHP's empty string ([I]; JavaScript would write
// "null", so senders should omit nulls).
func flatten(v any, b *strings.Builder) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			flatten(t[k], b)
		}
	case []any:
		for _, e := range t {
			flatten(e, b)
		}
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(t.String())
	case string:
		b.WriteString(t)
	}
}

// sortedKeys sorts byte-wise, as PHP's ksort and JavaScript's sort do for the ASCII keys
// atone uses.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
