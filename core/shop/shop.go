// Package shop owns the shops that call kessai and their API keys. A key is shown once, when
// it is made, and stored only as a SHA-256 hash: a stolen database yields no usable key.
package shop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
)

// KeyPrefix starts every shop API key, so that a leaked key is recognisable in a scan.
const KeyPrefix = "ksk_"

// Shop is a shop front end allowed to call the shop API.
type Shop struct {
	ID        int64 `gorm:"primaryKey"`
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// TableName is the shops table.
func (Shop) TableName() string { return "shops" }

// Key is one API key of a shop, stored hashed.
type Key struct {
	ID        int64 `gorm:"primaryKey"`
	ShopID    int64
	Prefix    string // the first characters, to tell keys apart in a list
	Hash      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// TableName is the shop_keys table.
func (Key) TableName() string { return "shop_keys" }

// Errors callers branch on.
var (
	// ErrBadKey is no kind of the error model: the shop API's authentication answers it
	// itself, 401 with its WWW-Authenticate challenge.
	ErrBadKey      = errors.New("shop: unknown or revoked API key")
	ErrNotFound    = fault.Sentinel("shop: no such shop", fault.NotFound, "not_found", "ショップが見つかりません。")
	ErrName        = fault.Sentinel("shop: name must be 1 to 191 characters", fault.Invalid, "invalid", "ショップ名は1〜191文字で入力してください。").WithField("name")
	ErrKeyNotFound = fault.Sentinel("shop: no such API key", fault.NotFound, "not_found", "APIキーが見つかりません。")
	ErrRevoked     = fault.Sentinel("shop: the shop is revoked", fault.Conflict, "shop_revoked", "このショップは停止されています。")
)

// CacheTTL is how long Authenticate trusts what it read about a key. Every request names its
// key, so the answer is remembered rather than read twice; a revocation made through these
// Shops takes effect at once, and one made elsewhere (another replica, the command line) within
// CacheTTL, which is short enough to count as at once for a key that leaked.
const CacheTTL = 2 * time.Second

// Shops is the shop registry over the database.
type Shops struct {
	db *gorm.DB
	// Clock tells when a remembered key is too old to trust; tests set a fake one.
	Clock clockwork.Clock

	mu    sync.RWMutex
	gen   uint64              // raised by every revocation made here
	known map[string]knownKey // key hash → its shop, good keys only
}

// knownKey is an authenticated key's shop and when it was read.
type knownKey struct {
	shop Shop
	read time.Time
}

// New returns the registry.
func New(db *gorm.DB) *Shops {
	return &Shops{db: db, Clock: clockwork.NewRealClock(), known: map[string]knownKey{}}
}

// forget drops every remembered key: after a revocation here, no request may pass on what was
// read before it.
func (s *Shops) forget() {
	s.mu.Lock()
	s.gen++
	clear(s.known)
	s.mu.Unlock()
}

// Create makes a shop and its first key, returning the key in plain text: the only time it
// is ever visible.
func (s *Shops) Create(ctx context.Context, name string) (*Shop, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 191 {
		return nil, "", ErrName
	}
	sh := &Shop{Name: name}
	var plain string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(sh).Error; err != nil {
			return err
		}
		var err error
		_, plain, err = newKey(ctx, tx, sh.ID)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("create shop %q: %w", name, err)
	}
	return sh, plain, nil
}

// NewKey adds a key to a shop and returns it with its plain text, visible only now. Rotation
// is NewKey, switching the shop over, then RevokeKey of the old key: both work in between.
func (s *Shops) NewKey(ctx context.Context, shopID int64) (*Key, string, error) {
	sh, err := s.Get(ctx, shopID)
	if err != nil {
		return nil, "", err
	}
	if sh.RevokedAt != nil {
		return nil, "", fmt.Errorf("shop %d: %w", shopID, ErrRevoked)
	}
	return newKey(ctx, s.db, shopID)
}

func newKey(ctx context.Context, db *gorm.DB, shopID int64) (*Key, string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", err
	}
	plain := KeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	k := &Key{ShopID: shopID, Prefix: plain[:len(KeyPrefix)+6], Hash: hashKey(plain)}
	if err := db.WithContext(ctx).Create(k).Error; err != nil {
		return nil, "", fmt.Errorf("create key for shop %d: %w", shopID, err)
	}
	return k, plain, nil
}

// Keys returns a shop's keys, oldest first, revoked ones included: ids and prefixes to tell
// them apart, never a usable key.
func (s *Shops) Keys(ctx context.Context, shopID int64) ([]Key, error) {
	if _, err := s.Get(ctx, shopID); err != nil {
		return nil, err
	}
	var ks []Key
	if err := s.db.WithContext(ctx).Where("shop_id = ?", shopID).Order("id").Find(&ks).Error; err != nil {
		return nil, fmt.Errorf("keys of shop %d: %w", shopID, err)
	}
	return ks, nil
}

// RevokeKey disables one key; the shop and its other keys keep working. Revoking a revoked key
// changes nothing and returns it as it is.
func (s *Shops) RevokeKey(ctx context.Context, keyID int64) (*Key, error) {
	defer s.forget()
	res := s.db.WithContext(ctx).Model(&Key{}).Where("id = ? AND revoked_at IS NULL", keyID).Update("revoked_at", s.db.NowFunc())
	if res.Error != nil {
		return nil, fmt.Errorf("revoke key %d: %w", keyID, res.Error)
	}
	var k Key
	err := s.db.WithContext(ctx).First(&k, keyID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("key %d: %w", keyID, err)
	}
	return &k, nil
}

func hashKey(plain string) string {
	h := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(h[:])
}

// Authenticate returns the shop a key belongs to, or ErrBadKey. The key is looked up by its
// hash, so the comparison never touches the plain key in the database. Any other error means
// the database could not be asked: the key may well be good. A good key is remembered for
// CacheTTL; a bad one is asked again every time, so a new key works at once.
func (s *Shops) Authenticate(ctx context.Context, plain string) (*Shop, error) {
	if !strings.HasPrefix(plain, KeyPrefix) {
		return nil, ErrBadKey
	}
	hash := hashKey(plain)
	now := s.Clock.Now()
	s.mu.RLock()
	k, ok := s.known[hash]
	gen := s.gen
	s.mu.RUnlock()
	if ok && now.Sub(k.read) < CacheTTL {
		sh := k.shop
		return &sh, nil
	}
	// The key and its shop in one read: both must be live.
	var sh Shop
	err := s.db.WithContext(ctx).Table("shop_keys k").Select("s.*").Joins("JOIN shops s ON s.id = k.shop_id").
		Where("k.hash = ? AND k.revoked_at IS NULL AND s.revoked_at IS NULL", hash).Take(&sh).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrBadKey
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	s.mu.Lock()
	if s.gen == gen { // no revocation here since the read began
		for h, k := range s.known {
			if now.Sub(k.read) >= CacheTTL {
				delete(s.known, h)
			}
		}
		s.known[hash] = knownKey{shop: sh, read: now}
	}
	s.mu.Unlock()
	return &sh, nil
}

// Get returns a shop by id.
func (s *Shops) Get(ctx context.Context, id int64) (*Shop, error) {
	var sh Shop
	err := s.db.WithContext(ctx).First(&sh, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("shop %d: %w", id, err)
	}
	return &sh, nil
}

// Listed is a shop with its key count, for `kessaid shop list`.
type Listed struct {
	Shop
	ActiveKeys int
}

// List returns every shop, oldest first.
func (s *Shops) List(ctx context.Context) ([]Listed, error) {
	var shops []Shop
	if err := s.db.WithContext(ctx).Order("id").Find(&shops).Error; err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	out := make([]Listed, len(shops))
	for i, sh := range shops {
		var n int64
		if err := s.db.WithContext(ctx).Model(&Key{}).Where("shop_id = ? AND revoked_at IS NULL", sh.ID).Count(&n).Error; err != nil {
			return nil, err
		}
		out[i] = Listed{Shop: sh, ActiveKeys: int(n)}
	}
	return out, nil
}

// Revoke disables a shop and all its keys at once.
func (s *Shops) Revoke(ctx context.Context, id int64) error {
	defer s.forget()
	now := s.db.NowFunc()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Shop{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now)
		if res.Error != nil {
			return fmt.Errorf("revoke shop %d: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			// Inside the transaction, ask through tx: on SQLite the one connection is ours.
			var n int64
			if err := tx.Model(&Shop{}).Where("id = ?", id).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
		}
		return tx.Model(&Key{}).Where("shop_id = ? AND revoked_at IS NULL", id).Update("revoked_at", now).Error
	})
}
