// Package store opens kessai's database, MySQL/MariaDB in production and SQLite as the embedded
// default, and applies the versioned migrations. Dialect differences stay inside this package:
// every other package speaks GORM and asks store for the few clauses that differ.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jonboulle/clockwork"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Store is an open database.
type Store struct {
	DB      *gorm.DB
	Dialect Dialect
	// Clock is the one Options gave (the real clock by default); DB.NowFunc reads it.
	Clock clockwork.Clock
	dsn   DSN
}

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	// MaxOpenConns bounds the MySQL pool, which keeps as many idle; zero means
	// DefaultMaxConns.
	MaxOpenConns int
	// Clock is the daemon's one clock. GORM stamps created_at and updated_at with it, and
	// packages that only hold a *gorm.DB take the time of the rows they write from
	// DB.NowFunc, so a test that advances a fake clock moves every timestamp at once. Nil
	// means the real clock.
	Clock clockwork.Clock
}

// DefaultMaxConns is the MySQL pool's size unless told otherwise (KESSAI_DB_MAX_CONNS): one
// connection for each of 64 requests in flight, and none of them waits for another's.
const DefaultMaxConns = 64

// Open connects to the database named by dsn (see ParseDSN). It does not migrate.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	d, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return OpenDSN(ctx, d, opt)
}

// OpenDSN is Open for an already parsed DSN.
func OpenDSN(ctx context.Context, d DSN, opt Options) (*Store, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Clock == nil {
		opt.Clock = clockwork.NewRealClock()
	}
	clock := opt.Clock
	cfg := &gorm.Config{
		Logger:                                   newGormLogger(opt.Logger),
		NowFunc:                                  func() time.Time { return clock.Now().UTC() },
		DisableForeignKeyConstraintWhenMigrating: true,
		TranslateError:                           true,
		// A write outside a transaction is one statement, atomic by itself: GORM's wrapping
		// of it in BEGIN and COMMIT would only add two round trips. kessai's models have no
		// hooks or associations that a lone write would have to commit with.
		SkipDefaultTransaction: true,
	}
	var db *gorm.DB
	var err error
	switch d.Dialect {
	case MySQL:
		db, err = gorm.Open(mysql.New(mysql.Config{DSNConfig: d.MySQL}), cfg)
	case SQLite:
		if d.Path != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(d.Path), 0o750); err != nil {
				return nil, fmt.Errorf("open %s: %w", d, err)
			}
		}
		db, err = gorm.Open(sqlite.Open(sqliteDSN(d.Path)), cfg)
	default:
		return nil, fmt.Errorf("open: unknown dialect %q", d.Dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d, err)
	}
	switch d.Dialect {
	case MySQL:
		n := opt.MaxOpenConns
		if n <= 0 {
			n = DefaultMaxConns
		}
		// As many idle as open: a pool that closes what a burst opened dials again on the
		// next burst, a TCP and MySQL handshake and the session's SET on each request. A
		// connection lives half an hour (servers and proxies drop older ones) and an unused
		// one five minutes, so that a quiet kessaid gives its connections back.
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxLifetime(30 * time.Minute)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	case SQLite:
		// SQLite has one writer at a time; one connection turns lock contention into an orderly
		// queue inside the process, and busy_timeout covers another process on the same file.
		sqlDB.SetMaxOpenConns(1)
	}
	s := &Store{DB: db, Dialect: d.Dialect, Clock: clock, dsn: d}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

func sqliteDSN(path string) string {
	p := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	if path != ":memory:" {
		p += "&_pragma=journal_mode(WAL)"
	}
	return p
}

// DSN reports what the store was opened with (password redacted by its String method).
func (s *Store) DSN() DSN { return s.dsn }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.dsn, err)
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// SkipLocked adds the row-claim clause for "take rows nobody else holds" to q: FOR UPDATE SKIP
// LOCKED on MySQL, so two replicas claim disjoint rows; nothing on SQLite, where the single
// writer already serializes claims.
func (s *Store) SkipLocked(q *gorm.DB) *gorm.DB {
	if s.Dialect == MySQL {
		return q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	return q
}

// ForUpdate adds a plain row lock to q on MySQL and nothing on SQLite.
func (s *Store) ForUpdate(q *gorm.DB) *gorm.DB {
	if s.Dialect == MySQL {
		return q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}

// IsDuplicate reports whether err is a unique-key violation, on either dialect.
func IsDuplicate(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var me *gomysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 {
		return true
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// IsDeadlock reports whether err is MySQL's deadlock (1213): the server rolled the whole
// transaction back so that another could go on, and running it again is how to proceed.
func IsDeadlock(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}

// ErrNotFound is returned by lookups in every package for a row that does not exist.
var ErrNotFound = gorm.ErrRecordNotFound

// sqlDB exposes the pool for the migration runner.
func (s *Store) sqlDB() (*sql.DB, error) { return s.DB.DB() }
