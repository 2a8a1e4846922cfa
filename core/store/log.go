package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// gormLogger sends GORM's messages to slog. SQL text goes out at debug level only: statements
// carry buyers' names and addresses as parameters, which have no place in an info log.
type gormLogger struct{ log *slog.Logger }

var _ logger.Interface = gormLogger{}

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
		l.log.DebugContext(ctx, "db error", "err", err, "sql", sql, "rows", rows, "elapsed", elapsed)
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
