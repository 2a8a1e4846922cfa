// Package storetest gives tests a fresh, migrated database of their own: a MySQL/MariaDB
// database created for the test and dropped at cleanup, or a SQLite file in the test's
// temporary folder. It is to core/store what httptest is to net/http. Every store it returns
// checks that each write and each read comes from the package that owns the table
// (CheckOwners).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/store"
)

// DefaultMySQL is used when KESSAI_TEST_MYSQL_DSN is not set.
const DefaultMySQL = "root@tcp(127.0.0.1:3306)/"

// MySQLServerDSN returns the server DSN tests use (no database name), from
// KESSAI_TEST_MYSQL_DSN or DefaultMySQL.
func MySQLServerDSN() string {
	if v := os.Getenv("KESSAI_TEST_MYSQL_DSN"); v != "" {
		return v
	}
	return DefaultMySQL
}

// NewMySQLDatabase creates an empty database on the test server and returns its kessai DSN
// (mysql://…); the database is dropped when the test ends. A missing server fails the test
// with instructions: the MySQL suite is never skipped silently.
func NewMySQLDatabase(t testing.TB) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(MySQLServerDSN())
	if err != nil {
		t.Fatalf("KESSAI_TEST_MYSQL_DSN: %v", err)
	}
	cfg.DBName = ""
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("mysql connector: %v", err)
	}
	admin := sql.OpenDB(conn)
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("no MySQL/MariaDB answers at %s (%v).\n"+
			"Start one (e.g. `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`) "+
			"or point KESSAI_TEST_MYSQL_DSN at a server, as user@tcp(host:3306)/", cfg.Addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "kessai_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return "mysql://" + cfg.FormatDSN()
}

// Option adjusts the store a test gets.
type Option func(*store.Options)

// Clock makes the store stamp its rows with c, so that a test advances c instead of sleeping
// or editing timestamps.
func Clock(c clockwork.Clock) Option { return func(o *store.Options) { o.Clock = c } }

// MySQL returns a migrated store on a fresh MySQL database, closed and dropped at cleanup.
func MySQL(t testing.TB, opts ...Option) *store.Store {
	t.Helper()
	return open(t, NewMySQLDatabase(t), opts)
}

// SQLite returns a migrated store on a fresh SQLite file, closed at cleanup.
func SQLite(t testing.TB, opts ...Option) *store.Store {
	t.Helper()
	return open(t, "sqlite://"+filepath.Join(t.TempDir(), "kessai.db"), opts)
}

// Each runs f once per dialect as subtests named "mysql" and "sqlite", each with its own
// fresh store: the way tests prove one code path serves both.
func Each(t *testing.T, f func(t *testing.T, s *store.Store), opts ...Option) {
	t.Helper()
	t.Run("mysql", func(t *testing.T) { f(t, MySQL(t, opts...)) })
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t, opts...)) })
}

func open(t testing.TB, dsn string, opts []Option) *store.Store {
	t.Helper()
	ctx := context.Background()
	o := store.Options{Logger: slog.New(slog.DiscardHandler), MaxOpenConns: 10}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := store.Open(ctx, dsn, o)
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate test store: %v", err)
	}
	CheckOwners(t, s)
	return s
}

// String is a convenience for messages.
func String(s *store.Store) string { return fmt.Sprint(s.DSN()) }
