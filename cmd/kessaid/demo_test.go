package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// demoRun is a `kessaid demo` process and what its banner said.
type demoRun struct {
	cmd     *exec.Cmd
	banner  string
	base    string // the daemon, e.g. http://127.0.0.1:PORT
	sandbox string // the atone sandbox
	key     string // the demo shop's API key
	stderr  *syncBuffer
}

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

var bannerFields = map[string]*regexp.Regexp{
	"base":    regexp.MustCompile(`storefront:\s+(http://\S+)/demo/`),
	"sandbox": regexp.MustCompile(`atone sandbox:\s+(http://\S+)/v1/`),
	"key":     regexp.MustCompile(`shop key:\s+(\S+)`),
}

// startDemo runs `kessaid demo` on varDir with free ports and reads its banner up to the last
// line. The process is killed at cleanup if the test has not stopped it.
func startDemo(t *testing.T, varDir string, extra ...string) *demoRun {
	t.Helper()
	plugins := filepath.Join(varDir, "plugins")
	cmd := exec.Command(kessaid(t), "demo")
	cmd.Env = cmdEnv(append([]string{"KESSAI_VAR_DIR=" + varDir, "KESSAI_DB_DSN=sqlite://" + filepath.Join(varDir, "kessai.db"),
		"KESSAI_PLUGIN_DIR=" + plugins, "KESSAI_HTTP_ADDR=127.0.0.1:0", "KESSAI_SANDBOX_ADDR=127.0.0.1:0"}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &demoRun{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	done := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if !sent && strings.Contains(sc.Text(), "KESSAI_WEBHOOK_ALLOW_PRIVATE") {
				done <- b.String()
				sent = true
			}
		}
		if !sent {
			done <- b.String()
		}
	}()
	select {
	case d.banner = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo printed no banner; stderr: %s", d.stderr.String())
	}
	for name, re := range bannerFields {
		m := re.FindStringSubmatch(d.banner)
		if m == nil {
			t.Fatalf("the banner has no %s:\n%s\nstderr: %s", name, d.banner, d.stderr.String())
		}
		switch name {
		case "base":
			d.base = m[1]
		case "sandbox":
			d.sandbox = m[1]
		case "key":
			d.key = m[1]
		}
	}
	return d
}

// stop ends the demo as Ctrl-C does and waits for it.
func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- d.cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("demo exit: %v; stderr: %s", err, d.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop within 30s of Ctrl-C")
	}
}

func (d *demoRun) call(t *testing.T, method, url string, body any, auth bool) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth {
		req.Header.Set("Authorization", "Bearer "+d.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// TestDemoRestartKeepsOrdersWorkable is `make run` stopped and started again: an order bought
// before the restart is captured after it, because the sandbox keeps atone's side under the
// var folder as the daemon keeps its own.
func TestDemoRestartKeepsOrdersWorkable(t *testing.T) {
	varDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(varDir, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	daemontest.AtoneBinary(t, filepath.Join(varDir, "plugins"))
	first := startDemo(t, varDir)

	status, order := first.call(t, "POST", first.base+"/api/v1/orders", daemontest.Order("R1", 1500, 2, "後払い（atone）"), true)
	if status != http.StatusCreated {
		t.Fatalf("order: %d %v", status, order)
	}
	id := int64(order["id"].(float64))
	cfg := order["config"].(map[string]any)
	status, widget := first.call(t, "POST", first.sandbox+"/sandbox/v1/widget/complete", map[string]any{
		"pub_key": cfg["pub_key"], "pre_token": cfg["pre_token"], "payment": cfg["payment"],
		"phone_number": sandbox.OKMemberPhone, "password": sandbox.TestPassword}, false)
	if status != http.StatusOK {
		t.Fatalf("widget: %d %v", status, widget)
	}
	path := func(op string) string { return fmt.Sprintf("%s/api/v1/orders/%d/settlement/%s", first.base, id, op) }
	if status, r := first.call(t, "POST", path("result"), widget, true); status != http.StatusOK {
		t.Fatalf("result: %d %v", status, r)
	}
	first.stop(t)
	t.Run("the banner shows the first steps", func(t *testing.T) {
		for _, want := range []string{"storefront:     " + first.base + "/demo/", "console:        " + first.base + "/admin/",
			"kessaid admin create --db-dsn sqlite://" + filepath.Join(varDir, "kessai.db") + " LOGIN", "shop key:       " + first.key,
			first.base + "/api/v1/openapi.json",
			"atone sandbox:  " + first.sandbox + "/v1/", filepath.Join(varDir, "atone-sandbox.db"),
			"request log:    " + filepath.Join(varDir, "requests.log")} {
			if !strings.Contains(first.banner, want) {
				t.Errorf("the banner lacks %q:\n%s", want, first.banner)
			}
		}
	})
	t.Run("requests are logged to the file, not the terminal", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(varDir, "requests.log"))
		if err != nil || !strings.Contains(string(b), `"path":"/api/v1/orders"`) {
			t.Fatalf("requests.log: %v\n%s", err, b)
		}
		if strings.Contains(first.stderr.String(), `"msg":"http"`) {
			t.Fatalf("request lines on the terminal:\n%s", first.stderr.String())
		}
	})

	second := startDemo(t, varDir)
	if second.key != first.key {
		t.Fatalf("the demo shop key changed across the restart: %s, then %s", first.key, second.key)
	}
	path = func(op string) string { return fmt.Sprintf("%s/api/v1/orders/%d/settlement/%s", second.base, id, op) }
	status, r := second.call(t, "POST", path("capture"), nil, true)
	if status != http.StatusOK || r["settlement"].(map[string]any)["status"] != "captured" {
		t.Fatalf("capture after the restart: %d %v\nstderr: %s", status, r, second.stderr.String())
	}
	second.stop(t)
}
