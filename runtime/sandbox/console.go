package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Terminal handling shared by Run and Enter.

// attachStdio gives proc a pty, through libcontainer's console socket, when
// terminal is set (never the host terminal itself: TIOCSTI, host-facts §5),
// else the caller's stdio. The console, if any, is the caller's to close.
func attachStdio(o Options, proc *libcontainer.Process, terminal bool) (*consoleIO, error) {
	if terminal {
		return newConsole(o, proc)
	}
	proc.Stdin, proc.Stdout, proc.Stderr = fileOrNil(o.Stdin), fileOrNil(o.Stdout), fileOrNil(o.Stderr)
	return nil, nil
}

// forwardSignals starts catching the signals nixbox forwards to the
// sandbox (waitProcess does the forwarding); call stop when done.
func forwardSignals() (c chan os.Signal, stop func()) {
	c = make(chan os.Signal, 16)
	signal.Notify(c, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM,
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGCONT, unix.SIGALRM, unix.SIGWINCH)
	return c, func() { signal.Stop(c) }
}

func fileOrNil(f *os.File) io.ReadWriter {
	if f == nil {
		return nil
	}
	return f
}

// consoleIO connects the host terminal to the pty libcontainer creates
// inside the sandbox. The host terminal itself is never handed to the app:
// with it, the app could push keystrokes into the user's shell (TIOCSTI,
// CVE-2017-5226) and Ctrl-C would reach the launcher's group.
type consoleIO struct {
	o        Options
	parent   *os.File
	master   *os.File
	oldState *term.State
	outDone  chan struct{}
}

func newConsole(o Options, proc *libcontainer.Process) (*consoleIO, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: console socket: %w", ErrStart, err)
	}
	parent := os.NewFile(uintptr(fds[0]), "console-parent")
	child := os.NewFile(uintptr(fds[1]), "console-child")
	proc.ConsoleSocket = child
	if w, h, err := term.GetSize(int(o.Stdin.Fd())); err == nil {
		proc.ConsoleWidth, proc.ConsoleHeight = uint16(w), uint16(h)
	}
	return &consoleIO{o: o, parent: parent}, nil
}

func (ci *consoleIO) start() error {
	if ci.o.Stdin == nil || ci.o.Stdout == nil {
		return fmt.Errorf("%w: a terminal needs stdin and stdout", ErrStart)
	}
	m, err := recvFile(ci.parent)
	if err != nil {
		return fmt.Errorf("%w: receiving the pty: %w", ErrStart, err)
	}
	ci.master = m
	ci.resize()
	if st, err := term.MakeRaw(int(ci.o.Stdin.Fd())); err == nil {
		ci.oldState = st
	}
	ci.outDone = make(chan struct{})
	go func() {
		_, _ = io.Copy(ci.o.Stdout, m) // ends with EIO when the app is gone
		close(ci.outDone)
	}()
	go func() { _, _ = io.Copy(m, ci.o.Stdin) }()
	return nil
}

func (ci *consoleIO) resize() {
	if ci.master == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(ci.o.Stdin.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(ci.master.Fd()), unix.TIOCSWINSZ, ws)
}

func (ci *consoleIO) wait() {
	if ci.outDone != nil {
		<-ci.outDone
	}
}

func (ci *consoleIO) close() {
	if ci.oldState != nil {
		_ = term.Restore(int(ci.o.Stdin.Fd()), ci.oldState)
	}
	if ci.master != nil {
		ci.master.Close()
	}
	ci.parent.Close()
}

// recvFile receives one file descriptor over a unix socket.
func recvFile(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, errors.New("expected one control message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("expected one file descriptor")
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
