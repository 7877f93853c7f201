// Command nixbox-init is the first process of every nixbox sandbox.
//
// It runs as PID 1 of the sandbox's PID namespace, starts the app as its
// child, forwards signals to it, reaps orphans, and exits with the app's
// status (128+N when the app was killed by signal N). It exists because
// libcontainer gives no die-with-parent: its parent-death signal reaches only
// the bootstrap process, and an app running as PID 1 ignores SIGTERM
// (host-facts.md §5). When nixbox passes a pipe as fd 3, nixbox-init reads it
// until EOF: EOF means the launcher is gone (even by SIGKILL), so nixbox-init
// kills every process of the sandbox and exits. As PID 1, its exit makes the
// kernel kill whatever is left in the namespace.
//
// Usage (inside the sandbox only): nixbox-init -- PROGRAM [ARGS...]
//
// It is built static with CGO_ENABLED=0, so it needs nothing from the
// sandbox's filesystem. It holds no host file descriptors besides the watch
// pipe, which it marks close-on-exec before the app starts.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit codes shared with nixbox (documented in the README).
const (
	exitInitError     = 125
	exitNotExecutable = 126
	exitNotFound      = 127
)

// watchFD is the descriptor nixbox passes as the launcher-death pipe.
const watchFD = 3

func main() {
	os.Exit(run(os.Args))
}

func fail(code int, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "nixbox: error: "+format+"\n", args...)
	return code
}

func run(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		return fail(exitInitError, "nixbox-init: usage: nixbox-init -- PROGRAM [ARGS...]")
	}
	if os.Getpid() != 1 {
		return fail(exitInitError, "nixbox-init: must run as PID 1 of a sandbox")
	}
	argv := args[2:]

	// Every descriptor above stderr, except the watch pipe, is closed-on-exec
	// so the app inherits only 0, 1 and 2 (CVE-2024-21626: a leaked fd is a
	// way out).
	watching := isPipe(watchFD)
	if err := unix.CloseRange(watchFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail(exitInitError, "nixbox-init: marking descriptors close-on-exec: %v", err)
	}

	// Catch (never ignore) job-control and termination signals: an ignored
	// signal stays ignored across execve, a caught one is reset to default.
	sigc := make(chan os.Signal, 32)
	signal.Notify(sigc)

	tty := isTerminal(0)
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Setpgid: true,
			// With a terminal, the app's process group becomes the
			// foreground group, so Ctrl-C and Ctrl-Z reach the app and
			// job control works.
			Foreground: tty,
			Ctty:       0,
		},
	}
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ENOENT):
			return fail(exitNotFound, "%s: command not found in the sandbox", argv[0])
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EISDIR):
			return fail(exitNotExecutable, "%s: cannot execute: %v", argv[0], err)
		default:
			return fail(exitInitError, "starting %s: %v", argv[0], err)
		}
	}

	if watching {
		go func() {
			buf := make([]byte, 64)
			for {
				n, err := unix.Read(watchFD, buf)
				if n == 0 || (err != nil && err != unix.EINTR) {
					break
				}
			}
			// The launcher is gone: take the whole sandbox down.
			_ = unix.Kill(-1, unix.SIGKILL)
			os.Exit(128 + int(unix.SIGKILL))
		}()
	}

	go func() {
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
	}()

	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fail(exitInitError, "nixbox-init: waiting for the app: %v", err)
		}
		if wpid != pid {
			continue // a reparented orphan
		}
		code := 0
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = 128 + int(ws.Signal())
		default:
			continue
		}
		// The app is done: end whatever it left running.
		_ = unix.Kill(-1, unix.SIGKILL)
		return code
	}
}

func isPipe(fd int) bool {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFIFO
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
