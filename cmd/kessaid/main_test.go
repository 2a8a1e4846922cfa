package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store/storetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// kessaid builds the real binary once per test run: these tests exercise the process as an
// operator runs it, signals and exit codes included.
func kessaid(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kessaid-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kessaid")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build kessaid: %v", buildErr)
	}
	return binPath
}

func cmdEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	return append(env, extra...)
}

// startServe runs `kessaid serve` with env and returns the URL it printed; the process is
// killed at cleanup if the test has not stopped it.
func startServe(t *testing.T, env ...string) (string, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(kessaid(t), "serve")
	cmd.Env = cmdEnv(env...)
	stdout, _ := cmd.StdoutPipe()
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				urlc <- u
			}
		}
	}()
	select {
	case url := <-urlc:
		return url, cmd, stderr
	case <-time.After(15 * time.Second):
		t.Fatalf("serve printed no URL; stderr: %s", stderr.String())
	}
	return "", nil, nil
}

func TestServeAnswersAndShutsDownOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	url, cmd, stderr := startServe(t, "KESSAI_HTTP_ADDR=127.0.0.1:0", "KESSAI_DB_DSN=sqlite://"+filepath.Join(dir, "k.db"), "KESSAI_MASTER_KEY="+secret.NewKey())
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s = %d", p, resp.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown in the log: %s", stderr.String())
	}
}

func TestBadConfigurationIsOneLine(t *testing.T) {
	for name, tc := range map[string]struct {
		env  []string
		want string
	}{
		"nonsense DSN":       {[]string{"KESSAI_DB_DSN=nonsense", "KESSAI_MASTER_KEY=" + secret.NewKey()}, "KESSAI_DB_DSN"},
		"no master key":      {[]string{"KESSAI_DB_DSN=sqlite://" + filepath.Join(t.TempDir(), "k.db")}, "KESSAI_MASTER_KEY"},
		"bad master key":     {[]string{"KESSAI_MASTER_KEY=abc"}, "KESSAI_MASTER_KEY"},
		"bad address":        {[]string{"KESSAI_HTTP_ADDR=nowhere", "KESSAI_MASTER_KEY=" + secret.NewKey()}, "KESSAI_HTTP_ADDR"},
		"cert without a key": {[]string{"KESSAI_TLS_CERT=/etc/hostname", "KESSAI_MASTER_KEY=" + secret.NewKey()}, "KESSAI_TLS"},
		"bad adapter user":   {[]string{"KESSAI_ADAPTER_USER=kessai-no-such-user", "KESSAI_MASTER_KEY=" + secret.NewKey()}, "KESSAI_ADAPTER_USER"},
		"key and key file":   {[]string{"KESSAI_MASTER_KEY_FILE=/etc/hostname", "KESSAI_MASTER_KEY=" + secret.NewKey()}, "KESSAI_MASTER_KEY_FILE"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(kessaid(t), "serve")
			cmd.Env = cmdEnv(tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatal("serve started with a bad configuration")
			}
			out := strings.TrimSpace(stderr.String())
			if strings.Count(out, "\n") != 0 || !strings.Contains(out, tc.want) || strings.Contains(out, "goroutine") {
				t.Fatalf("want one line naming %s, got:\n%s", tc.want, out)
			}
		})
	}
}

func TestMigrateTwiceAndStatus(t *testing.T) {
	dsn := storetest.NewMySQLDatabase(t)
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env{stdout: &out, stderr: &errb, getenv: func(k string) string {
			if k == "KESSAI_DB_DSN" {
				return dsn
			}
			return ""
		}})
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	if out := run("migrate"); !strings.Contains(out, "applied") {
		t.Fatalf("first migrate: %s", out)
	}
	if out := run("migrate"); !strings.Contains(out, "nothing to apply") {
		t.Fatalf("second migrate: %s", out)
	}
	if out := run("migrate", "status"); !strings.Contains(out, "0 pending") {
		t.Fatalf("status: %s", out)
	}
}
