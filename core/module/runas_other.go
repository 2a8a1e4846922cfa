//go:build !linux

package module

import (
	"fmt"
	"syscall"
)

// runAs refuses KESSAI_ADAPTER_USER outside Linux, where kessaid does not switch users.
func runAs(name string, _ int) (*syscall.SysProcAttr, error) {
	if name == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: KESSAI_ADAPTER_USER is supported on Linux only", ErrAdapterUser)
}
