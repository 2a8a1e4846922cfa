package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/store"
)

// TokenPrefix starts every admin API token: a leaked one is recognisable in a scan, and the
// Welcart façade tells it from a shop key (ksk_).
const TokenPrefix = "kat_"

// Token is an admin API token (admin_tokens): the credential of a program that changes
// daemon-wide settings, such as a Welcart bridge relaying 基本設定 > 支払方法. Like a shop key
// it is shown once, when made, and stored only as a SHA-256 hash.
type Token struct {
	ID        int64 `gorm:"primaryKey"`
	Name      string
	Prefix    string // the first characters, to tell tokens apart in a list
	Hash      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// TableName is the admin_tokens table.
func (Token) TableName() string { return "admin_tokens" }

// Errors of the token functions; callers branch with errors.Is.
var (
	ErrTokenName   = errors.New("token name must be 1-191 characters without spaces, not only digits")
	ErrTokenExists = errors.New("an active admin token already has this name")
	ErrNoToken     = errors.New("no such active admin token")
	// ErrBadToken and ErrBootstrapClosed are httpapi.ErrAdminToken: the caller gets a 401.
	ErrBadToken        = fmt.Errorf("%w: unknown or revoked admin token", httpapi.ErrAdminToken)
	ErrBootstrapClosed = fmt.Errorf("%w: KESSAI_ADMIN_TOKEN works only until the first admin user exists; "+
		"use an admin API token (kessaid admin token create NAME)", httpapi.ErrAdminToken)
)

func checkTokenName(name string) error {
	if name == "" || len(name) > 191 || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		return ErrTokenName
	}
	// All digits would read as an id to `kessaid admin token revoke`.
	if _, err := strconv.ParseInt(name, 10, 64); err == nil {
		return ErrTokenName
	}
	return nil
}

func hashToken(plain string) string {
	h := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(h[:])
}

// CreateToken makes an admin API token named name and returns it in plain text: the only time
// it is ever visible. actor is who asked ("cli" from the command line).
func CreateToken(ctx context.Context, db *gorm.DB, name, actor string) (*Token, string, error) {
	if err := checkTokenName(name); err != nil {
		return nil, "", err
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", err
	}
	plain := TokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	tk := &Token{Name: name, Prefix: plain[:len(TokenPrefix)+6], Hash: hashToken(plain), CreatedAt: db.NowFunc()}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Token{}).Where("name = ? AND revoked_at IS NULL", name).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s", ErrTokenExists, name)
		}
		if err := tx.Create(tk).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "admin.token.create", name, map[string]any{"id": tk.ID, "prefix": tk.Prefix})
	})
	if err != nil {
		return nil, "", fmt.Errorf("create admin token %s: %w", name, err)
	}
	return tk, plain, nil
}

// RevokeToken revokes the active token named nameOrID, or with that id when it is a number.
func RevokeToken(ctx context.Context, db *gorm.DB, nameOrID, actor string) (*Token, error) {
	var tk Token
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("revoked_at IS NULL")
		if id, err := strconv.ParseInt(nameOrID, 10, 64); err == nil {
			q = q.Where("id = ?", id)
		} else {
			q = q.Where("name = ?", nameOrID)
		}
		if err := q.Take(&tk).Error; errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNoToken, nameOrID)
		} else if err != nil {
			return err
		}
		now := tx.NowFunc()
		res := tx.Model(&Token{}).Where("id = ? AND revoked_at IS NULL", tk.ID).Update("revoked_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: %s", ErrNoToken, nameOrID)
		}
		tk.RevokedAt = &now
		return audit.Record(ctx, tx, actor, "admin.token.revoke", tk.Name, map[string]any{"id": tk.ID, "prefix": tk.Prefix})
	})
	if err != nil {
		return nil, err
	}
	return &tk, nil
}

// ListTokens returns every admin API token, revoked ones too, oldest first.
func ListTokens(ctx context.Context, db *gorm.DB) ([]Token, error) {
	var ts []Token
	if err := db.WithContext(ctx).Order("id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("list admin tokens: %w", err)
	}
	return ts, nil
}

// Tokens checks admin bearer tokens: admin API tokens, and the bootstrap token
// (KESSAI_ADMIN_TOKEN) while no admin user exists, so that a token left in a deployment's
// environment stops opening the admin API once real accounts are there.
type Tokens struct {
	db        *gorm.DB
	bootstrap string
	want      [32]byte
}

var _ httpapi.AdminAuthenticator = (*Tokens)(nil)

// NewTokens checks tokens against db; bootstrap is KESSAI_ADMIN_TOKEN ("" for none).
func NewTokens(db *gorm.DB, bootstrap string) *Tokens {
	return &Tokens{db: db, bootstrap: bootstrap, want: sha256.Sum256([]byte(bootstrap))}
}

// AuthenticateAdmin returns the audit actor of an admin bearer token: token:NAME for an admin
// API token, admin-token for the bootstrap token. A token it does not accept is
// httpapi.ErrAdminToken.
func (t *Tokens) AuthenticateAdmin(ctx context.Context, plain string) (string, error) {
	db := t.db.WithContext(ctx)
	if strings.HasPrefix(plain, TokenPrefix) {
		var tk Token
		err := db.Where("hash = ? AND revoked_at IS NULL", hashToken(plain)).Take(&tk).Error
		if errors.Is(err, store.ErrNotFound) {
			return "", ErrBadToken
		}
		if err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		return "token:" + tk.Name, nil
	}
	// Comparing fixed-size digests keeps the comparison constant-time whatever the lengths; an
	// empty bootstrap token never matches.
	got := sha256.Sum256([]byte(plain))
	if t.bootstrap == "" || subtle.ConstantTimeCompare(got[:], t.want[:]) != 1 {
		return "", ErrBadToken
	}
	var n int64
	if err := db.Model(&User{}).Count(&n).Error; err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if n > 0 {
		return "", ErrBootstrapClosed
	}
	return httpapi.AdminTokenActor, nil
}
