// Command benchtable is `make bench`: it runs kessai's benchmarks one package after another,
// shows their output as it comes, keeps it in test-output/bench.txt (the standard format, for
// benchstat), and ends with one table of their figures, each row with the machine's load
// average when it was measured, also written to test-output/bench.md.
//
// It is a program rather than a benchmark because the figures come from several packages'
// test binaries, each benchmark with the number of calls that suits it.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	goCmd := flag.String("go", "go", "the go command")
	checkouts := flag.Int("checkouts", 1000, "checkouts per concurrency level and database")
	sequential := flag.Int("sequential", 300, "checkouts counted one by one on the wire, with their CPU")
	calls := flag.Int("calls", 500, "取引参照 calls per way")
	out := flag.String("o", "test-output", "folder for bench.txt and bench.md")
	from := flag.String("from", "", "tabulate this bench.txt again instead of running the benchmarks")
	flag.Parse()
	if *from != "" {
		raw, err := os.ReadFile(*from)
		if err != nil {
			fail(err)
		}
		table(os.Stdout, parse(string(raw)))
		return
	}

	runs := []run{
		{"what a checkout asks of MySQL, and its CPU", "./core/daemon/", "^BenchmarkCheckoutCost$", fmt.Sprintf("%dx", *sequential), ""},
		{"checkout under load", "./core/daemon/", "^BenchmarkCheckout$", fmt.Sprintf("%dx", *checkouts), ""},
		{"取引参照 and the adapter hop", "./core/daemon/", "^BenchmarkReference$", fmt.Sprintf("%dx", *calls), ""},
		{"the continuation run", "./core/continuation/", "^BenchmarkContinuationRun$", "1x", ""},
		{"the earlier adapter-call benchmarks (test adapter)", "./core/module/", ".", "1s", ""},
		{"the adapter contract's call through go-plugin (test adapter)", "./", ".", "1s", "plugins"},
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	var raw bytes.Buffer
	var failed []string
	start := time.Now()
	for _, r := range runs {
		fmt.Printf("\n== %s\n", r.what)
		if err := r.exec(*goCmd, &raw); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", r.what, err))
		}
	}
	if err := os.WriteFile(filepath.Join(*out, "bench.txt"), raw.Bytes(), 0o644); err != nil {
		fail(err)
	}
	res := parse(raw.String())
	var md strings.Builder
	fmt.Fprintf(&md, "kessai benchmarks, %s, %s in all (`make bench`; raw figures in bench.txt)\n\n", time.Now().Format("2006-01-02 15:04 MST"), time.Since(start).Round(time.Second))
	table(&md, res)
	fmt.Print("\n" + md.String())
	if err := os.WriteFile(filepath.Join(*out, "bench.md"), []byte(md.String()), 0o644); err != nil {
		fail(err)
	}
	if len(failed) > 0 {
		fmt.Fprintln(os.Stderr, "\nfailed:\n  "+strings.Join(failed, "\n  "))
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(1)
}

// run is one `go test -bench` of one or more packages of one module: dir is the module's
// folder, "" for the daemon's (plugins/ is a module of its own).
type run struct {
	what, pkgs, bench, benchtime, dir string
}

func (r run) exec(goCmd string, raw io.Writer) error {
	args := []string{"test", "-run", "^$", "-bench", r.bench, "-benchtime", r.benchtime, "-benchmem", "-count=1", "-timeout", "30m"}
	cmd := exec.Command(goCmd, append(args, strings.Fields(r.pkgs)...)...)
	cmd.Dir = r.dir
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line)
		fmt.Fprintln(raw, line)
	}
	return cmd.Wait()
}

// result is one benchmark line: its package, iterations and metrics by unit.
type result struct {
	pkg string
	n   int
	m   map[string]float64
}

// parse reads benchmark lines ("BenchmarkX/sub-2  N  v unit  v unit …"), keyed by name
// without the GOMAXPROCS suffix.
func parse(out string) map[string]result {
	res := map[string]result{}
	pkg := ""
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), "github.com/kessai/kessai/")
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		r := result{pkg: pkg, n: n, m: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				r.m[f[i+1]] = v
			}
		}
		res[name] = r
	}
	return res
}

// g formats a figure with three significant digits, and no exponent.
func g(v float64) string {
	switch {
	case v >= 100 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// others explains the checkouts whose counts were not the mode's.
func others(share float64) string {
	if share >= 1 {
		return ""
	}
	return " (the others ran beside one of the daemon's jobs, which share the pool)"
}

func load(r result) string {
	return fmt.Sprintf("%s / %s / %s", g(r.m["load-1m"]), g(r.m["load-5m"]), g(r.m["load-15m"]))
}

// table writes the rows the performance work follows, then any other benchmark generically.
// dbPart is ", MariaDB N ms" for a figure that has the database server's CPU, or "".
func dbPart(m map[string]float64, unit string) string {
	if v, ok := m[unit]; ok {
		return fmt.Sprintf(", MariaDB %s ms", g(v))
	}
	return ""
}

// chargeCPU is what one charge costs the machine's cores, by process, and the rate those cores
// allow at that cost: the runs are bound by CPU once the provider answers at once.
func chargeCPU(m map[string]float64) string {
	total := m["cpu-ms/charge"] + m["adapter-cpu-ms/charge"] + m["db-cpu-ms/charge"]
	s := fmt.Sprintf("CPU per charge %s ms in the test process (runner, module host, in-process sandbox) + %s ms adapter%s = **%s ms**",
		g(m["cpu-ms/charge"]), g(m["adapter-cpu-ms/charge"]), dbPart(m, "db-cpu-ms/charge"), g(total))
	if total > 0 {
		s += fmt.Sprintf(", which %d cores allow **%s charges/s** at most", runtime.NumCPU(), g(1000*float64(runtime.NumCPU())/total))
	}
	return s
}

func table(w io.Writer, res map[string]result) {
	fmt.Fprintln(w, "| measure | figure | load average 1 / 5 / 15 min |")
	fmt.Fprintln(w, "|---|---|---|")
	used := map[string]bool{}
	row := func(measure, figure, load string) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", measure, figure, load)
	}
	get := func(name string) (result, bool) {
		r, ok := res[name]
		used[name] = true
		return r, ok
	}
	missing := "not measured: the benchmark failed or did not run"

	if r, ok := get("BenchmarkCheckoutCost"); ok {
		m := r.m
		row("database round trips per checkout (MySQL; POST /api/v1/orders with Idempotency-Key; counted on the wire)",
			fmt.Sprintf("**%s round trips**: %s statements run (%s of them prepared first, each prepare a round trip of its own), and %s packets the server does not answer (COM_STMT_CLOSE): %s commands; %s connections opened. %s%% of %d checkouts one after another had exactly these counts%s",
				g(m["round-trips/op"]), g(m["statements/op"]), g(m["prepares/op"]), g(m["commands/op"]-m["round-trips/op"]), g(m["commands/op"]), g(m["connects/op"]), g(100*m["mode-share"]), r.n, others(m["mode-share"])),
			load(r))
		row("commits per checkout (MySQL)",
			fmt.Sprintf("**%s**: %s COMMIT of %s transactions begun, and %s writes outside a transaction, each committed by itself",
				g(m["commits/op"]+m["autocommit-writes/op"]), g(m["commits/op"]), g(m["begins/op"]), g(m["autocommit-writes/op"])),
			load(r))
		row("CPU per checkout, MySQL, one at a time, with the client in the same process",
			fmt.Sprintf("%s ms in the benchmark process (the daemon, the HTTP client sending the checkouts, the idle in-process sandbox, the wire counter, the garbage collector), plus, in other processes, adapter %s ms%s (10 ms resolution over %d checkouts)",
				g(m["cpu-ms/op"]), g(m["adapter-cpu-ms/op"]), dbPart(m, "db-cpu-ms/op"), r.n),
			load(r))
	} else {
		row("database round trips and commits per checkout, CPU per checkout", missing, "")
	}
	for _, db := range []struct{ key, label string }{{"mysql", "MySQL"}, {"sqlite", "SQLite"}} {
		for _, c := range []int{1, 16, 64} {
			name := fmt.Sprintf("BenchmarkCheckout/%s/c=%d", db.key, c)
			measure := fmt.Sprintf("checkout, %s, %d concurrent", db.label, c)
			r, ok := get(name)
			if !ok {
				row(measure, missing, "")
				continue
			}
			row(measure, fmt.Sprintf("**%s req/s**, p50 %s ms, **p99 %s ms** (%d checkouts; CPU per checkout: kessaid %s ms, adapter %s ms%s, the load client in its own process %s ms)",
				g(r.m["req/s"]), g(r.m["p50-ms"]), g(r.m["p99-ms"]), r.n, g(r.m["cpu-ms/op"]), g(r.m["adapter-cpu-ms/op"]), dbPart(r.m, "db-cpu-ms/op"), g(r.m["client-cpu-ms/op"])), load(r))
		}
	}
	for _, c := range []int{1, 64} {
		if r, ok := res[fmt.Sprintf("BenchmarkCheckout/mysql/c=%d", c)]; ok {
			row(fmt.Sprintf("kessaid CPU per checkout, MySQL, %d concurrent", c),
				fmt.Sprintf("**%s ms** in the daemon's process (the daemon, its garbage collector, the idle in-process sandbox; the client sends from a process of its own), plus %s ms in the adapter process%s",
					g(r.m["cpu-ms/op"]), g(r.m["adapter-cpu-ms/op"]), dbPart(r.m, "db-cpu-ms/op")), load(r))
		}
	}
	ms := func(r result, p string) float64 { return r.m[p+"-µs"] / 1000 }
	kessai, ok1 := get("BenchmarkReference/kessai")
	direct, ok2 := get("BenchmarkReference/sandbox")
	if ok1 && ok2 {
		row("取引参照: POST …/settlement/reference through kessai vs GET /v1/transactions/{id} straight to the sandbox",
			fmt.Sprintf("p50 **%s ms** vs **%s ms**: kessai adds **%s ms** (p99 %s vs %s ms; %d calls each, an order referenced 5 times at most)",
				g(ms(kessai, "p50")), g(ms(direct, "p50")), g(ms(kessai, "p50")-ms(direct, "p50")), g(ms(kessai, "p99")), g(ms(direct, "p99")), kessai.n),
			load(kessai)+" · "+load(direct))
	} else {
		row("取引参照 through kessai vs straight to the sandbox", missing, "")
	}
	host, ok1 := get("BenchmarkReference/host")
	alone, ok2 := get("BenchmarkReference/adapter")
	if ok1 && ok2 {
		row("adapter hop: module host → go-plugin gRPC → kessai-atone → sandbox",
			fmt.Sprintf("p50 **%s µs**, p99 %s µs, %s allocs (%s B) per call in kessaid's process; the hop adds %s µs at p50 to the adapter's own call",
				g(host.m["p50-µs"]), g(host.m["p99-µs"]), g(host.m["allocs/op"]), g(host.m["B/op"]), g(host.m["p50-µs"]-alone.m["p50-µs"])),
			load(host))
		row("the adapter's HTTP call alone: atone adapter in process → sandbox",
			fmt.Sprintf("p50 **%s µs**, p99 %s µs, %s allocs (%s B) per call (%d calls each; allocations count this process only, the in-process sandbox's included and the adapter process's not)",
				g(alone.m["p50-µs"]), g(alone.m["p99-µs"]), g(alone.m["allocs/op"]), g(alone.m["B/op"]), alone.n),
			load(alone))
	} else {
		row("adapter hop vs the adapter's HTTP call alone", missing, "")
	}
	var cont []string
	for name := range res {
		if strings.HasPrefix(name, "BenchmarkContinuationRun/") {
			cont = append(cont, name)
		}
	}
	if len(cont) == 0 {
		row("continuation run", missing, "")
	}
	for _, name := range slices.Sorted(slices.Values(cont)) {
		r, _ := get(name)
		latency, contracts := "0s", "?"
		for _, part := range strings.Split(name, "/")[1:] {
			if v, ok := strings.CutPrefix(part, "latency="); ok {
				latency = v
			}
			if v, ok := strings.CutPrefix(part, "contracts="); ok {
				contracts = v
			}
		}
		measure := fmt.Sprintf("continuation run, %s contracts, sandbox answering at once", contracts)
		if latency != "0s" {
			measure = fmt.Sprintf("continuation run, %s contracts, %s added to every charge (fewer contracts than at once, so that the run stays short)", contracts, latency)
		}
		row(measure, fmt.Sprintf("**%s charges/s**, p99 %s ms per charge, **peak RSS %s MiB** (the test process: runner, module host, in-process sandbox; seeding left out) + %s MiB the adapter process; %s",
			g(r.m["charges/s"]), g(r.m["p99-ms/charge"]), g(r.m["peak-rss-MiB"]), g(r.m["adapter-peak-rss-MiB"]), chargeCPU(r.m)), load(r))
	}
	var rest []string
	for name := range res {
		if !used[name] {
			rest = append(rest, name)
		}
	}
	for _, name := range slices.Sorted(slices.Values(rest)) {
		r := res[name]
		var parts []string
		for _, unit := range []string{"p50-µs", "p99-µs", "calls/s", "allocs/op"} {
			if v, ok := r.m[unit]; ok {
				parts = append(parts, g(v)+" "+unit)
			}
		}
		row(fmt.Sprintf("other: %s (%s)", strings.TrimPrefix(name, "Benchmark"), r.pkg), strings.Join(parts, ", "), load(r))
	}
}
