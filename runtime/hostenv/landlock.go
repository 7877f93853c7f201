package hostenv

import "golang.org/x/sys/unix"

// LandlockABI returns the kernel's Landlock ABI version
// (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION), or an
// error when Landlock is missing or disabled (ENOSYS: not built in;
// EOPNOTSUPP: not enabled at boot, see the lsm= kernel parameter).
func LandlockABI() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, errno
	}
	return int(v), nil
}
