package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// demoLogger is the demo's logger: one line per HTTP request goes to the file at path (JSON,
// appended), everything else, and any request that failed with a 5xx, to w.
func demoLogger(w io.Writer, path string, level slog.Level) (*slog.Logger, func() error, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("request log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("request log: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	h := requestSplit{requests: slog.NewJSONHandler(f, opts), rest: slog.NewJSONHandler(w, opts)}
	return slog.New(h), f.Close, nil
}

// requestSplit sends httpapi's request lines ("http") below error level to one handler and
// every other record to another.
type requestSplit struct{ requests, rest slog.Handler }

func (h requestSplit) Enabled(ctx context.Context, l slog.Level) bool {
	return h.requests.Enabled(ctx, l) || h.rest.Enabled(ctx, l)
}

func (h requestSplit) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "http" && r.Level < slog.LevelError {
		if !h.requests.Enabled(ctx, r.Level) {
			return nil
		}
		return h.requests.Handle(ctx, r)
	}
	if !h.rest.Enabled(ctx, r.Level) {
		return nil
	}
	return h.rest.Handle(ctx, r)
}

func (h requestSplit) WithAttrs(as []slog.Attr) slog.Handler {
	return requestSplit{requests: h.requests.WithAttrs(as), rest: h.rest.WithAttrs(as)}
}

func (h requestSplit) WithGroup(name string) slog.Handler {
	return requestSplit{requests: h.requests.WithGroup(name), rest: h.rest.WithGroup(name)}
}

var _ slog.Handler = requestSplit{}
