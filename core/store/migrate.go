package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/kessai/kessai/migrations"
)

// Migration is one versioned step.
type Migration struct {
	Version   int
	Name      string
	SQL       string
	AppliedAt *time.Time
}

// migrateLock is the MySQL advisory lock that keeps two kessaid processes starting at the same
// moment from applying the same step twice; the loser waits, then finds nothing left to do.
const migrateLock = "kessai.migrate"

// Steps lists the embedded migrations of a dialect in version order.
func Steps(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrations.FS, string(d))
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		body, err := fs.ReadFile(migrations.FS, string(d)+"/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: strings.TrimSuffix(strings.TrimSpace(string(body)), ";")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := range out {
		if out[i].Version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: versions must run 1, 2, 3… without gaps", out[i].Version, out[i].Name)
		}
	}
	return out, nil
}

// EnsureDatabase creates the MySQL database named by the DSN when it does not exist and the
// user may create it. SQLite files are created on open.
func EnsureDatabase(ctx context.Context, d DSN) error {
	if d.Dialect != MySQL {
		return nil
	}
	cfg := d.MySQL.Clone()
	name := cfg.DBName
	cfg.DBName = ""
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+strings.ReplaceAll(name, "`", "``")+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

const createVersions = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(191) NOT NULL,
  applied_at %s NOT NULL
)`

// Status lists every embedded step with the time it was applied, if it was.
func (s *Store) Status(ctx context.Context) ([]Migration, error) {
	steps, err := Steps(s.Dialect)
	if err != nil {
		return nil, err
	}
	db, err := s.sqlDB()
	if err != nil {
		return nil, err
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return nil, err
	}
	for i := range steps {
		if t, ok := applied[steps[i].Version]; ok {
			t := t
			steps[i].AppliedAt = &t
		}
	}
	return steps, nil
}

// Pending counts the steps not yet applied; /readyz is not ready while it is above zero.
func (s *Store) Pending(ctx context.Context) (int, error) {
	st, err := s.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range st {
		if m.AppliedAt == nil {
			n++
		}
	}
	return n, nil
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func appliedVersions(ctx context.Context, q queryer) (map[int]time.Time, error) {
	rows, err := q.QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations")
	if err != nil {
		if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "doesn't exist") {
			return map[int]time.Time{}, nil
		}
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var t time.Time
		if err := rows.Scan(&v, &t); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		out[v] = t
	}
	return out, rows.Err()
}

// Migrate applies every step not yet applied and returns those it applied. It is safe to run
// from several processes at once.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	steps, err := Steps(s.Dialect)
	if err != nil {
		return nil, err
	}
	db, err := s.sqlDB()
	if err != nil {
		return nil, err
	}
	switch s.Dialect {
	case MySQL:
		return migrateMySQL(ctx, db, steps, s.DB.NowFunc)
	default:
		return migrateSQLite(ctx, db, steps, s.DB.NowFunc)
	}
}

func migrateMySQL(ctx context.Context, db *sql.DB, steps []Migration, clock func() time.Time) ([]Migration, error) {
	// GET_LOCK belongs to a session, so everything runs on one connection.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 120)", migrateLock).Scan(&got); err != nil {
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	if got.Int64 != 1 {
		return nil, fmt.Errorf("migrate: another process held the migration lock for 120s")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", migrateLock) //nolint:errcheck // released with the session anyway
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(createVersions, "DATETIME(6)")); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range steps {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			return done, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		now := clock()
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, now); err != nil {
			return done, fmt.Errorf("migrate %04d_%s: record: %w", m.Version, m.Name, err)
		}
		m.AppliedAt = &now
		done = append(done, m)
	}
	return done, nil
}

func migrateSQLite(ctx context.Context, db *sql.DB, steps []Migration, clock func() time.Time) ([]Migration, error) {
	if _, err := db.ExecContext(ctx, fmt.Sprintf(createVersions, "DATETIME")); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	// SQLite DDL is transactional and the DSN asks for immediate transactions, so the whole run
	// holds the write lock: a second process waits on busy_timeout and then finds nothing to do.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range steps {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		now := clock()
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, now); err != nil {
			return nil, fmt.Errorf("migrate %04d_%s: record: %w", m.Version, m.Name, err)
		}
		m.AppliedAt = &now
		done = append(done, m)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", err)
	}
	return done, nil
}
