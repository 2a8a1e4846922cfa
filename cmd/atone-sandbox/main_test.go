package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read what run prints while run is still writing.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunPrintsBaseURLAndMembers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--public-key", "pk1", "--secret-key", "sk1",
			"--public-key", "pk2", "--secret-key", "sk2"}, &out)
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no base URL printed: %q", out.String())
	}
	for _, want := range []string{"pk1", "sk2", "090-0000-0001 / atone-test", "090-0000-0009"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	resp, err := http.Get(base + "/v1/atone.js")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("atone.js: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shops.json")
	_ = os.WriteFile(file, []byte(`{"shops":[{"name":"A","public_key":"pa","secret_key":"sa","payment_webhook_url":"http://127.0.0.1:1/h"}]}`), 0o600)
	cfg, addr, err := parse([]string{"--config", file, "--public-key", "pb", "--secret-key", "sb", "--addr", "127.0.0.1:9", "--data", filepath.Join(dir, "sb.db")})
	if err != nil || addr != "127.0.0.1:9" || len(cfg.Shops) != 2 || cfg.Shops[0].PaymentWebhookURL == "" || cfg.DataPath != filepath.Join(dir, "sb.db") {
		t.Fatalf("parse = %+v, %q, %v", cfg, addr, err)
	}
	for name, args := range map[string][]string{
		"unpaired key":  {"--public-key", "p"},
		"duplicate key": {"--public-key", "p", "--secret-key", "s", "--public-key", "p", "--secret-key", "t"},
		"stray arg":     {"extra"},
		"missing file":  {"--config", filepath.Join(dir, "none.json")},
	} {
		if _, _, err := parse(args); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRunOnADataFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "var", "atone-sandbox.db")
	for range 2 { // the second start opens what the first left
		ctx, cancel := context.WithCancel(context.Background())
		var out syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data", data}, &out) }()
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "test members") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(out.String(), "data:          "+data) {
			t.Errorf("banner does not name the data file:\n%s", out.String())
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(data, []byte("not sqlite"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data", data}, io.Discard); err == nil || !strings.Contains(err.Error(), data) {
		t.Fatalf("run on a broken data file: %v", err)
	}
}
