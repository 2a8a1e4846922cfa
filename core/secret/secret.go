// Package secret seals values at rest under the daemon's master key (KESSAI_MASTER_KEY) with
// AES-256-GCM, and masks them for display. Nothing sealed here is ever returned by an API.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the master key length in bytes.
const KeySize = 32

// version prefixes every sealed value so that a future key rotation can tell old from new.
const version byte = 1

// ErrOpen is returned when a sealed value cannot be opened: wrong key, or the bytes were changed.
var ErrOpen = errors.New("secret: cannot open sealed value (wrong master key or tampered data)")

// Box seals and opens values under one master key.
type Box struct{ aead cipher.AEAD }

// ParseKey accepts a master key as 64 hex digits or as standard Base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	return nil, fmt.Errorf("must be %d bytes as 64 hex digits or Base64 (generate one with `openssl rand -hex 32`)", KeySize)
}

// NewKey returns a fresh random key, hex encoded.
func NewKey() string {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext. context binds the ciphertext to where it is stored (for example
// "module:atone:secret_key"), so a sealed value copied into another row does not open there.
func (b *Box) Seal(plaintext []byte, context string) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plaintext, []byte(context))
}

// Open decrypts what Seal produced with the same context.
func (b *Box) Open(sealed []byte, context string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// SealString and OpenString are Seal and Open for text.
func (b *Box) SealString(s, context string) []byte { return b.Seal([]byte(s), context) }

// OpenString opens a sealed string; an empty input opens to "".
func (b *Box) OpenString(sealed []byte, context string) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	pt, err := b.Open(sealed, context)
	return string(pt), err
}

// Mask shows that a secret is set without showing it: the last four characters at most, and
// nothing at all for short values.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(s)
	if len(r) <= 8 {
		return "********"
	}
	return "********" + string(r[len(r)-4:])
}
