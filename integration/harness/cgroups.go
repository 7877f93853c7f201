//go:build integration

package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	delegateOnce sync.Once
	delegateErr  error
	delegateOut  []byte
)

// Delegate makes sure the runner may have cgroup limits: root always may;
// the unprivileged runner gets a subtree delegated once by the nixbox
// under test (`nixbox setup-cgroups --user nixbox-test`, run as root: the
// same step scripts/setup-host.sh does on CI and docs/limits.md tells
// users to do).
func (r *Runner) Delegate(t testing.TB) {
	t.Helper()
	if r.UID == 0 {
		return
	}
	if os.Getuid() != 0 {
		SkipOrFail(t, "delegating a cgroup subtree to %s needs root", r.Name)
	}
	delegateOnce.Do(func() {
		delegateOut, delegateErr = exec.Command(Nixbox, "setup-cgroups", "--user", TestUser).CombinedOutput()
	})
	if delegateErr != nil {
		t.Fatalf("setup-cgroups --user %s: %v\n%s", TestUser, delegateErr, delegateOut)
	}
}

// Instance is one line of `nixbox ps --json`.
type Instance struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"` // the sandbox init's host pid
	Cgroup string `json:"cgroup"`
}

// Instances lists the runner's running instances (`nixbox ps --json`).
func (r *Runner) Instances(t testing.TB) []Instance {
	t.Helper()
	res := r.Run(t, "", "ps", "--json")
	var is []Instance
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &is) != nil {
		t.Fatalf("nixbox ps --json: %s", res)
	}
	return is
}

// WaitInstance waits until `nixbox ps` lists exactly one instance of the
// runner (each cell has a state root of its own) and returns it; it fails
// when exited is closed first or after 30 s.
func (r *Runner) WaitInstance(t testing.TB, exited <-chan struct{}) Instance {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if is := r.Instances(t); len(is) == 1 {
			return is[0]
		}
		select {
		case <-exited:
			t.Fatalf("the sandbox ended before nixbox ps listed it")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nixbox ps never listed the sandbox")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Bg is a nixbox command running in the background.
type Bg struct {
	Cmd    *exec.Cmd
	Stdin  *os.File // the write end of the command's stdin (nil unless asked)
	Lines  chan string
	Exited chan struct{}
	res    Result
	errb   strings.Builder
}

// Start starts a nixbox command as r with a pipe for stdin (when
// withStdin) and stdout read line by line into Lines; Wait returns the
// result. The command is killed at the end of the test, or after 300 s.
func (r *Runner) Start(t testing.TB, withStdin bool, args ...string) *Bg {
	t.Helper()
	return r.StartBin(t, Nixbox, withStdin, args...)
}

// StartBin is Start with another nixbox binary.
func (r *Runner) StartBin(t testing.TB, bin string, withStdin bool, args ...string) *Bg {
	t.Helper()
	return r.StartWith(t, bin, nil, withStdin, args...)
}

// StartWith is StartBin with extra files given to nixbox as fds 3, 4, ...
func (r *Runner) StartWith(t testing.TB, bin string, extra []*os.File, withStdin bool, args ...string) *Bg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	b := &Bg{Cmd: r.CmdBin(ctx, bin, args...), Lines: make(chan string, 1024), Exited: make(chan struct{})}
	b.Cmd.Stderr = &b.errb
	b.Cmd.ExtraFiles = extra
	if withStdin {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		b.Cmd.Stdin, b.Stdin = pr, pw
		defer pr.Close()
	}
	out, err := b.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			select {
			case b.Lines <- sc.Text():
			default:
			}
		}
		err := b.Cmd.Wait()
		b.res = Result{Stdout: all.String(), Stderr: b.errb.String(), Elapsed: time.Since(start)}
		if ee, ok := err.(*exec.ExitError); ok {
			// As Run: a nixbox killed by a signal is Code -1 and Signal,
			// never 128+n, which is what nixbox exits with when the app
			// is killed (a check for 137 must not pass because nixbox
			// itself died).
			b.res.Code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				b.res.Signal = ws.Signal()
			}
		}
		close(b.Exited)
		cancel()
	}()
	t.Cleanup(func() {
		_ = b.Cmd.Process.Kill()
		if b.Stdin != nil {
			b.Stdin.Close()
		}
		<-b.Exited
	})
	return b
}

// WaitLine waits up to d for a stdout line starting with prefix.
func (b *Bg) WaitLine(t testing.TB, prefix string, d time.Duration) string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l := <-b.Lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-b.Exited:
			t.Fatalf("the sandbox ended before printing %q: %s", prefix, b.res)
		case <-timeout:
			t.Fatalf("no line %q within %v", prefix, d)
		}
	}
}

// Wait waits for the command and returns its result.
func (b *Bg) Wait(t testing.TB) Result {
	t.Helper()
	if b.Stdin != nil {
		b.Stdin.Close()
	}
	select {
	case <-b.Exited:
	case <-time.After(120 * time.Second):
		t.Fatalf("the sandbox did not end")
	}
	return b.res
}

// CgroupOf returns, for each cgroup hierarchy mounted on the host, the
// host directory of pid's cgroup in it (keyed by the mount point's base
// name: cpu, cpuacct, memory, pids, ..., "unified" or "" for cgroup2),
// read from /proc/<pid>/cgroup and the host's mountinfo: what the kernel
// says, not what nixbox reports.
func CgroupOf(t testing.TB, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatalf("reading pid %d's cgroups: %v", pid, err)
	}
	paths := map[string]string{} // controller list ("" for v2) -> path
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 {
			paths[f[1]] = f[2]
		}
	}
	out := map[string]string{}
	for _, m := range cgroupMounts(t) {
		if p, ok := paths[m.key]; ok {
			out[m.name] = filepath.Join(m.point, p)
		}
	}
	return out
}

type cgMount struct{ point, key, name string }

// cgroupMounts lists the host's cgroup mounts: key is the controller list
// as /proc/PID/cgroup names it ("" for cgroup2).
func cgroupMounts(t testing.TB) []cgMount {
	var ms []cgMount
	for _, x := range parseMounts(Mountinfo(t)) {
		switch x.fstype {
		case "cgroup2":
			ms = append(ms, cgMount{x.point, "", filepath.Base(x.point)})
		case "cgroup":
			var keys []string
			for _, o := range strings.Split(x.super, ",") {
				if o != "rw" && o != "ro" && !strings.HasPrefix(o, "release_agent") && o != "clone_children" &&
					o != "xattr" && o != "nsdelegate" && o != "noprefix" && o != "cpuset_v2_mode" {
					keys = append(keys, o)
				}
			}
			ms = append(ms, cgMount{x.point, strings.Join(keys, ","), filepath.Base(x.point)})
		}
	}
	return ms
}

type mountLine struct{ point, fstype, super string }

func parseMounts(s string) []mountLine {
	var out []mountLine
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		i := 6
		for i < len(f) && f[i] != "-" {
			i++
		}
		if len(f) < 10 || i+3 >= len(f) {
			continue
		}
		out = append(out, mountLine{point: f[4], fstype: f[i+1], super: f[i+3]})
	}
	return out
}

// ReadCgroupInt reads a one-number cgroup file ("max" reads as -1).
func ReadCgroupInt(t testing.TB, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return -1
	}
	n, err := strconv.ParseInt(strings.Fields(s)[0], 10, 64)
	if err != nil {
		t.Fatalf("%s: %q is not a number", path, s)
	}
	return n
}

// CgroupsLeft returns the directories of dirs (from CgroupOf) that still
// exist. A hierarchy where the sandbox stayed in the harness's own cgroup
// (the controller-less cgroup2 mount of a hybrid host, for a rootless run)
// is not the sandbox's and is skipped.
func CgroupsLeft(t testing.TB, dirs map[string]string) []string {
	t.Helper()
	self := CgroupOf(t, os.Getpid())
	var left []string
	for name, d := range dirs {
		if d == self[name] {
			continue
		}
		if _, err := os.Lstat(d); err == nil {
			left = append(left, d)
		}
	}
	return left
}

// CgroupsGone fails for every directory of dirs that still exists:
// nixbox removes the sandbox's cgroup when it ends.
func CgroupsGone(t testing.TB, dirs map[string]string) {
	t.Helper()
	for _, d := range CgroupsLeft(t, dirs) {
		t.Errorf("HOST INVARIANT: the sandbox's cgroup %s is left behind", d)
	}
}

// VmstatCounter reads one counter of /proc/vmstat (oom_kill, ...).
func VmstatCounter(t testing.TB, name string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Fatalf("/proc/vmstat has no %s", name)
	return 0
}

// MemAvailable reads MemAvailable from /proc/meminfo, in KiB.
func MemAvailable(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemAvailable:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Fatal("/proc/meminfo has no MemAvailable")
	return 0
}
