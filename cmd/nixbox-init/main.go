// Command nixbox-init is the first process of every nixbox sandbox.
//
// It runs as PID 1 of the sandbox's PID namespace, starts the app as its
// child, forwards signals to it, reaps orphans, and exits with the app's
// status (128+N when the app was killed by signal N). It exists because
// libcontainer gives no die-with-parent: its parent-death signal reaches only
// the bootstrap process, and an app running as PID 1 ignores SIGTERM
// (host-facts.md §5). When nixbox passes a socket as fd 3, nixbox-init
// tells nixbox on it when it forwards signals, waits there for the go-ahead
// (nixbox checks the mounts and cgroup first), and then reads it until EOF:
// EOF means the launcher is gone (even by SIGKILL), so nixbox-init kills
// every process of the sandbox and exits. As PID 1, its exit makes the
// kernel kill whatever is left in the namespace.
//
// Usage (inside the sandbox only):
//
//	nixbox-init --uid UID --gid GID [--allow-userns] -- PROGRAM [ARGS...]
//	nixbox-init --enter --uid UID --gid GID [--allow-userns] -- PROGRAM [ARGS...]
//
// The second form is `nixbox enter`: it runs a command in a running
// sandbox the way the first form runs the app (see enter).
//
// Without --allow-userns (the profile's seccomp.allow_userns), stage 2
// sets user.max_user_namespaces to 0 in the app's (or the command's) own
// user namespace before it drops its capabilities, so no nested user
// namespace can be created even without the seccomp filter (sysctl.go).
//
// As PID 1 (the first form), nixbox-init runs entirely in C, from the
// stage-1 constructor: it assembles the store (store.go), then does all of
// the above (pid1.go) and exits without ever starting the Go runtime; its
// child, forked, is stage 2 and becomes the app (userns.go
// nixbox_stage2_run). The Go code here is `nixbox enter` (enter), which
// re-executes nixbox-init as "--stage2" for the same stage 2, and a
// fail-closed exit for anything else.
//
// libcontainer runs nixbox-init as root of the sandbox's user namespace (U1),
// which maps 0 to the invoking user and nothing else, with CAP_SETFCAP
// permitted (not effective). nixbox-init starts the app in a second user
// namespace (U2), nested in U1, that maps UID/GID to U1's 0 (made by stage 2
// in userns.go, which also drops every capability, the bounding set
// included): the app runs with the invoking user's own uid and gid, and is
// not root anywhere.
//
// The app's seccomp filter is compiled by nixbox (cached per policy hash)
// and bound read-only at /.nixbox/seccomp.bpf. nixbox-init loads it in the
// app's process, after dropping every capability and right before the
// app's execve, so no runtime has to compile it at every start and the app
// never runs unfiltered: if the filter cannot be loaded, the app does not
// start (exit 125). nixbox-init itself runs unfiltered; it is the only code
// in the sandbox before the app, and its stage 2 needs
// unshare(CLONE_NEWUSER) once.
//
// It is linked statically (cgo against static glibc, for the constructors),
// so it needs nothing from the sandbox's filesystem. It holds no host file
// descriptors besides the watch socket, which it marks close-on-exec before
// the app starts, and which the app's process closes after the fork. Its
// other descriptors are a signalfd (close-on-exec, closed in the child too)
// and a writable clone of the sandbox's /proc/sys, which goes to stage 2
// alone and is closed before the app starts (sysctl.go).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit codes shared with nixbox (documented in the README).
const (
	exitInitError     = 125
	exitNotExecutable = 126
	exitNotFound      = 127
)

// seccompPath is the compiled filter nixbox binds into every sandbox
// (runtime/specgen.SeccompPath).
const seccompPath = "/.nixbox/seccomp.bpf"

func main() {
	os.Exit(run(os.Args))
}

func fail(code int, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "nixbox: error: "+format+"\n", args...)
	return code
}

func run(args []string) int {
	if len(args) > 1 && args[1] == "--stage2" {
		// Stage 2 is done by the C constructor in userns.go, which execs
		// the app or exits and never returns for well-formed arguments:
		// reaching Go means they were not. Fail closed.
		return fail(exitInitError, "nixbox-init: bad stage-2 arguments")
	}
	if len(args) > 1 && args[1] == "--enter" {
		return enter(args[2:])
	}
	// The sandbox's PID 1 is done by C code from the stage-1 constructor
	// (store.go, pid1.go), which never returns for "--uid ..." as PID 1:
	// reaching Go means the arguments were bad or this is not PID 1. Fail
	// closed either way.
	if _, ok := parseArgs(args[1:]); !ok {
		return fail(exitInitError, "nixbox-init: usage: nixbox-init --uid UID --gid GID [--allow-userns] -- PROGRAM [ARGS...]")
	}
	if os.Getpid() != 1 {
		return fail(exitInitError, "nixbox-init: must run as PID 1 of a sandbox")
	}
	return fail(exitInitError, "nixbox-init: PID 1 reached the Go runtime")
}

// sysctlForStage2 returns the writable clone of /proc/sys that the
// stage-1 constructor opened for stage 2 (sysctl.go), or -1 when the
// profile allows user namespaces. Check rather than trust: a missing
// descriptor would start the app without its cap, so that fails.
func sysctlForStage2(allowUserns bool) (int, error) {
	fd := takeSysctlFD()
	switch {
	case allowUserns && fd >= 0:
		_ = unix.Close(fd)
		return -1, fmt.Errorf("a /proc/sys descriptor was opened with --allow-userns")
	case !allowUserns && fd < 0:
		return -1, fmt.Errorf("no /proc/sys descriptor to cap the app's user namespaces")
	}
	return fd, nil
}

// startApp clones stage 2 into a new user namespace (U2 for the app, a
// sibling of it for `nixbox enter`) whose uid and gid map to U1's 0, the
// invoking user; setgroups is denied, as an unprivileged map needs. The
// child is the leader of its own process group; with a terminal, that
// group becomes the foreground group, so Ctrl-C and Ctrl-Z reach it and
// job control works.
//
// sysctlFD, if not -1, is the writable /proc/sys clone: stage 2 gets it as
// fd 3 with --cap-userns, sets user.max_user_namespaces to 0 in its new
// namespace and closes it (userns.go). startApp closes it here in any
// case: once ForkExec returns, stage 2 has its own copy or never will.
func startApp(a initArgs, sysctlFD int) (int, error) {
	tty := isTerminal(0)
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Setpgid:    true,
			Foreground: tty,
			Ctty:       0,
		},
	}
	// The C constructor in userns.go makes the namespace (see there).
	stage2Argv := []string{"nixbox-init", "--stage2", "--uid", strconv.Itoa(a.uid), "--gid", strconv.Itoa(a.gid)}
	if sysctlFD >= 0 {
		defer unix.Close(sysctlFD)
		attr.Files = append(attr.Files, uintptr(sysctlFD))
		stage2Argv = append(stage2Argv, "--cap-userns")
	}
	stage2Argv = append(append(stage2Argv, "--"), a.argv...)
	return syscall.ForkExec("/proc/self/exe", stage2Argv, attr)
}

// forwardSignals passes every caught signal to pid, except the ones the
// terminal or the runtime handle themselves.
func forwardSignals(sigc <-chan os.Signal, pid int) {
	for s := range sigc {
		sig := s.(syscall.Signal)
		switch sig {
		case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGTTIN, unix.SIGTTOU, unix.SIGTSTP:
			// SIGCHLD is handled by the wait loop; SIGURG is the Go
			// runtime's own; the terminal delivers job-control and
			// resize signals to the app's group directly.
			continue
		}
		_ = unix.Kill(pid, sig)
	}
}

// exitCode turns a wait status into the exit code nixbox passes on.
func exitCode(ws unix.WaitStatus) (int, bool) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), true
	case ws.Signaled():
		return 128 + int(ws.Signal()), true
	}
	return 0, false
}

// enter is `nixbox enter`: libcontainer's setns process has joined U1 and
// the sandbox's mount, pid, net, ipc, uts and cgroup namespaces as U1's
// root with nixbox-init's capabilities (CAP_SETFCAP) -- more than the app
// has. So it runs this, which does what stage 1 does for the app, without
// being PID 1: no watch pipe, no orphans to reap (they go to the sandbox's
// PID 1), only its own child to wait for.
//
// The command gets a new user namespace with the app's identity map, a
// sibling of the app's U2, not U2 itself: setns(CLONE_NEWUSER) is refused
// (EINVAL) to a multithreaded process, and a Go program is multithreaded
// before main runs; joining U2 would also need CAP_SYS_ADMIN over it, which
// this process does not hold. A sibling namespace owned by the same U1
// root with the same one-id map gives the command the same uid, gid and
// (after stage 2) the same empty capability sets, no_new_privs and filter.
func enter(args []string) int {
	a, ok := parseArgs(args)
	if !ok {
		return fail(exitInitError, "nixbox-init: usage: nixbox-init --enter --uid UID --gid GID [--allow-userns] -- PROGRAM [ARGS...]")
	}
	if os.Getpid() == 1 {
		return fail(exitInitError, "nixbox-init: --enter joins a running sandbox; it cannot be its PID 1")
	}
	// The command's namespace is capped like the app's (sysctl.go).
	sysctlFD, err := sysctlForStage2(a.allowUserns)
	if err != nil {
		return fail(exitInitError, "nixbox-init: %v", err)
	}
	// libcontainer passes only 0, 1 and 2 to a setns process, but make
	// sure nothing else reaches the command.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail(exitInitError, "nixbox-init: marking descriptors close-on-exec: %v", err)
	}
	sigc := make(chan os.Signal, 32)
	signal.Notify(sigc)
	pid, err := startApp(a, sysctlFD)
	if err != nil {
		return fail(exitInitError, "starting the command's user namespace: %v", err)
	}
	go forwardSignals(sigc, pid)
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fail(exitInitError, "nixbox-init: waiting for the command: %v", err)
		}
		code, done := exitCode(ws)
		if !done {
			continue
		}
		// The command is done: end what it left in its process group.
		_ = unix.Kill(-pid, unix.SIGKILL)
		return code
	}
}

// initArgs are nixbox-init's arguments (after --enter, if any).
type initArgs struct {
	uid, gid int
	// allowUserns is --allow-userns: the profile's seccomp.allow_userns,
	// so the app's user namespace is not capped (sysctl.go).
	allowUserns bool
	argv        []string
}

// parseArgs parses "--uid UID --gid GID [--allow-userns] -- PROGRAM
// [ARGS...]"; the stage-1 constructor (store.go allows_userns) reads the
// same fixed positions.
func parseArgs(a []string) (initArgs, bool) {
	var r initArgs
	if len(a) < 6 || a[0] != "--uid" || a[2] != "--gid" {
		return r, false
	}
	rest := a[4:]
	if rest[0] == "--allow-userns" {
		r.allowUserns, rest = true, rest[1:]
	}
	if len(rest) < 2 || rest[0] != "--" {
		return r, false
	}
	var err1, err2 error
	r.uid, err1 = strconv.Atoi(a[1])
	r.gid, err2 = strconv.Atoi(a[3])
	if err1 != nil || err2 != nil || r.uid < 0 || r.gid < 0 {
		return r, false
	}
	r.argv = rest[1:]
	return r, true
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
