package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// nonDumpable keeps other processes of kessaid's user out of its memory: no ptrace, no
// /proc/PID/mem or /proc/PID/environ (where KESSAI_MASTER_KEY may be), and no core dump
// holding the master key and the adapters' secrets.
func nonDumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
