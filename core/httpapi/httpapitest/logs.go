package httpapitest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
)

// Logs is a JSON request log that a server's goroutines write to while a test reads it.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Logger returns a logger writing to l, for httpapi.New.
func (l *Logs) Logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Request is the request log's line of the request id, decoded; nil when there is none.
func (l *Logs) Request(id string) map[string]any {
	for line := range strings.SplitSeq(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["request_id"] == id && m["path"] != nil {
			return m
		}
	}
	return nil
}
