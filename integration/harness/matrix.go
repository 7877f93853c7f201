//go:build integration

package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Policies are the seccomp policies every escape case runs under.
var Policies = []string{"strict", "compat"}

type identity struct {
	name     string
	uid, gid int
}

func identities(t *testing.T) []identity {
	t.Helper()
	if os.Getuid() != 0 {
		SkipOrFail(t, "not root: the root half of the suite cannot run")
		return []identity{{"rootless", os.Getuid(), os.Getgid()}}
	}
	ids := []identity{{"root", 0, 0}}
	u, err := user.Lookup(TestUser)
	if err != nil {
		SkipOrFail(t, "test user %s missing (run `make setup`): %v", TestUser, err)
		return ids
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return append(ids, identity{"rootless", uid, gid})
}

// Env is one cell of the matrix: a runner (with a fresh home, home
// canaries and its own sentinel) and a seccomp policy.
type Env struct {
	R            *Runner
	Policy       string
	HomeCanaries []*Canary
	// Root is true for the root runner.
	Root bool
	// Bin, when set, is the nixbox binary RunIn uses instead of Nixbox
	// (the no-seccomp test build, see NoSeccomp).
	Bin string
	// NoMountCheck skips the host mountinfo comparison (for a case that
	// itself changes host mounts on purpose; none does today).
	NoMountCheck bool
}

// Matrix runs f for root and rootless × strict and compat, each cell a
// parallel subtest, and checks the host invariants after each: every
// canary byte-identical (sha256 and mtime), the sentinels alive, and the
// host mount table unchanged.
func Matrix(t *testing.T, f func(t *testing.T, e *Env)) {
	t.Helper()
	t.Parallel()
	rootSentinel := StartSentinel(t, os.Getuid(), os.Getgid())
	for _, id := range identities(t) {
		for _, pol := range Policies {
			t.Run(id.name+"/"+pol, func(t *testing.T) {
				t.Parallel()
				r := NewRunner(t, id.name, id.uid, id.gid)
				e := &Env{R: r, Policy: pol, Root: id.uid == 0}
				e.HomeCanaries = r.HomeCanaries(t)
				before := Mountinfo(t)
				f(t, e)
				e.CheckHost(t, before, rootSentinel)
			})
		}
	}
}

// CheckHost asserts the host invariants.
func (e *Env) CheckHost(t *testing.T, mountsBefore string, extra ...*Sentinel) {
	t.Helper()
	for _, c := range append(append([]*Canary{}, globalCanaries...), e.HomeCanaries...) {
		if msg := c.Check(); msg != "" {
			t.Errorf("HOST INVARIANT: %s", msg)
		}
	}
	for _, s := range append([]*Sentinel{e.R.Sentinel}, extra...) {
		if !s.Alive() {
			t.Errorf("HOST INVARIANT: sentinel pid %d is not alive", s.Pid)
		}
	}
	if !e.NoMountCheck {
		if d := MountinfoDiff(mountsBefore, Mountinfo(t)); len(d) > 0 {
			t.Errorf("HOST INVARIANT: host mountinfo changed during the run:\n%s", strings.Join(d, "\n"))
		}
	}
}

// AllCanaries returns the global and home canaries.
func (e *Env) AllCanaries() []*Canary {
	return append(append([]*Canary{}, globalCanaries...), e.HomeCanaries...)
}

// NoCanaryIn fails when any canary string appears in s.
func (e *Env) NoCanaryIn(t testing.TB, what, s string) {
	t.Helper()
	for _, c := range e.AllCanaries() {
		if strings.Contains(s, c.Content) {
			t.Errorf("canary of %s leaked into %s", c.Path, what)
		}
	}
}

// Packages are the closures every escape profile adds: the probe, bash,
// coreutils and python3.
func Packages(t testing.TB) []string {
	return []string{Fixture(t, "PROBE"), Fixture(t, "BASH"), Fixture(t, "COREUTILS"), Fixture(t, "PYTHON3")}
}

// ProfileText is a profile extending default with body, the env's policy
// and (unless body has an [app] table) the suite's packages.
func (e *Env) ProfileText(t testing.TB, body string) string {
	pol := "[seccomp]\npolicy = \"" + e.Policy + "\"\n"
	if strings.Contains(body, "[seccomp]\n") {
		body = strings.Replace(body, "[seccomp]\n", pol, 1)
		pol = ""
	}
	app := ""
	if !strings.Contains(body, "[app]\n") {
		app = "[app]\npackages = " + tomlList(Packages(t)) + "\n"
	}
	return "version = 1\nextends = \"default\"\n" + app + body + "\n" + pol
}

func tomlList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// TomlList renders a TOML array of strings.
func TomlList(xs ...string) string { return tomlList(xs) }

// Profile writes ProfileText(body) and returns its path.
func (e *Env) Profile(t testing.TB, body string) string {
	return WriteProfile(t, "esc", e.ProfileText(t, body))
}

// RunIn runs argv in a sandbox under profile prof (a path).
func (e *Env) RunIn(t testing.TB, prof, stdin string, argv ...string) Result {
	t.Helper()
	args := append([]string{"run", "--profile", prof}, argv...)
	if e.Bin != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		return e.R.RunCmd(t, e.R.CmdBin(ctx, e.Bin, args...), stdin)
	}
	return e.R.Run(t, stdin, args...)
}

// Sh runs a bash script in a sandbox of the base profile (+ body).
func (e *Env) Sh(t testing.TB, body, script string, args ...string) Result {
	t.Helper()
	return e.RunIn(t, e.Profile(t, body), "", append([]string{Bin(t, "BASH", "bash"), "-c", script, "sh"}, args...)...)
}

// Probe runs nbx-probe with args in a sandbox of the base profile (+ body).
func (e *Env) Probe(t testing.TB, body string, args ...string) Result {
	t.Helper()
	return e.RunIn(t, e.Profile(t, body), "", append([]string{Bin(t, "PROBE", "nbx-probe")}, args...)...)
}

// Py runs a python3 script (after PyPrelude) in a sandbox of the base
// profile (+ body).
func (e *Env) Py(t testing.TB, body, script string, args ...string) Result {
	t.Helper()
	return e.RunIn(t, e.Profile(t, body), "", append([]string{Bin(t, "PYTHON3", "python3"), "-c", PyPrelude + script}, args...)...)
}

// PyPrelude is put before every python case: the same guard as the probe
// (refuse outside a sandbox), a raw syscall helper and the JSON output of
// the probe.
const PyPrelude = `
import os, sys, json, errno, ctypes, socket, struct, signal
_st = open('/proc/self/status').read()
if 'Seccomp:\t2' not in _st or 'NoNewPrivs:\t1' not in _st:
    sys.stderr.write('refusing to run outside a sandbox\n'); sys.exit(99)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def _arg(x):
    if isinstance(x, int): return ctypes.c_long(x)
    if isinstance(x, str): return ctypes.c_char_p(x.encode())
    return x
def sc(nr, *a):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[_arg(x) for x in a])
    return 0 if r != -1 else ctypes.get_errno()
def out(case, err, detail='', sig=0):
    print(json.dumps({'case': case, 'errno': err, 'signal': sig, 'detail': str(detail)}), flush=True)
def tryf(case, f, *a):
    try:
        r = f(*a)
        out(case, 0, repr(r)[:2000])
    except OSError as e:
        out(case, e.errno if e.errno is not None else -3, e.strerror)
def forked(case, fn):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            e = fn()
        except OSError as x:
            e = x.errno
        except BaseException:
            e = -4
        os.write(w, str(e).encode()); os._exit(0)
    os.close(w)
    data = os.read(r, 64); os.close(r)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        out(case, -1, 'killed', os.WTERMSIG(st))
    else:
        out(case, int(data or b'-2'))
def scf(case, nr, *a):
    forked(case, lambda: sc(nr, *a))
`

// Line is one JSON line of the probe or a python case.
type Line struct {
	Case   string `json:"case"`
	Errno  int    `json:"errno"`  // 0: ran; -1: killed by Signal
	Signal int    `json:"signal"` // killing signal
	Detail string `json:"detail"`
}

func (l Line) String() string {
	switch {
	case l.Errno == -1:
		return fmt.Sprintf("killed by signal %d (%v) [%s]", l.Signal, syscall.Signal(l.Signal), l.Detail)
	case l.Errno == 0:
		return "success [" + l.Detail + "]"
	default:
		return fmt.Sprintf("%v (%d) [%s]", syscall.Errno(l.Errno), l.Errno, l.Detail)
	}
}

// Lines parses the JSON lines of res.Stdout (other lines are ignored),
// keyed by case; it fails when none is found.
func Lines(t testing.TB, res Result) map[string]Line {
	t.Helper()
	m := map[string]Line{}
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(s, "{\"case\"") {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", s, err)
		}
		m[l.Case] = l
	}
	if len(m) == 0 {
		t.Fatalf("no result lines: %s", res)
	}
	return m
}

// Want asserts that case name gave one of the errnos (never success
// unless 0 is listed).
func Want(t testing.TB, m map[string]Line, name string, errnos ...syscall.Errno) {
	t.Helper()
	l, ok := m[name]
	if !ok {
		t.Errorf("%s: no result line", name)
		return
	}
	for _, e := range errnos {
		if l.Errno == int(e) {
			return
		}
	}
	t.Errorf("%s: got %s, want one of %v", name, l, errnos)
}

// WantSig asserts that case name died by sig, or gave one of errnos.
func WantSig(t testing.TB, m map[string]Line, name string, sig syscall.Signal, errnos ...syscall.Errno) {
	t.Helper()
	l, ok := m[name]
	if ok && l.Errno == -1 && l.Signal == int(sig) {
		return
	}
	Want(t, m, name, errnos...)
}

// NotSuccess asserts that case name did not succeed (any errno or signal).
func NotSuccess(t testing.TB, m map[string]Line, name string) {
	t.Helper()
	l, ok := m[name]
	if !ok {
		t.Errorf("%s: no result line", name)
	} else if l.Errno == 0 {
		t.Errorf("%s: succeeded: %s", name, l)
	}
}
