package continuation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/internal/perftest"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// openShared opens n stores on one fresh MariaDB database, as n kessaid processes would.
func openShared(t testing.TB, n int) []*store.Store {
	t.Helper()
	sts, _ := openSharedDSN(t, n)
	return sts
}

// openSharedDSN is openShared, with the database's DSN for a kessaid process of its own.
func openSharedDSN(t testing.TB, n int) ([]*store.Store, string) {
	t.Helper()
	return openSharedPool(t, n, 20)
}

// openSharedPool is openSharedDSN with pools of conns connections each.
func openSharedPool(t testing.TB, n, conns int) ([]*store.Store, string) {
	t.Helper()
	dsn := storetest.NewMySQLDatabase(t)
	var out []*store.Store
	for i := range n {
		st, err := store.Open(ctxT(t), dsn, store.Options{Logger: quiet(), MaxOpenConns: conns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		storetest.CheckOwners(t, st)
		if i == 0 {
			if _, err := st.Migrate(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, st)
	}
	return out, dsn
}

// seed creates n contracts due on 2024-05-10 in one transaction; the contract at index ng
// (if any) belongs to the atone sandbox's always-NG member.
func (w *world) seed(n, ng int) []continuation.Contract {
	w.t.Helper()
	out := make([]continuation.Contract, 0, n)
	err := w.st.DB.Transaction(func(tx *gorm.DB) error {
		for i := range n {
			sp := spec{ordered: tokyoAt(2024, 4, 10, 9, 0), frequency: 1, chargingDay: 10, email: fmt.Sprintf("c%d@example.jp", i)}
			if i == ng {
				sp.phone = sandbox.NGMemberPhone
			}
			out = append(out, w.contract(tx, sp))
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// TestContinuationTwoReplicasOnMariaDB: 1,000 due contracts, two kessaid processes (two stores,
// two adapter hosts each running the kessai-atone binary against the sandbox) running the same
// day at once, while the mail server is down. Every period is charged exactly once, every
// contract moves on, the NG member's charge is 決済エラー with its error-log row, and once the
// mail server is back every mail arrives, once: 999 正常, 1 エラー, 1 admin result.
func TestContinuationTwoReplicasOnMariaDB(t *testing.T) {
	const n, ng = 1000, 500
	sts := openShared(t, 2)
	w := newWorld(t, sts[0])
	hosts := []continuation.Adapters{
		w.atoneHost(sts[0], true, settingsOf(atone.KeyContinuationSalesMode, atone.SalesProvisional)),
		w.atoneHost(sts[1], false, nil),
	}
	contracts := w.seed(n, ng)
	w.smtp.Stop()

	clock := clockwork.NewFakeClockAt(tokyoAt(2024, 5, 10, 1, 0))
	reps := make([]continuation.Report, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := w.engine(sts[i], hosts[i], continuation.Options{Clock: clock, Batch: 25})
			reps[i], errs[i] = r.Run(ctxT(t), date("2024-05-10"))
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("runner %d: %v", i, errs[i])
		}
		t.Logf("runner %d: claimed %d charged %d failed %d unknown %d mailed %v in %s", i, reps[i].Claimed, reps[i].Charged,
			reps[i].Failed, reps[i].Unknown, reps[i].Mailed, reps[i].Duration.Round(time.Millisecond))
	}

	t.Run("each period is charged exactly once, by one of the two", func(t *testing.T) {
		if reps[0].Claimed+reps[1].Claimed != n || reps[0].Claimed == 0 || reps[1].Claimed == 0 {
			t.Fatalf("claims %d + %d", reps[0].Claimed, reps[1].Claimed)
		}
		var charges []continuation.Charge
		w.st.DB.Find(&charges)
		var ok, failed int
		for _, ch := range charges {
			switch ch.Status {
			case settlement.Authorized:
				ok++
			case settlement.Failed:
				failed++
			}
		}
		if len(charges) != n || ok != n-1 || failed != 1 {
			t.Fatalf("%d charges: %d 仮売上, %d 決済エラー", len(charges), ok, failed)
		}
		var settled int64
		w.st.DB.Model(&continuation.Charge{}).Where("settled_period IS NOT NULL").Count(&settled)
		var advanced int64
		w.st.DB.Model(&continuation.Contract{}).Where("next_charging = ?", "2024-06-10").Count(&advanced)
		if settled != n-1 || advanced != n {
			t.Fatalf("%d settled periods, %d advanced contracts", settled, advanced)
		}
		if got := len(w.sb.Transactions(sbShop.PublicKey)); got != n-1+2+1 { // 999 OK charges, 2 first orders, 1 NG
			t.Fatalf("the sandbox holds %d transactions", got)
		}
	})
	t.Run("the NG member is 決済エラー with an error-log row", func(t *testing.T) {
		chs := w.charges(contracts[ng].ID)
		if len(chs) != 1 || chs[0].Status != settlement.Failed {
			t.Fatalf("%+v", chs)
		}
		rows, total, _ := errlog.List(ctxT(t), w.st.DB, 10, 0)
		if total != 1 || rows[0].Result != "ATONE CONTINUATION NG" || *rows[0].OrderID != contracts[ng].OrderID {
			t.Fatalf("error log %d %+v", total, rows)
		}
	})
	t.Run("the mails wait for the mail server and arrive once each", func(t *testing.T) {
		if reps[0].Mailed == reps[1].Mailed {
			t.Fatalf("admin mail queued by both or neither: %v %v", reps[0].Mailed, reps[1].Mailed)
		}
		w.dispatch() // SMTP is still down: every attempt fails and is rescheduled
		if got := len(w.smtp.Messages()); got != 0 {
			t.Fatalf("%d mails with the server down", got)
		}
		w.smtp.Restart()
		w.dclock.Advance(2 * time.Minute) // past the backoff
		w.dispatch()
		w.dclock.Advance(time.Hour)
		w.dispatch() // nothing left: a second pass sends nothing again
		msgs := w.smtp.Messages()
		if len(msgs) != n+1 {
			t.Fatalf("%d mails, want %d", len(msgs), n+1)
		}
		seen := map[string]int{}
		for _, m := range msgs {
			seen[m.To[0]]++
		}
		for to, k := range seen {
			if k != 1 {
				t.Errorf("%s got %d mails", to, k)
			}
		}
		admin := w.smtp.To(adminMail)
		if len(admin) != 1 || !strings.Contains(admin[0].Body, fmt.Sprintf("正常 : %d\n異常 : 1\n", n-1)) {
			t.Fatalf("admin mail %+v", admin)
		}
		ngMail := w.smtp.To(fmt.Sprintf("c%d@example.jp", ng))
		if len(ngMail) != 1 || !strings.Contains(ngMail[0].Body, "処理結果 : エラー") {
			t.Fatalf("NG mail %+v", ngMail)
		}
	})
}

// BenchmarkContinuationRun charges due contracts through the kessai-atone binary against the
// in-process sandbox on MariaDB, with one runner, twice: with the sandbox answering at once
// (KESSAI_BENCH_CONTRACTS contracts, default 10,000), and with 150 ms added to every charge
// (POST /v1/transactions) as a provider far away would (KESSAI_BENCH_SLOW_CONTRACTS, default
// 1,000: fewer, so that the run stays short). Each reports charges/s, the 99th percentile of one
// charge (adapter call and its transaction), this process's peak resident memory during the run
// (runner, settlement service, module host and the in-process sandbox, whose ledger is on a
// file as a provider's is elsewhere; the seeding before it left out) and the adapter process's,
// the peak heap, the CPU per charge of this process, the adapter's and the MySQL server's (when
// it runs on this machine: the three share its cores), and the machine's load. The store has
// the daemon's pool.
func BenchmarkContinuationRun(b *testing.B) {
	sizes := []struct {
		latency   time.Duration
		env       string
		contracts int
	}{{0, "KESSAI_BENCH_CONTRACTS", 10000}, {150 * time.Millisecond, "KESSAI_BENCH_SLOW_CONTRACTS", 1000}}
	for _, sz := range sizes {
		n := sz.contracts
		if v, err := strconv.Atoi(os.Getenv(sz.env)); err == nil && v > 0 {
			n = v
		}
		b.Run(fmt.Sprintf("latency=%s/contracts=%d", sz.latency, n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				benchmarkRun(b, n, sz.latency)
				b.StartTimer()
			}
		})
	}
}

func benchmarkRun(b *testing.B, n int, latency time.Duration) {
	// The daemon's pool (KESSAI_DB_MAX_CONNS): larger than the run's workers, as it is there.
	sts, _ := openSharedPool(b, 1, store.DefaultMaxConns)
	// The provider's ledger lives with the provider: on a file, so that this process's memory
	// is the runner's, not 100,000 transactions of a sandbox.
	w := newWorldOn(b, sts[0], filepath.Join(b.TempDir(), "sandbox.db"))
	h := w.atoneHost(sts[0], true, nil)
	for done := 0; done < n; done += 5000 {
		w.seed(min(5000, n-done), -1)
	}
	if latency > 0 {
		if err := w.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Method: "POST", Path: "/v1/transactions", Latency: latency}); err != nil {
			b.Fatal(err)
		}
	}
	opt := continuation.Options{Clock: clockwork.NewFakeClockAt(tokyoAt(2024, 5, 10, 1, 0))}
	if latency > 0 {
		// As the daemon runs it against a provider: at the default rate. The sandbox answering
		// at once measures the runner itself, unbounded.
		opt.Rates = map[string]float64{"": continuation.DefaultRate}
	}
	r, _ := w.engine(sts[0], h, opt)
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	if err := perftest.ResetPeakRSS(); err != nil {
		b.Logf("peak RSS is the process's since it started: %v", err)
	}
	// A large run outlasts ctxT's five minutes: allow 20 ms a contract, and the latency, beyond that.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute+time.Duration(n)*(20*time.Millisecond+latency))
	server := perftest.DatabaseServer()
	cpu0, db0 := perftest.CPU(), perftest.CPUOf(server)
	adapterCPU0, _ := perftest.ProcessCPU(h.Pid(atone.Slug))
	b.StartTimer()
	rep, err := r.Run(ctx, date("2024-05-10"))
	cancel()
	b.StopTimer()
	cpu, dbCPU := perftest.CPU()-cpu0, perftest.CPUOf(server)-db0
	adapterCPU, _ := perftest.ProcessCPU(h.Pid(atone.Slug))
	adapterCPU -= adapterCPU0
	close(stop)
	<-sampled
	if err != nil || rep.Charged != n {
		b.Fatalf("run: %+v %v", rep.Charged, err)
	}
	rss, err := perftest.PeakRSS(0)
	if err != nil {
		b.Fatal(err)
	}
	adapterRSS, err := perftest.PeakRSS(h.Pid(atone.Slug))
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(rep.ChargeTimes)
	p99 := rep.ChargeTimes[len(rep.ChargeTimes)*99/100]
	b.ReportMetric(float64(rep.Charged)/rep.Duration.Seconds(), "charges/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms/charge")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(adapterRSS)/(1<<20), "adapter-peak-rss-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	// CPU a charge costs: on a machine of few cores the run is bound by their sum, with the
	// database's own.
	b.ReportMetric(perftest.Ms(cpu)/float64(rep.Charged), "cpu-ms/charge")
	b.ReportMetric(perftest.Ms(adapterCPU)/float64(rep.Charged), "adapter-cpu-ms/charge")
	if server != 0 {
		b.ReportMetric(perftest.Ms(dbCPU)/float64(rep.Charged), "db-cpu-ms/charge")
	}
	perftest.ReportLoad(b)
}
