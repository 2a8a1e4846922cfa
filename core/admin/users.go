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
	h, err := bcrypt.GenerateFromPassword([]byte(pw), passwordCost)
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
	now := db.NowFunc()
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
			"password_hash": h, "failed_logins": 0, "locked_until": nil, "updated_at": tx.NowFunc(),
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
	h, _ := bcrypt.GenerateFromPassword([]byte("kessai-no-such-user"), passwordCost)
	return h
})

// passwordCost is bcrypt's work factor for stored passwords and the dummy hash alike: an unknown
// login must cost what a real one does.
var passwordCost = bcrypt.DefaultCost

// compareHash is bcrypt's comparison; every sign-in attempt runs it exactly once, whatever
// becomes of the attempt.
var compareHash = bcrypt.CompareHashAndPassword

// authenticate checks a sign-in and keeps the lockout count.
//
// The attempt is counted before its password is compared, in a conditional UPDATE that only an
// unlocked account passes, and the count it reached is read in the same transaction: a burst
// of parallel attempts gets at most MaxFailures passwords compared, and the attempt past the
// allowance locks the account instead of being checked. A right password signs in only if the
// account was not locked meanwhile.
//
// Every refusal (unknown login, wrong password, locked account) runs the password hash once and
// returns ErrBadCredentials or ErrLocked, which the sign-in page answers alike: neither the
// answer nor its time tells which logins exist or are locked.
func (c *Console) authenticate(ctx context.Context, login, password string) (User, error) {
	db := c.deps.Store.DB.WithContext(ctx)
	now := c.deps.Clock.Now().UTC()
	var u User
	err := store.ErrNotFound
	if checkLogin(login) == nil {
		err = db.Where("login = ?", login).Take(&u).Error
	}
	if errors.Is(err, store.ErrNotFound) {
		_ = compareHash(dummyHash(), []byte(password))
		return User{}, c.refuse(ctx, login, ErrBadCredentials, "unknown login", false)
	}
	if err != nil {
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	n, err := countAttempt(db, u.ID, now)
	if err != nil {
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	if n == 0 || n > MaxFailures {
		// Locked, or the allowance is taken by attempts still in flight: the password is not
		// looked at, only hashed for the time it takes.
		_ = compareHash([]byte(u.PasswordHash), []byte(password))
		locked := false
		if n > MaxFailures {
			if locked, err = lockIfDue(db, u.ID, now); err != nil {
				return User{}, fmt.Errorf("sign in: %w", err)
			}
		}
		return User{}, c.refuse(ctx, login, ErrLocked, "locked", locked)
	}
	if compareHash([]byte(u.PasswordHash), []byte(password)) == nil {
		ok, err := resetAttempts(db, u.ID, now)
		if err != nil {
			return User{}, fmt.Errorf("sign in: %w", err)
		}
		if !ok {
			return User{}, c.refuse(ctx, login, ErrLocked, "locked meanwhile", false)
		}
		return u, nil
	}
	locked, err := lockIfDue(db, u.ID, now)
	if err != nil {
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	if locked {
		return User{}, c.refuse(ctx, login, ErrLocked, "wrong password", true)
	}
	return User{}, c.refuse(ctx, login, ErrBadCredentials, "wrong password", false)
}

// refuse records a refused sign-in (admin.locked when this attempt locked the account) and
// returns why, for the log; the page says the same for every reason.
func (c *Console) refuse(ctx context.Context, login string, why error, reason string, locked bool) error {
	action := "admin.signin.failed"
	if locked {
		action = "admin.locked"
	}
	if err := audit.Record(ctx, c.deps.Store.DB, login, action, login, map[string]any{"reason": reason}); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	return why
}

// countAttempt counts a sign-in attempt on an unlocked account and returns the count it
// reached since the last success or lock; 0 when the account is locked.
func countAttempt(db *gorm.DB, id uint64, now time.Time) (int, error) {
	var n int
	err := db.Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ? AND (locked_until IS NULL OR locked_until <= ?)", id, now).
			Updates(map[string]any{"failed_logins": gorm.Expr("failed_logins + 1"), "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		// Read in the transaction that holds the row: this attempt's own count, not a later one.
		return tx.Model(&User{}).Select("failed_logins").Where("id = ?", id).Scan(&n).Error
	})
	return n, err
}

// resetAttempts clears the count after a right password, unless the account was locked since
// the attempt was counted; it reports whether the sign-in may go on.
func resetAttempts(db *gorm.DB, id uint64, now time.Time) (bool, error) {
	ok := false
	err := db.Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ? AND (locked_until IS NULL OR locked_until <= ?)", id, now).
			Updates(map[string]any{"failed_logins": 0, "locked_until": nil, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected > 0 {
			ok = true
			return nil
		}
		// MySQL counts only changed rows: a parallel success may have written the same values.
		var u User
		if err := tx.Select("locked_until").Where("id = ?", id).Take(&u).Error; err != nil {
			return err
		}
		ok = u.LockedUntil == nil || !now.Before(*u.LockedUntil)
		return nil
	})
	return ok, err
}

// lockIfDue locks the account once its count reached MaxFailures, unless it is locked already;
// it reports whether this call locked it.
func lockIfDue(db *gorm.DB, id uint64, now time.Time) (bool, error) {
	res := db.Model(&User{}).
		Where("id = ? AND failed_logins >= ? AND (locked_until IS NULL OR locked_until <= ?)", id, MaxFailures, now).
		Updates(map[string]any{"failed_logins": 0, "locked_until": now.Add(LockoutPeriod), "updated_at": now})
	return res.RowsAffected > 0, res.Error
}
