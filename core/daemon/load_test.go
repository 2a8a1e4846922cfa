package daemon_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/internal/perftest"
)

// The checkout benchmarks' load comes from a process of its own, this test binary run again
// with loadEnv set. In the daemon's process the HTTP client would be counted as kessaid's CPU,
// about a tenth of a checkout's, and would take the daemon's cores' time as if it were its.

// loadEnv tells the test binary to be the load client: its value is a load, as JSON.
const loadEnv = "KESSAI_BENCH_LOAD"

// load is what the client sends: N checkouts, C at once, to the daemon at URL as the shop
// whose key is Key, their order numbers starting with Prefix.
type load struct {
	URL, Key, Method, Prefix string
	N, C                     int
}

// loadResult is the client's answer: each checkout's latency, the time they took together,
// and the client's own CPU time while sending them.
type loadResult struct {
	Latencies []time.Duration
	Took, CPU time.Duration
	Err       string
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(loadEnv); spec != "" {
		if err := runLoad(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "load client:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runLoad is the client process. It opens its connections with one checkout on each, untimed,
// says "ready", and once a line comes on in sends the checkouts and writes a loadResult.
func runLoad(spec string, in io.Reader, out io.Writer) error {
	var l load
	if err := json.Unmarshal([]byte(spec), &l); err != nil {
		return fmt.Errorf("%s: %w", loadEnv, err)
	}
	s := newShopperTo(l.URL, l.Key, l.Method, l.Prefix)
	if _, _, err := concurrently(l.C, l.C, s.checkout); err != nil {
		return fmt.Errorf("warm up: %w", err)
	}
	fmt.Fprintln(out, "ready")
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("wait for go: %w", err)
	}
	cpu0 := perftest.CPU()
	lat, took, err := concurrently(l.N, l.C, s.checkout)
	res := loadResult{Latencies: lat, Took: took, CPU: perftest.CPU() - cpu0}
	if err != nil {
		res.Err = err.Error()
	}
	return json.NewEncoder(out).Encode(res)
}

// loadClient is a started client process, its connections open, waiting to be told to go.
type loadClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

var loads atomic.Int64

// startLoad starts a client process that will send n checkouts, c at once, to h's daemon,
// and returns once it is ready.
func startLoad(b *testing.B, h *daemontest.Harness, n, c int) *loadClient {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	spec, err := json.Marshal(load{URL: h.URL, Key: h.ShopKey, Method: h.Method, Prefix: fmt.Sprintf("L%d-", loads.Add(1)), N: n, C: c})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), loadEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	cl := &loadClient{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	if line, err := cl.out.ReadString('\n'); err != nil || line != "ready\n" {
		b.Fatalf("load client: %q %v", line, err)
	}
	return cl
}

// run tells the client to go and returns what it measured.
func (cl *loadClient) run(b *testing.B) loadResult {
	b.Helper()
	if _, err := io.WriteString(cl.in, "go\n"); err != nil {
		b.Fatal(err)
	}
	var res loadResult
	if err := json.NewDecoder(cl.out).Decode(&res); err != nil {
		b.Fatalf("load client: %v", err)
	}
	if res.Err != "" {
		b.Fatalf("load client: %s", res.Err)
	}
	return res
}
