package sandbox

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/opencontainers/runc/libcontainer"
	// nsenter's C constructor runs before the Go runtime of the re-exec'd
	// init and joins the namespaces.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// Device cgroup rules need the devices manager registered.
	_ "github.com/opencontainers/cgroups/devices"
)

// IsInit reports whether this process is libcontainer's re-exec'd init.
// The argument "init" is reserved: nixbox has no user-facing init command.
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == "init" }

// Init runs libcontainer's init. Call it from an init() hook of package
// main when IsInit is true; it never returns.
//
// Die-with-parent before nixbox-init runs: libcontainer's init waits on its
// start fifo until the launcher opens it, and the kernel's parent-death
// signal that libcontainer sets reaches only its bootstrap process, not
// this one (host-facts §5). Set it here, on this (locked) thread, before
// libcontainer runs; libcontainer restores it after its own setuid. The
// parent is the launcher thread that forked the bootstrap, which Run keeps
// locked for the whole run, so the signal comes only when nixbox dies.
// It survives the exec of nixbox-init (not setuid), which is fine: the
// sandbox must die with nixbox anyway.
func Init() {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if os.Getppid() == 1 {
		os.Exit(255) // the launcher is already gone
	}
	libcontainer.Init()
}
