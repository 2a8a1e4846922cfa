package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/store"
)

// Sign-in rules.
const (
	MinPassword   = 10               // characters; bcrypt reads at most 72 bytes
	MaxPassword   = 72               // bytes, bcrypt's limit: longer would be cut silently
	MaxFailures   = 5                // failed sign-ins in a row before the account locks
	LockoutPeriod = 15 * time.Minute // how long it stays locked
)

// Errors of the user functions; callers branch with errors.Is.
var (
	ErrUserExists       = errors.New("admin user already exists")
	ErrNoUser           = errors.New("no such admin user")
	ErrPasswordTooShort = fmt.Errorf("password must be at least %d characters", MinPassword)
	ErrPasswordTooLong  = fmt.Errorf("password must be at most %d bytes", MaxPassword)
	ErrBadLogin         = errors.New("login must be 1-191 characters without spaces")
	ErrBadCredentials   = errors.New("wrong login or password")
	ErrLocked           = errors.New("account locked after too many failed sign-ins")
)

// User is an admin account (admin_users).
type User struct {
	ID           uint64 `gorm:"primaryKey"`
	Login        string
	PasswordHash string
	FailedLogins int
	LockedUntil  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName is the admin_users table.
func (User) TableName() string { return "admin_users" }

func checkLogin(login string) error {
	if login == "" || len(login) > 191 || strings.IndexFunc(login, unicode.IsSpace) >= 0 {
		return ErrBadLogin
	}
	return nil
}

func hashPassword(pw string) (string, error) {
	if len([]rune(pw)) < MinPassword {
		return "", ErrPasswordTooShort
	}
	if len(pw) > MaxPassword {
		return "", ErrPasswordTooLong
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// CreateUser adds an admin account. actor is who did it ("cli" from the command line).
func CreateUser(ctx context.Context, db *gorm.DB, login, password, actor string) error {
	if err := checkLogin(login); err != nil {
		return err
	}
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&User{Login: login, PasswordHash: h, CreatedAt: now, UpdatedAt: now}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "admin.user.create", login, nil)
	})
	if store.IsDuplicate(err) {
		return fmt.Errorf("%w: %s", ErrUserExists, login)
	}
	return err
}

// SetPassword replaces an admin's password, lifts a lockout and ends the admin's sessions:
// a password changed because it leaked must not leave a session opened with it.
func SetPassword(ctx context.Context, db *gorm.DB, login, password, actor string) error {
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.Where("login = ?", login).Take(&u).Error; errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNoUser, login)
		} else if err != nil {
			return err
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
			"password_hash": h, "failed_logins": 0, "locked_until": nil, "updated_at": time.Now().UTC(),
		}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&session{}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "admin.user.passwd", login, nil)
	})
}

// ListUsers returns the admin accounts by login.
func ListUsers(ctx context.Context, db *gorm.DB) ([]User, error) {
	var us []User
	if err := db.WithContext(ctx).Order("login").Find(&us).Error; err != nil {
		return nil, fmt.Errorf("list admin users: %w", err)
	}
	return us, nil
}

// dummyHash is compared against when the login is unknown, so that an unknown login takes as
// long to refuse as a wrong password and logins cannot be probed by timing.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("kessai-no-such-user"), bcrypt.DefaultCost)
	return h
})

// authenticate checks a sign-in and keeps the lockout count. A locked account is refused
// whatever the password, and the attempt does not extend the lock.
func (c *Console) authenticate(ctx context.Context, login, password string) (User, error) {
	db := c.deps.Store.DB.WithContext(ctx)
	now := c.deps.Now().UTC()
	if checkLogin(login) != nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, ErrBadCredentials
	}
	var u User
	err := db.Where("login = ?", login).Take(&u).Error
	if errors.Is(err, store.ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		if err := audit.Record(ctx, db, login, "admin.signin.failed", login, map[string]any{"reason": "unknown login"}); err != nil {
			return User{}, fmt.Errorf("sign in: %w", err)
		}
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		return u, ErrLocked
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil {
		if err := db.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
			"failed_logins": 0, "locked_until": nil, "updated_at": now,
		}).Error; err != nil {
			return User{}, fmt.Errorf("sign in: %w", err)
		}
		return u, nil
	}
	// Counted in SQL, not from the row read above: two wrong passwords at once both count.
	var locked bool
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
			"failed_logins": gorm.Expr("failed_logins + 1"), "updated_at": now,
		}).Error; err != nil {
			return err
		}
		res := tx.Model(&User{}).Where("id = ? AND failed_logins >= ?", u.ID, MaxFailures).Updates(map[string]any{
			"failed_logins": 0, "locked_until": now.Add(LockoutPeriod),
		})
		if res.Error != nil {
			return res.Error
		}
		locked = res.RowsAffected > 0
		action := "admin.signin.failed"
		if locked {
			action = "admin.locked"
		}
		return audit.Record(ctx, tx, login, action, login, nil)
	})
	if err != nil {
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	if locked {
		return u, ErrLocked
	}
	return u, ErrBadCredentials
}
