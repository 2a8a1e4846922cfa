// Package perftest measures what kessai's benchmarks report besides time: the machine's load
// average beside every figure (the machine is shared, and a figure taken under load says so),
// the CPU time of a process, its peak resident memory, and latency percentiles. It reads Linux's
// /proc; elsewhere the figures it cannot read are zero.
package perftest

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Load is the machine's load average over 1, 5 and 15 minutes.
func Load() [3]float64 {
	var l [3]float64
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(raw)) {
		if i == 3 {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}

// ReportLoad adds the load average as three metrics of b (load-1m, load-5m, load-15m): call it
// when the measurement ends, so that the figure stands beside the load it was taken under.
func ReportLoad(b *testing.B) {
	l := Load()
	b.ReportMetric(l[0], "load-1m")
	b.ReportMetric(l[1], "load-5m")
	b.ReportMetric(l[2], "load-15m")
}

// CPU is the CPU time, user and system, this process has used: every goroutine of it, the
// garbage collector's included; not its children's.
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux kessai runs on.
const clockTick = 10 * time.Millisecond

// ProcessCPU is the CPU time, user and system, another running process has used (an adapter
// launched by the module host), in steps of 10 ms.
func ProcessCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: fields count from after it,
	// where utime and stime are the 12th and 13th ("state" being the 1st).
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// DatabaseServer is the pid of the MySQL server (mariadbd or mysqld) running on this machine,
// or 0 when none is: what a benchmark's statements cost the server is CPU of the same cores,
// and a figure that leaves it out leaves out a part of the budget. The server's CPU counts
// every client's work, so it is the benchmark's only on an otherwise quiet machine.
func DatabaseServer() int {
	return PidOf("mariadbd", "mysqld")
}

// PidOf is the pid of the first running process whose command name is one of names, or 0.
func PidOf(names ...string) int {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && slices.Contains(names, strings.TrimSpace(string(comm))) {
			return pid
		}
	}
	return 0
}

// CPUOf is ProcessCPU for pid, with 0 (no such process) or an unreadable one giving 0.
func CPUOf(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, _ := ProcessCPU(pid)
	return d
}

// ResetPeakRSS starts this process's peak resident memory afresh from what is resident now,
// so that PeakRSS covers what follows and not the set-up before it.
func ResetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// PeakRSS is the peak resident memory (VmHWM) of process pid, 0 meaning this one, in bytes.
func PeakRSS(pid int) (uint64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s: no VmHWM", path)
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of lat, sorting it in place; zero for
// none. It is the nearest-rank percentile: a latency that was observed.
func Percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	i := int(math.Ceil(float64(len(lat))*p/100)) - 1
	return lat[min(max(i, 0), len(lat)-1)]
}

// Ms is d in milliseconds, for ReportMetric.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Us is d in microseconds, for ReportMetric.
func Us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
