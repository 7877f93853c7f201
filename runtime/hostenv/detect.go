package hostenv

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Detect reads the host facts once. It never fails for a missing optional
// fact; it fails only when the invoking user cannot be identified.
func Detect() (Env, error) {
	e := Env{UID: os.Getuid(), GID: os.Getgid(), Vars: map[string]string{}}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.Vars[k] = v
		}
	}
	u, err := user.LookupId(strconv.Itoa(e.UID))
	if err == nil {
		e.User = u.Username
		e.Home = u.HomeDir
	} else {
		e.User = e.Vars["USER"]
	}
	if e.User == "" {
		e.User = "user" + strconv.Itoa(e.UID)
	}
	if h := e.Vars["HOME"]; h != "" && filepath.IsAbs(h) {
		e.Home = filepath.Clean(h)
	}
	if e.Home == "" {
		return Env{}, fmt.Errorf("%w: no home directory for uid %d (set HOME)", ErrIdentity, e.UID)
	}
	if g, err := user.LookupGroupId(strconv.Itoa(e.GID)); err == nil {
		e.Group = g.Name
	} else {
		e.Group = e.User
	}
	_, err = unix.IoctlGetTermios(0, unix.TCGETS)
	e.Terminal = err == nil
	e.InitPath = FindInit()
	return e, nil
}

// FindInit returns the path of the nixbox-init binary: $NIXBOX_INIT if set,
// else next to the running executable, else ../libexec/nixbox/nixbox-init
// relative to it. It returns "" when none exists.
func FindInit() string {
	if p := os.Getenv("NIXBOX_INIT"); p != "" {
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	dir := filepath.Dir(exe)
	for _, p := range []string{
		filepath.Join(dir, "nixbox-init"),
		filepath.Join(dir, "..", "libexec", "nixbox", "nixbox-init"),
	} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return filepath.Clean(p)
		}
	}
	return ""
}

// readInt reads a one-number sysctl file; ok is false when it is absent.
func readInt(path string) (n int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err = strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// UsernsUsable reports why unprivileged user namespaces cannot be used, or
// nil. It reads the sysctls that disable them (Debian's
// kernel.unprivileged_userns_clone, user.max_user_namespaces, Ubuntu's
// AppArmor restriction); the sandbox start itself is the final probe.
func UsernsUsable(uid int) error {
	if n, ok := readInt("/proc/sys/user/max_user_namespaces"); ok && n == 0 {
		return &HostError{Err: ErrUsernsUnavailable, Why: "user.max_user_namespaces is 0",
			Hint: "run: sysctl -w user.max_user_namespaces=15000"}
	}
	if uid != 0 {
		if n, ok := readInt("/proc/sys/kernel/unprivileged_userns_clone"); ok && n == 0 {
			return &HostError{Err: ErrUsernsUnavailable, Why: "kernel.unprivileged_userns_clone is 0",
				Hint: "run as root: sysctl -w kernel.unprivileged_userns_clone=1"}
		}
		if n, ok := readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); ok && n == 1 {
			return &HostError{Err: ErrUsernsUnavailable, Why: "AppArmor restricts unprivileged user namespaces",
				Hint: "add an AppArmor profile for nixbox with `userns,` or run: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"}
		}
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return &HostError{Err: ErrUsernsUnavailable, Why: "the kernel has no user namespaces",
			Hint: "use a kernel built with CONFIG_USER_NS=y"}
	}
	return nil
}

// SeccompUsable reports why the kernel cannot apply seccomp filters, or nil.
func SeccompUsable() error {
	_, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	if errors.Is(err, unix.EINVAL) {
		return &HostError{Err: ErrSeccompUnavailable, Why: "the kernel has no seccomp support",
			Hint: "use a kernel built with CONFIG_SECCOMP_FILTER=y"}
	}
	return nil
}
