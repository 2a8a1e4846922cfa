package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kessai/kessai/core/secret"
)

// cancelOnListen ends serve's context once it says it listens: serve has started in full.
type cancelOnListen struct{ cancel context.CancelFunc }

func (w cancelOnListen) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "listening on") {
		w.cancel()
	}
	return len(p), nil
}

// TestServeIsNotDumpable: once serve runs, another process of kessaid's user can read neither
// its memory nor its /proc/PID/environ, where the master key may be. serve runs in a child
// process of the test binary, so that the test process itself stays as it was.
func TestServeIsNotDumpable(t *testing.T) {
	if os.Getenv("KESSAID_TEST_SERVE_CHILD") == "1" {
		ctx, cancel := context.WithCancel(context.Background())
		code := run(ctx, []string{"serve"}, env{stdout: cancelOnListen{cancel}, stderr: os.Stderr, getenv: os.Getenv})
		d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		fmt.Printf("exit=%d dumpable=%d err=%v\n", code, d, err)
		return
	}
	if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != 1 {
		t.Fatalf("the test process is not dumpable to begin with: %d %v", d, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeIsNotDumpable$")
	cmd.Env = cmdEnv("KESSAID_TEST_SERVE_CHILD=1", "KESSAI_HTTP_ADDR=127.0.0.1:0",
		"KESSAI_DB_DSN=sqlite://"+filepath.Join(t.TempDir(), "k.db"), "KESSAI_MASTER_KEY="+secret.NewKey())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "exit=0 dumpable=0 err=<nil>") {
		t.Fatalf("serve left the process dumpable: %v\n%s", err, out)
	}
}
