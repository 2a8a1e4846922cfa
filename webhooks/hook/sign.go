package hook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kessai/kessai/core/fault"
)

// Headers of every delivery.
const (
	// HeaderSignature is "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", as
	// Stripe signs: the timestamp is inside the MAC, so a captured request cannot be replayed
	// later with a fresh timestamp.
	HeaderSignature = "Kessai-Signature"
	// HeaderEventID repeats the body's id, so receivers can deduplicate before parsing.
	HeaderEventID = "Kessai-Event-Id"
)

// DefaultTolerance is how old a signature Verify accepts when given zero.
const DefaultTolerance = 5 * time.Minute

// Errors Verify returns; receivers answer 400 to each.
var (
	ErrSignature = fault.Sentinel("hook: signature does not match", fault.Invalid,
		"signature_mismatch", "Kessai-Signatureの署名が一致しません。")
	ErrExpired = fault.Sentinel("hook: signature timestamp outside tolerance", fault.Invalid,
		"signature_expired", "Kessai-Signatureの時刻が許容範囲外です。")
	ErrHeader = fault.Sentinel("hook: malformed Kessai-Signature header", fault.Invalid,
		"signature_malformed", "Kessai-Signatureヘッダーの形式が正しくありません。")
)

// Sign returns the Kessai-Signature header value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery: header is the Kessai-Signature value, body the raw request body
// (before any JSON decoding), tolerance the largest accepted clock difference (zero means
// DefaultTolerance). Any v1 entry may match, so a header can carry signatures under an old
// and a new secret while a shop rotates.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	// A receiver compares the stamp with its own wall clock, as the sender stamped with its.
	return verifyAt(secret, header, body, tolerance, time.Now())
}

func verifyAt(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrHeader
	}
	// The MAC is checked first, so ErrExpired is only ever said about an authentic request.
	want := mac(secret, ts, body)
	matched := false
	for _, s := range sigs {
		matched = matched || hmac.Equal(s, want)
	}
	if !matched {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %s ago", ErrExpired, d.Round(time.Second))
	}
	return nil
}
