package store

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"sync"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// gormLogger sends GORM's messages to slog. SQL goes out with its placeholders, never with the
// values bound to them: statements carry buyers' names, addresses and phone numbers as
// parameters, which have no place in any log, debug included.
type gormLogger struct{ log *slog.Logger }

var (
	_ logger.Interface  = gormLogger{}
	_ gorm.ParamsFilter = gormLogger{}
)

var recorderFilter sync.Once

// newGormLogger is the logger of a store being opened. The first also sets GORM's
// package-level recorder filter, which every store shares: Scan traces its statement through
// GORM's own recorder, which asks that filter instead of ours; without it Raw(…).Scan would
// log its values.
func newGormLogger(log *slog.Logger) gormLogger {
	recorderFilter.Do(func() { logger.RecorderParamsFilter = withoutParams })
	return gormLogger{log: log}
}

func withoutParams(_ context.Context, sql string, _ ...any) (string, []any) { return sql, nil }

// ParamsFilter keeps the bound values out of the SQL that Trace receives.
func (gormLogger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	return withoutParams(ctx, sql, params...)
}

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (l gormLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.InfoContext(ctx, "db", "msg", msg)
}
func (l gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, "db", "msg", msg)
}
func (l gormLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, "db", "msg", msg)
}

func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && l.log.Enabled(ctx, slog.LevelDebug):
		sql, rows := fc()
		l.log.DebugContext(ctx, "db error", "err", withoutValues(err), "sql", sql, "rows", rows, "elapsed", elapsed)
	case elapsed > time.Second:
		sql, _ := fc()
		if len(sql) > 80 {
			sql = sql[:80]
		}
		l.log.WarnContext(ctx, "slow query", "elapsed", elapsed, "sql_head", sql)
	case l.log.Enabled(ctx, slog.LevelDebug-4):
		sql, rows := fc()
		l.log.Log(ctx, slog.LevelDebug-4, "db", "sql", sql, "rows", rows, "elapsed", elapsed)
	}
}

// quotedValue is a value MySQL quotes in an error message: "Duplicate entry 'taro@example.jp'
// for key …", "Incorrect string value: '\xF0…' for column …".
var quotedValue = regexp.MustCompile(`((?i:entry|value:?) )'(?:[^'\\]|\\.|'')*'`)

// withoutValues is err's text with the values MySQL quotes in it replaced by '…'. SQLite's
// messages name constraints and columns only.
func withoutValues(err error) string {
	var me *gomysql.MySQLError
	if !errors.As(err, &me) {
		return err.Error()
	}
	return quotedValue.ReplaceAllString(err.Error(), "$1'…'")
}
