package module

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// hcLogger lets go-plugin log into the daemon's slog logger: go-plugin re-logs each JSON line
// an adapter writes to stderr through it, so adapter logs land in the daemon's log with the
// module's slug attached. Levels are decided by the slog handler, hence the permissive Is*.
type hcLogger struct {
	log  *slog.Logger
	name string
	args []any
}

var _ hclog.Logger = (*hcLogger)(nil)

// adapterLevel is the lowest level l keeps, as an adapter's LogLevelEnv names it.
func adapterLevel(ctx context.Context, l *slog.Logger) string {
	switch {
	case l.Enabled(ctx, slog.LevelDebug):
		return "debug"
	case l.Enabled(ctx, slog.LevelInfo):
		return "info"
	case l.Enabled(ctx, slog.LevelWarn):
		return "warn"
	}
	return "error"
}

func newHCLogger(l *slog.Logger, name string) *hcLogger { return &hcLogger{log: l, name: name} }

func (l *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	var lv slog.Level
	switch {
	case level <= hclog.Debug:
		lv = slog.LevelDebug
	case level == hclog.Info:
		lv = slog.LevelInfo
	case level == hclog.Warn:
		lv = slog.LevelWarn
	default:
		lv = slog.LevelError
	}
	all := make([]any, 0, len(l.args)+len(args)+2)
	all = append(all, "logger", l.name)
	all = append(all, l.args...)
	all = append(all, args...)
	l.log.Log(context.Background(), lv, msg, all...)
}

func (l *hcLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *hcLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *hcLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *hcLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *hcLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *hcLogger) IsTrace() bool { return l.log.Enabled(context.Background(), slog.LevelDebug) }
func (l *hcLogger) IsDebug() bool { return l.log.Enabled(context.Background(), slog.LevelDebug) }
func (l *hcLogger) IsInfo() bool  { return l.log.Enabled(context.Background(), slog.LevelInfo) }
func (l *hcLogger) IsWarn() bool  { return l.log.Enabled(context.Background(), slog.LevelWarn) }
func (l *hcLogger) IsError() bool { return l.log.Enabled(context.Background(), slog.LevelError) }

func (l *hcLogger) ImpliedArgs() []any { return l.args }

func (l *hcLogger) With(args ...any) hclog.Logger {
	return &hcLogger{log: l.log, name: l.name, args: append(append([]any(nil), l.args...), args...)}
}

func (l *hcLogger) Name() string { return l.name }

func (l *hcLogger) Named(name string) hclog.Logger {
	n := name
	if l.name != "" {
		n = l.name + "." + name
	}
	return &hcLogger{log: l.log, name: n, args: l.args}
}

func (l *hcLogger) ResetNamed(name string) hclog.Logger {
	return &hcLogger{log: l.log, name: name, args: l.args}
}

func (l *hcLogger) SetLevel(hclog.Level) {}

func (l *hcLogger) GetLevel() hclog.Level {
	if l.IsDebug() {
		return hclog.Debug
	}
	return hclog.Info
}

func (l *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

func (l *hcLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return lineWriter(l.log, l.name)
}

// lineWriter logs each line written to it, for an adapter's raw stdout and stderr.
func lineWriter(l *slog.Logger, stream string) io.Writer {
	return &lines{log: l, stream: stream}
}

type lines struct {
	mu     sync.Mutex
	log    *slog.Logger
	stream string
	buf    []byte
}

func (w *lines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(w.buf[:i], "\r"); len(line) > 0 {
			w.log.Info(string(line), "stream", w.stream)
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
