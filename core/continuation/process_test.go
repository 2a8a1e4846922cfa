package continuation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/webhooks/inbound"
)

var (
	kessaidBuild sync.Once
	kessaidBin   string
	kessaidErr   error
)

// kessaid builds cmd/kessaid once: these tests run `kessaid continuation run` as an operator
// (or a crashed unit) does, signals included.
func kessaid(t testing.TB) string {
	t.Helper()
	kessaidBuild.Do(func() {
		dir, err := os.MkdirTemp("", "kessaid-")
		if err != nil {
			kessaidErr = err
			return
		}
		kessaidBin = filepath.Join(dir, "kessaid")
		if msg, err := exec.Command("go", "build", "-o", kessaidBin, "github.com/kessai/kessai/cmd/kessaid").CombinedOutput(); err != nil {
			kessaidErr = fmt.Errorf("build kessaid: %v\n%s", err, msg)
		}
	})
	if kessaidErr != nil {
		t.Fatal(kessaidErr)
	}
	return kessaidBin
}

// slowAtone stands between the adapter and the sandbox: every charge (POST /v1/transactions)
// reaches atone at once, which takes it whatever becomes of its caller, and the answer comes
// back after hold. It counts the charges whose answer it is holding.
type slowAtone struct {
	URL  string
	hold atomic.Int64 // nanoseconds
	held atomic.Int64
}

func newSlowAtone(t *testing.T, target string, hold time.Duration) *slowAtone {
	t.Helper()
	p := &slowAtone{}
	p.hold.Store(int64(hold))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// atone finishes what it received even when the caller is gone.
		req, err := http.NewRequestWithContext(context.Background(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r.Method == http.MethodPost && r.URL.Path == "/v1/transactions" {
			p.held.Add(1)
			select {
			case <-time.After(time.Duration(p.hold.Load())):
			case <-r.Context().Done():
			}
			p.held.Add(-1)
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// runCommand starts `kessaid continuation run --date day` on the world's database, plugin
// folder and master key, in a process group of its own (its adapter is in it).
func (w *world) runCommand(t *testing.T, dsn, day string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(kessaid(t), "continuation", "run", "--date", day)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "USER=operator", "KESSAI_DB_DSN=" + dsn,
		"KESSAI_MASTER_KEY=" + w.key, "KESSAI_PLUGIN_DIR=" + w.pluginDir, "KESSAI_LOG_LEVEL=warn",
		"KESSAI_CONTINUATION_WORKERS=8"} // the stories hold eight calls at atone
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return cmd, &stdout, &stderr
}

// midRun waits until the run has recorded at least n charges and holds eight calls in
// flight at atone.
func (w *world) midRun(t *testing.T, p *slowAtone, n int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var recorded int64
		w.st.DB.Model(&continuation.Charge{}).Where("status <> ?", settlement.Pending).Count(&recorded)
		if recorded >= n && p.held.Load() == 8 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not get under way: %d recorded, %d in flight", recorded, p.held.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// summary reads the command's summary line.
var summary = regexp.MustCompile(`(\d+) claimed, (\d+) charged, (\d+) 決済エラー, (\d+) unknown, (\d+) given back`)

func counts(t *testing.T, out string) (claimed, charged, failed, unknown, givenBack int) {
	t.Helper()
	m := summary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	n := make([]int, 5)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n[0], n[1], n[2], n[3], n[4]
}

// eachChargedOnce checks the end state: every contract has one charge for 2024-05-10, settled,
// nothing 処理中, atone holds exactly the charges kessai holds, and the day's result mail went
// out once with every charge 正常.
func (w *world) eachChargedOnce(t *testing.T, contracts []continuation.Contract) {
	t.Helper()
	var pending int64
	w.st.DB.Model(&settlement.Settlement{}).Where("status = ?", settlement.Pending).Count(&pending)
	if pending != 0 {
		t.Errorf("%d settlements 処理中", pending)
	}
	atoneHas := map[string]bool{}
	for _, tr := range w.sb.Transactions(sbShop.PublicKey) {
		atoneHas[tr.ID] = true
	}
	for _, c := range contracts {
		chs := w.charges(c.ID)
		if len(chs) != 1 || chs[0].SettledPeriod.String() != "2024-05-10" || chs[0].Status != settlement.Authorized {
			t.Fatalf("contract %d: charges %+v", c.ID, chs)
		}
		s, _ := settlement.Load(ctxT(t), w.st.DB, *chs[0].SettlementID)
		if !atoneHas[s.WcTransID] {
			t.Fatalf("contract %d: atone does not hold %q", c.ID, s.WcTransID)
		}
		if got := w.reload(c.ID).NextCharging.String(); got != "2024-06-10" {
			t.Fatalf("contract %d: 次回課金日 %s", c.ID, got)
		}
	}
	if got := len(atoneHas); got != len(contracts)+1 { // and the first order
		t.Errorf("atone holds %d transactions for %d contracts", got, len(contracts))
	}
	w.dclock.Advance(time.Hour)
	w.dispatch()
	admin := w.smtp.To(adminMail)
	if len(admin) != 1 || !strings.Contains(admin[0].Body, fmt.Sprintf("正常 : %d\n異常 : 0\n", len(contracts))) {
		t.Fatalf("admin mails %+v", admin)
	}
}

// TestContinuationRunKilled: `kessaid continuation run` is SIGKILLed with its adapter (the
// whole unit, as a kill of its cgroup does) mid-run on MariaDB, while eight charges are at
// atone, which takes them; their answers are lost. atone's notifications name their
// transactions. The other replica, once the dead run's leases have run out, gives back what
// was claimed and never sent, settles the eight from their attempts and the notifications,
// charges the rest, and sends the day's result mail, once: every due contract is charged
// exactly once, nothing is left 処理中.
func TestContinuationRunKilled(t *testing.T) {
	sts, dsn := openSharedDSN(t, 1)
	st := sts[0]
	w := newWorld(t, st)
	atoneProxy := newSlowAtone(t, w.sbURL, time.Second)
	host := w.atoneHost(st, true, settingsOf(atone.KeyContinuationSalesMode, atone.SalesProvisional, atone.KeyAPIBase, atoneProxy.URL+"/v1/"))
	contracts := w.seed(60, -1)

	cmd, stdout, stderr := w.runCommand(t, dsn, "2024-05-10")
	w.midRun(t, atoneProxy, 8)
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("kessaid: %v\n%s\n%s", err, stdout, stderr)
	}
	var recorded, sent int64
	st.DB.Model(&continuation.Charge{}).Where("status <> ?", settlement.Pending).Count(&recorded)
	st.DB.Table("settlement_attempts AS a").Joins("JOIN settlements s ON s.id = a.settlement_id").
		Where("s.status = ?", settlement.Pending).Count(&sent)
	t.Logf("killed with %d charges recorded, %d sent without an answer", recorded, sent)
	if sent != 8 {
		t.Fatalf("%d charges in flight at the kill", sent)
	}

	// atone notifies the daemon of each payment it took, seconds later, while the dead run's
	// claims still hold: the notification is noted on the attempt.
	_, daemonSS := w.engine(st, host, continuation.Options{})
	engine := gin.New()
	inbound.Mount(engine, inbound.Deps{Store: st, Adapters: host, Settlements: daemonSS, Orders: order.New(st.DB), Log: quiet()})
	var open []settlement.Attempt
	st.DB.Where("state = ?", settlement.AttemptOpen).Find(&open)
	for _, a := range open {
		for _, tr := range w.sb.Transactions(sbShop.PublicKey) {
			if tr.ShopTransactionNo != a.AttemptNo {
				continue
			}
			body, _ := json.Marshal(tr)
			rec := httptest.NewRecorder()
			engine.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/atone", bytes.NewReader(body)))
			if rec.Code != http.StatusOK {
				t.Fatalf("notification: %d %s", rec.Code, rec.Body)
			}
		}
	}

	// The other replica, two minutes later by its clocks.
	atoneProxy.hold.Store(0)
	later := clockwork.NewFakeClockAt(time.Now().Add(3 * time.Minute))
	other, otherSS := w.engine(st, w.atoneHost(st, false, nil), continuation.Options{Clock: later})
	otherSS.Clock = later
	rep, err := other.Run(ctxT(t), date("2024-05-10"))
	if err != nil || !rep.Mailed || rep.Charged != len(contracts)-int(recorded)-8 {
		t.Fatalf("the other replica: %+v %v", rep, err)
	}
	t.Logf("the other replica: %d given back, %d claimed, %d charged", rep.GivenBack, rep.Claimed, rep.Charged)
	w.eachChargedOnce(t, contracts)
}

// TestContinuationRunTerminated: `kessaid continuation run` gets SIGTERM mid-run on MariaDB
// while eight charges are at atone. It claims nothing more, waits for the eight, records
// them with atone's answers, and says what it did; the next run charges the rest and sends
// the day's result mail, once.
func TestContinuationRunTerminated(t *testing.T) {
	sts, dsn := openSharedDSN(t, 1)
	st := sts[0]
	w := newWorld(t, st)
	atoneProxy := newSlowAtone(t, w.sbURL, time.Second)
	w.atoneHost(st, true, settingsOf(atone.KeyContinuationSalesMode, atone.SalesProvisional, atone.KeyAPIBase, atoneProxy.URL+"/v1/"))
	contracts := w.seed(60, -1)

	cmd, stdout, stderr := w.runCommand(t, dsn, "2024-05-10")
	w.midRun(t, atoneProxy, 8)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	claimed, charged, failed, unknown, givenBack := counts(t, stdout.String())
	t.Logf("stopped: %s", strings.TrimSpace(stdout.String()))
	t.Run("the calls in flight are recorded with their answers, and the summary says so", func(t *testing.T) {
		if err == nil || !strings.Contains(stderr.String(), "stopped: context canceled") {
			t.Fatalf("exit: %v\n%s", err, stderr)
		}
		if charged < 16 || charged+givenBack != claimed || failed != 0 || unknown != 0 {
			t.Fatalf("summary: %s", stdout)
		}
		var pending, settled int64
		st.DB.Model(&continuation.Charge{}).Where("status = ?", settlement.Pending).Count(&pending)
		st.DB.Model(&continuation.Charge{}).Where("settled_period IS NOT NULL").Count(&settled)
		if pending != 0 || settled != int64(charged) {
			t.Fatalf("%d pending, %d settled after the stop", pending, settled)
		}
	})
	t.Run("the next run charges the rest; the day's mail goes out once", func(t *testing.T) {
		atoneProxy.hold.Store(0)
		cmd, stdout, stderr := w.runCommand(t, dsn, "2024-05-10")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("next run: %v\n%s\n%s", err, stdout, stderr)
		}
		if _, next, _, _, _ := counts(t, stdout.String()); next != len(contracts)-charged || !strings.Contains(stdout.String(), "admin mail queued") {
			t.Fatalf("next run: %s", stdout)
		}
		w.eachChargedOnce(t, contracts)
	})
}
