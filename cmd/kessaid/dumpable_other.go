//go:build !linux

package main

// nonDumpable does nothing outside Linux, which has no PR_SET_DUMPABLE; there, restrict who
// may debug kessaid's user's processes by the system's own means.
func nonDumpable() error { return nil }
