package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
	// Verify, if set, checks the started sandbox (by the host pid of its
	// init) after its mounts are made and before the app starts (nixbox-
	// init waits for the go-ahead); an error kills it and Run returns it.
	Verify func(pid int) error
	// OnExit, if set, is called once the app has ended, before the
	// sandbox's cgroup is removed.
	OnExit func(Exit)
	// Trace, if set, is called as each start-up phase ends (NIXBOX_TRACE).
	Trace func(phase string)
}

func (o *Options) trace(phase string) {
	if o.Trace != nil {
		o.Trace(phase)
	}
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
	o.trace("sandbox: libcontainer config")
	// Die-with-parent while the sandbox starts: until nixbox-init runs and
	// watches its socket, the kernel's parent-death signal kills
	// libcontainer's init if nixbox dies. It is tied to the thread that
	// forked the init (host-facts §5), so that thread stays locked to this
	// goroutine for the whole run and only goes away after the sandbox.
	runtime.LockOSThread()
	cfg.ParentDeathSignal = int(unix.SIGKILL)
	// For `nixbox enter`: how the sandbox's process is started.
	if err := in.saveEnterInfo(spec.Process); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStart, err)
	}
	runRoot := filepath.Join(in.root, "run")
	c, err := libcontainer.Create(runRoot, in.ID, cfg)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer c.Destroy()
	o.trace("sandbox: libcontainer Create")
	// For GC: the cgroups libcontainer is about to create, in case nixbox
	// dies before libcontainer records them in its own state.
	if st, err := c.State(); err == nil {
		_ = in.saveCgroupPaths(st.CgroupPaths)
	}

	// Die-with-parent: nixbox-init reads this socket; EOF (our death, even
	// by SIGKILL) makes it kill the whole sandbox. libcontainer's
	// parent-death signal reaches only its bootstrap (host-facts §5).
	// nixbox-init also writes one byte on it once it forwards signals, so
	// a signal is never sent to a PID 1 that would drop it.
	watchR, watchW, err := watchSocket()
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
	console, err := attachStdio(o, proc, p.Terminal)
	if err != nil {
		return 0, err
	}
	if console != nil {
		defer console.close()
	}

	// Forward signals from now on, so a SIGTERM during start is not lost.
	sigc, stopSignals := forwardSignals()
	defer stopSignals()

	o.trace("sandbox: libcontainer Run start")
	if err := c.Run(proc); err != nil {
		watchR.Close()
		return 0, fmt.Errorf("%w: %w", ErrStart, err)
	}
	watchR.Close()
	o.trace("sandbox: libcontainer Run returned (nixbox-init exec'd)")
	// Until nixbox-init is ready, signals wait in sigc (it has room).
	// nixbox-init then waits for the go-ahead before it starts the app.
	waitReady(watchW)
	o.trace("sandbox: nixbox-init ready")
	if err := verifyStarted(o, proc); err != nil {
		return 0, err
	}
	if _, err := watchW.Write([]byte{'G'}); err != nil {
		// nixbox-init is gone; Wait below reports how it ended.
		_ = err
	}
	o.trace("sandbox: verified, go-ahead sent")
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

	// The OOM count is read after the app ends and before the container
	// (and its cgroup) is destroyed.
	return waitProcess(ctx, proc, console, sigc, func() {
		o.trace("sandbox: app exited")
		reportExit(o, c, spec.Linux != nil && spec.Linux.CgroupsPath != "")
	})
}

// watchSocket returns the two ends of the launcher-death socket: the child
// end for nixbox-init (fd 3 inside), the parent end kept by nixbox, set
// non-blocking so reads can time out.
func watchSocket() (child, parent *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.SetNonblock(fds[1], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "nixbox-watch"), os.NewFile(uintptr(fds[1]), "nixbox-watch-parent"), nil
}

// readyTimeout bounds the wait for nixbox-init's readiness byte; on a
// timeout or EOF (nixbox-init died) Run goes on and Wait reports the end.
const readyTimeout = 30 * time.Second

func waitReady(parent *os.File) {
	_ = parent.SetReadDeadline(time.Now().Add(readyTimeout))
	var b [1]byte
	_, _ = parent.Read(b[:])
	_ = parent.SetReadDeadline(time.Time{})
}
