package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Options are launcher settings that are not part of the spec.
type Options struct {
	// Stdin, Stdout and Stderr are the app's stdio when the spec asks for
	// no terminal; with a terminal they are copied to and from the pty.
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	// OnStart, if set, is called with the host pid of the sandbox's init
	// once the sandbox runs (for the launcher's instance record).
	OnStart func(pid int)
}

// Run creates the sandbox described by spec, runs its process, forwards
// signals to it and waits. It returns the exit status of the process:
// its code, or 128+N when killed by signal N. The container's state is
// removed before Run returns.
//
// Preconditions: spec.Root.Path exists; the instance lock is held.
func (in *Instance) Run(ctx context.Context, spec *specs.Spec, o Options) (int, error) {
	// Fail closed: a binary without seccomp support would run the app
	// without its filter (libcontainer refuses too, but say why first).
	if !lcseccomp.Enabled {
		return 0, ErrSeccompUnavailable
	}
	rootless := os.Geteuid() != 0
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:      "nixbox-" + in.ID,
		Spec:            spec,
		RootlessEUID:    rootless,
		RootlessCgroups: rootless,
	})
	if err != nil {
		return 0, fmt.Errorf("%w: converting the spec: %w", ErrStart, err)
	}
	runRoot := filepath.Join(in.root, "run")
	c, err := libcontainer.Create(runRoot, in.ID, cfg)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer c.Destroy()

	// Die-with-parent: nixbox-init reads this pipe; EOF (our death, even by
	// SIGKILL) makes it kill the whole sandbox. libcontainer's
	// parent-death signal reaches only its bootstrap (host-facts §5).
	watchR, watchW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer watchW.Close()

	p := spec.Process
	proc := &libcontainer.Process{
		Args:       p.Args,
		Env:        p.Env,
		UID:        int(p.User.UID),
		GID:        int(p.User.GID),
		Cwd:        p.Cwd,
		ExtraFiles: []*os.File{watchR},
		Init:       true,
		// libcontainer logs at this numeric level (logrus.WarnLevel).
		LogLevel: "3",
	}
	var console *consoleIO
	if p.Terminal {
		console, err = newConsole(o, proc)
		if err != nil {
			return 0, err
		}
		defer console.close()
	} else {
		proc.Stdin, proc.Stdout, proc.Stderr = fileOrNil(o.Stdin), fileOrNil(o.Stdout), fileOrNil(o.Stderr)
	}

	// Forward signals from now on, so a SIGTERM during start is not lost.
	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM,
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGCONT, unix.SIGALRM, unix.SIGWINCH)
	defer signal.Stop(sigc)

	if err := c.Run(proc); err != nil {
		watchR.Close()
		return 0, fmt.Errorf("%w: %w", ErrStart, err)
	}
	watchR.Close()
	if o.OnStart != nil {
		if pid, err := proc.Pid(); err == nil {
			o.OnStart(pid)
		}
	}
	if console != nil {
		if err := console.start(); err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return 0, err
		}
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case s := <-sigc:
				if s == unix.SIGWINCH {
					if console != nil {
						console.resize()
					}
					continue
				}
				_ = proc.Signal(s)
			case <-ctx.Done():
				_ = proc.Signal(unix.SIGKILL)
				return
			case <-done:
				return
			}
		}
	}()

	st, werr := proc.Wait()
	close(done)
	wg.Wait()
	if console != nil {
		console.wait()
	}
	if st == nil {
		return 0, fmt.Errorf("%w: waiting: %w", ErrStart, werr)
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok {
		return 0, fmt.Errorf("%w: no wait status", ErrStart)
	}
	switch {
	case ws.Exited():
		return ws.ExitStatus(), nil
	case ws.Signaled():
		return 128 + int(ws.Signal()), nil
	}
	return 0, fmt.Errorf("%w: unexpected wait status %v", ErrStart, ws)
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
