package module

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// runAs is how adapters start to run as the user named (KESSAI_ADAPTER_USER), for a kessaid
// whose effective uid is euid: as that user's uid, primary and supplementary groups. Only
// root can switch users, so anyone else setting a user is told so rather than ignored.
func runAs(name string, euid int) (*syscall.SysProcAttr, error) {
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: KESSAI_ADAPTER_USER: no user %q on this system", ErrAdapterUser, name)
	}
	if euid != 0 {
		return nil, fmt.Errorf("%w: KESSAI_ADAPTER_USER=%s needs kessaid to run as root to start adapters as another user (it runs as uid %d); unset it to run them as kessaid's own user",
			ErrAdapterUser, name, euid)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: KESSAI_ADAPTER_USER: user %q has uid %q", ErrAdapterUser, name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: KESSAI_ADAPTER_USER: user %q has gid %q", ErrAdapterUser, name, u.Gid)
	}
	// Without an explicit list the adapter would keep root's supplementary groups.
	groups := []uint32{}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("%w: KESSAI_ADAPTER_USER: groups of %q: %v", ErrAdapterUser, name, err)
	}
	for _, id := range ids {
		g, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			continue
		}
		groups = append(groups, uint32(g))
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}}, nil
}
