package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// enterFile, in the instance's private directory, keeps what `nixbox
// enter` needs to start a process the way the app was started: nixbox-init's
// path inside the sandbox, the app's identity, environment and working
// directory. Only nixbox writes it (the instance directory is mode 0700
// and masked in every sandbox); nothing is taken from the sandbox itself.
const enterFile = "enter.json"

type enterInfo struct {
	Init string   `json:"init"` // nixbox-init inside the sandbox
	UID  int      `json:"uid"`  // the app's uid and gid (its user namespace maps them to U1's 0)
	GID  int      `json:"gid"`
	Env  []string `json:"env"`
	Cwd  string   `json:"cwd"`
	// User is the identity libcontainer starts nixbox-init as (U1's root).
	User specs.User `json:"user"`
	// AllowUserns is nixbox-init's --allow-userns: the app's user
	// namespace is not capped at 0 nested ones, so neither is the
	// command's (cmd/nixbox-init/sysctl.go). A record without it gets
	// the cap: the stricter default.
	AllowUserns bool `json:"allow_userns,omitempty"`
}

// saveEnterInfo records how the sandbox's process was started. The args
// are nixbox-init's: INIT --uid UID --gid GID [--allow-userns] -- APP...;
// anything else is not recorded, and such an instance cannot be entered.
func (in *Instance) saveEnterInfo(p *specs.Process) error {
	if p == nil {
		return nil
	}
	a := p.Args
	allowUserns := len(a) > 5 && a[5] == "--allow-userns"
	dd := 5
	if allowUserns {
		dd = 6
	}
	if len(a) <= dd || a[1] != "--uid" || a[3] != "--gid" || a[dd] != "--" {
		return nil
	}
	uid, err1 := strconv.Atoi(a[2])
	gid, err2 := strconv.Atoi(a[4])
	if err1 != nil || err2 != nil {
		return nil
	}
	b, err := json.Marshal(enterInfo{Init: a[0], UID: uid, GID: gid, AllowUserns: allowUserns, Env: p.Env, Cwd: p.Cwd, User: p.User})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(in.dir, enterFile), b, 0o600)
}

// ErrNotEnterable is returned for a running instance that cannot be entered
// (still starting, or started by a nixbox without enter).
var ErrNotEnterable = errors.New("the instance cannot be entered")

// EnterOptions are the settings of Enter.
type EnterOptions struct {
	// Stdin, Stdout and Stderr as for Run; OnStart is not used.
	Options
	// Terminal gives the command a pty of its own (connected to Stdin and
	// Stdout) instead of the files themselves.
	Terminal bool
	// InitPid, if not 0, is the sandbox init's host pid in the launcher's
	// own record; a different pid in libcontainer's state is refused.
	InitPid int
}

// Enter runs argv inside the running instance id of this state root, with
// the app's namespaces, identity, capabilities (none), no_new_privs and
// seccomp filter, and returns its status as Run does. Only the caller's own
// state root is searched, and the instance must be alive (its launcher
// holds the lock): the target is never a pid from the command line
// (Firejail CVE-2022-31214 joined a fake sandbox it was pointed at).
//
// libcontainer's setns process joins the sandbox as U1's root with
// nixbox-init's capability; it runs `nixbox-init --enter`, which starts the
// command through the same stage 2 as the app.
func Enter(ctx context.Context, stateRoot, id string, argv []string, o EnterOptions) (int, error) {
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		return 0, fmt.Errorf("%w: the command must be an absolute path inside the sandbox", ErrNotEnterable)
	}
	live, err := List(stateRoot)
	if err != nil {
		return 0, err
	}
	var dir string
	for _, l := range live {
		if l.ID == id {
			dir = l.Dir
		}
	}
	if dir == "" {
		return 0, fmt.Errorf("%w: %s", ErrNoInstance, id)
	}
	b, err := os.ReadFile(filepath.Join(dir, enterFile))
	if err != nil {
		return 0, fmt.Errorf("%w: %s is starting, or was started by an older nixbox", ErrNotEnterable, id)
	}
	var info enterInfo
	if err := json.Unmarshal(b, &info); err != nil || !filepath.IsAbs(info.Init) {
		return 0, fmt.Errorf("%w: %s: bad %s", ErrNotEnterable, id, enterFile)
	}
	c, err := libcontainer.Load(filepath.Join(stateRoot, "run"), id)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", ErrNoInstance, id)
	}
	st, err := c.State()
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrNotEnterable, id, err)
	}
	if status, err := c.Status(); err != nil || status != libcontainer.Running {
		return 0, fmt.Errorf("%w: %s is not running", ErrNotEnterable, id)
	}
	if o.InitPid != 0 && st.InitProcessPid != o.InitPid {
		return 0, fmt.Errorf("%w: %s: the runtime's pid %d is not the recorded %d", ErrNotEnterable, id, st.InitProcessPid, o.InitPid)
	}

	args := []string{info.Init, "--enter", "--uid", strconv.Itoa(info.UID), "--gid", strconv.Itoa(info.GID)}
	if info.AllowUserns {
		args = append(args, "--allow-userns")
	}
	args = append(append(args, "--"), argv...)
	proc := &libcontainer.Process{
		Args: args,
		Env:  info.Env,
		UID:  int(info.User.UID),
		GID:  int(info.User.GID),
		Cwd:  info.Cwd,
		Init: false,
		// libcontainer logs at this numeric level (logrus.WarnLevel).
		LogLevel: "3",
	}
	// Into every cgroup of the sandbox, each on its own. With no
	// SubCgroupPaths libcontainer's setns process joins through
	// Manager.AddPid, which stops at the first hierarchy it cannot write
	// and, for a rootless container, ignores that error: on a hybrid host
	// the cgroup2 mount (where an unprivileged user may not move a process
	// out of the root cgroup) failed first in a random share of runs, and
	// the entered process stayed outside the instance's memory, pids and
	// cpu limits (security suite case 51). A per-controller map (the
	// container's own cgroup, sub-path "") makes libcontainer write each
	// hierarchy separately; Options.Verify then checks the result. Only
	// cgroup v1 and hybrid hosts have named controllers (v2 allows "" alone).
	for ctrl := range st.CgroupPaths {
		if ctrl != "" {
			proc.SubCgroupPaths = map[string]string{ctrl: ""}
			break
		}
	}
	console, err := attachStdio(o.Options, proc, o.Terminal)
	if err != nil {
		return 0, err
	}
	if console != nil {
		defer console.close()
	}

	sigc, stopSignals := forwardSignals()
	defer stopSignals()

	if err := c.Run(proc); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrNotEnterable, id, err)
	}
	// libcontainer moved the process into the cgroups before letting it
	// run; if one is missing (an error libcontainer ignored for a rootless
	// container) the process is killed and enter fails (fail closed).
	if err := verifyStarted(o.Options, proc); err != nil {
		return 0, err
	}
	if console != nil {
		if err := console.start(); err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return 0, err
		}
	}
	return waitProcess(ctx, proc, console, sigc, nil)
}

// waitProcess forwards signals to a started process until it ends and
// returns its status: its code, or 128+N when killed by signal N.
// afterWait, if set, runs once the process has ended.
func waitProcess(ctx context.Context, proc *libcontainer.Process, console *consoleIO, sigc <-chan os.Signal, afterWait func()) (int, error) {
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
	if afterWait != nil {
		afterWait()
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
