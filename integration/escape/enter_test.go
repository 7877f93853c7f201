//go:build integration

package escape

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
	"golang.org/x/sys/unix"
)

// enterLoop runs `nixbox enter ID ARGV` n times as the runner (with the
// nixbox binary bin, or the harness's when "") and fails unless each
// exits 0.
func enterLoop(t *testing.T, e *h.Env, bin, id string, n int, argv ...string) {
	t.Helper()
	for i := 0; i < n; i++ {
		c := e.R.Cmd(t.Context(), append([]string{"enter", id}, argv...)...)
		if bin != "" {
			c = e.R.CmdBin(t.Context(), bin, append([]string{"enter", id}, argv...)...)
		}
		if res := e.R.RunCmd(t, c, ""); res.Code != 0 {
			t.Fatalf("enter %d/%d: %s", i+1, n, res)
		}
	}
}

// pyTracer is the in-sandbox tracer of case 44: it attaches to every new
// pid until stdin closes and reports, per attached process, its exe and
// the fd targets it could read; a control process that is not its
// descendant (reparented to init) shows that attaching works at all.
const pyTracer = `
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
import threading
def attach(pid):
    ctypes.set_errno(0)
    if libc.ptrace(16, pid, None, None) != 0:
        return ctypes.get_errno(), None
    try: exe = os.readlink('/proc/%d/exe' % pid)
    except OSError as x: exe = 'errno %d' % x.errno
    try: os.waitpid(pid, 0x40000000)
    except OSError: pass
    libc.ptrace(17, pid, None, None)
    return 0, exe
def fds(pid):
    got = []
    try:
        for f in os.listdir('/proc/%d/fd' % pid):
            try: got.append(os.readlink('/proc/%d/fd/%s' % (pid, f)))
            except OSError: pass
    except OSError: pass
    return got
# The control: a process that is not the tracer's descendant.
r, w = os.pipe()
if os.fork() == 0:
    if os.fork() == 0:
        os.write(w, str(os.getpid()).encode()); os.close(w)
        signal.pause(); os._exit(0)
    os._exit(0)
os.wait()
ctl = int(os.read(r, 32))
e, exe = attach(ctl)
out('control', e, exe)
os.kill(ctl, 9)
seen = set(os.listdir('/proc'))
stats = {'attempts': 0, 'errnos': {}, 'attached': [], 'fds': []}
done = []
import time
def watch():
    while not done:
        time.sleep(0.0005)
        for p in os.listdir('/proc'):
            if not p.isdigit() or p in seen: continue
            seen.add(p)
            pid = int(p)
            stats['attempts'] += 1
            stats['fds'] += fds(pid)
            e, exe = attach(pid)
            if e == 0:
                stats['attached'].append(exe)
            else:
                stats['errnos'][e] = stats['errnos'].get(e, 0) + 1
th = threading.Thread(target=watch); th.start()
print('TRACING', flush=True)
sys.stdin.read()
done.append(1); th.join()
out('race', 0, json.dumps(stats))
`

// pyOrigRax: a traced child calls getppid; the tracer rewrites orig_rax at
// the syscall-entry stop, once to getpid (the control: the rewrite takes
// effect) and once to unshare(CLONE_NEWUSER), which the filter must
// re-check (kernels >= 4.8) and deny.
const pyOrigRax = `
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
def rewrite(case, nr, rdi):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        libc.ptrace(0, 0, None, None)
        os.kill(os.getpid(), signal.SIGSTOP)
        ctypes.set_errno(0)
        v = libc.syscall(ctypes.c_long(110))
        os.write(w, ('%d %d %d' % (v, ctypes.get_errno(), os.getpid())).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    regs = (ctypes.c_ulong * 27)()
    entry, done = True, False
    while True:
        libc.ptrace(24, pid, None, None)
        _, st = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(st): break
        if os.WSTOPSIG(st) != signal.SIGTRAP:
            continue
        libc.ptrace(12, pid, None, ctypes.addressof(regs))
        if entry and not done and regs[15] == 110:
            regs[15], regs[14] = nr, rdi
            libc.ptrace(13, pid, None, ctypes.addressof(regs))
            done = True
        entry = not entry
    v, err, cpid = (int(x) for x in os.read(r, 64).split())
    out(case, err if v == -1 else 0, '%d %d' % (v, cpid))
rewrite('to-getpid', 39, 0)
rewrite('to-unshare', 272, 0x10000000)
`

// TestCase44_Ptrace: under strict and compat, PTRACE_TRACEME and
// PTRACE_ATTACH to pid 1 and to a sibling are EPERM. Under a devel
// profile (allow_ptrace = true): (1) while the harness runs `nixbox enter
// ID true` 50 times, an in-sandbox tracer attaches to every new pid; no
// process is ever attached before its execve (nixbox-init and the stage-2
// that joins are unattachable: a permitted capability the app lacks, then
// a user namespace of their own), and no fd target it can read is a host
// path; a control process of the app's own is attachable, so the tracer
// works. (2) A tracer that rewrites orig_rax at the syscall-entry stop
// gets the filter's answer for the new call: unshare(CLONE_NEWUSER) is
// EPERM, while a rewrite to getpid takes effect (the control).
// Src: runc CVE-2016-9962; bubblewrap b48c129, CVE-2016-8659; Firejail CVE-2017-5206; moby 3b9f33b.
func TestCase44_Ptrace(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
forked('traceme', lambda: sc(101, 0, 0, 0, 0))
scf('attach-1', 101, 16, 1, 0, 0)
pid = os.fork()
if pid == 0:
    import time; time.sleep(5); os._exit(0)
scf('attach-sibling', 101, 16, pid, 0, 0)
os.kill(pid, 9); os.waitpid(pid, 0)
`))
		for _, n := range []string{"traceme", "attach-1", "attach-sibling"} {
			h.Want(t, m, n, syscall.EPERM)
		}

		devel := e.Profile(t, "[seccomp]\nallow_ptrace = true\n")
		b := e.R.Start(t, true, pyArgv(t, devel, pyTracer)...)
		b.WaitLine(t, "TRACING", 30*time.Second)
		inst := e.R.WaitInstance(t, b.Exited)
		trueBin := h.Bin(t, "COREUTILS", "true")
		enterLoop(t, e, "", inst.ID, 50, trueBin)
		res := b.Wait(t)
		m = h.Lines(t, res)
		h.Want(t, m, "control", 0)
		var st struct {
			Attempts int            `json:"attempts"`
			Errnos   map[string]int `json:"errnos"`
			Attached []string       `json:"attached"`
			Fds      []string       `json:"fds"`
		}
		if err := json.Unmarshal([]byte(m["race"].Detail), &st); err != nil {
			t.Fatalf("tracer result: %v: %s", err, res)
		}
		t.Logf("%s/%s: %d new pids seen, refused %v, attached %v", e.R.Name, e.Policy, st.Attempts, st.Errnos, st.Attached)
		if st.Attempts == 0 {
			t.Errorf("the tracer saw none of the 50 entered processes")
		}
		for _, exe := range st.Attached {
			if exe != trueBin {
				t.Errorf("the tracer attached to an entering process before its execve (exe %q)", exe)
			}
		}
		for _, f := range st.Fds {
			if strings.Contains(f, h.WorkDir) || strings.Contains(f, "nixbox-") || strings.Contains(f, "memfd:") {
				t.Errorf("an entering process's fd shows a host or internal file: %q", f)
			}
		}

		m = h.Lines(t, e.Py(t, "[seccomp]\nallow_ptrace = true\n", pyOrigRax))
		if l := m["to-getpid"]; l.Errno != 0 || len(strings.Fields(l.Detail)) != 2 || strings.Fields(l.Detail)[0] != strings.Fields(l.Detail)[1] {
			t.Errorf("control: rewriting getppid to getpid did not take effect: %s", l)
		}
		h.Want(t, m, "to-unshare", syscall.EPERM)
	})
}

// TestCase48_ExeOverwrite: nixbox (and nixbox-init) installed in a
// user-writable ~/.local/bin, which removes the read-only-store safety
// net. A long-running app loops over /proc/[0-9]*/exe: open(O_WRONLY),
// O_PATH then a re-open through /proc/self/fd/N with O_WRONLY, and
// truncate, while the harness runs `nixbox enter ID true` 50 times with
// that binary. Every attempt fails; any nixbox process whose exe the app
// can read runs from a sealed memfd, never the installed file. Host: the
// sha256 of both installed binaries is unchanged.
// Src: runc CVE-2019-5736 and exeseal; run.bats "/proc/self/exe clone"; Flatpak CVE-2019-8308; Firejail CVE-2019-12499.
func TestCase48_ExeOverwrite(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		local := filepath.Join(e.R.Home, ".local/bin")
		e.R.MkdirAll(t, local, 0o755)
		var sums []string
		bins := []string{filepath.Join(local, "nixbox"), filepath.Join(local, "nixbox-init")}
		for i, src := range []string{h.Nixbox, filepath.Join(filepath.Dir(h.Nixbox), "nixbox-init")} {
			if err := h.CopyFile(src, bins[i], 0o755); err != nil {
				t.Fatal(err)
			}
			e.R.Chown(t, bins[i])
			sums = append(sums, fileSum(t, bins[i]))
		}
		b := e.R.StartBin(t, bins[0], true, pyArgv(t, e.Profile(t, ""), `
import threading
stats = {'attempts': 0, 'success': [], 'exes': {}}
done = []
import time
def loop():
    while not done:
        time.sleep(0.001)
        for p in os.listdir('/proc'):
            if not p.isdigit(): continue
            exe = '/proc/%s/exe' % p
            try: stats['exes'][os.readlink(exe)] = 1
            except OSError: pass
            def viapath():
                fd = os.open(exe, os.O_PATH)
                try: return os.open('/proc/self/fd/%d' % fd, os.O_WRONLY)
                finally: os.close(fd)
            for how, f in [('w', lambda: os.open(exe, os.O_WRONLY)), ('p', viapath), ('t', lambda: os.truncate(exe, 0))]:
                stats['attempts'] += 1
                try:
                    r = f()
                    stats['success'].append('%s %s' % (how, exe))
                except OSError:
                    pass
th = threading.Thread(target=loop); th.start()
print('LOOPING', flush=True)
sys.stdin.read()
done.append(1); th.join()
out('exe', 0, json.dumps(stats))
`)...)
		b.WaitLine(t, "LOOPING", 30*time.Second)
		inst := e.R.WaitInstance(t, b.Exited)
		enterLoop(t, e, bins[0], inst.ID, 50, h.Bin(t, "COREUTILS", "true"))
		res := b.Wait(t)
		var st struct {
			Attempts int            `json:"attempts"`
			Success  []string       `json:"success"`
			Exes     map[string]int `json:"exes"`
		}
		if err := json.Unmarshal([]byte(h.Lines(t, res)["exe"].Detail), &st); err != nil {
			t.Fatalf("result: %v: %s", err, res)
		}
		var exes []string
		for x := range st.Exes {
			exes = append(exes, x)
		}
		sort.Strings(exes)
		t.Logf("%s/%s: %d attempts; exes seen: %v", e.R.Name, e.Policy, st.Attempts, exes)
		if len(st.Success) > 0 {
			t.Errorf("opened for writing: %v", st.Success)
		}
		if st.Attempts == 0 {
			t.Errorf("the app made no attempt")
		}
		for _, x := range exes {
			if strings.Contains(x, local) || (strings.Contains(x, "nixbox") && !strings.HasPrefix(x, "/memfd:") && x != "/.nixbox/init") {
				t.Errorf("a nixbox process visible inside runs from %q, not a sealed copy", x)
			}
		}
		for i, p := range bins {
			if fileSum(t, p) != sums[i] {
				t.Errorf("HOST INVARIANT: %s changed", p)
			}
		}
	})
}

// pyIdentity prints what case 51 compares between the app and an entered
// process: status fields, cgroups, namespaces and id maps.
const pyIdentity = `
def ident():
    st = {l.split(':')[0]: l.split(':', 1)[1].strip() for l in open('/proc/self/status') if ':' in l}
    d = {k: st.get(k) for k in ['Seccomp', 'Seccomp_filters', 'NoNewPrivs', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'Uid', 'Gid']}
    d['cgroup'] = open('/proc/self/cgroup').read()
    for ns in ['mnt', 'pid', 'net', 'ipc', 'uts', 'cgroup', 'time', 'user']:
        d['ns:' + ns] = os.readlink('/proc/self/ns/' + ns)
    for f in ['uid_map', 'gid_map', 'setgroups']:
        d[f] = open('/proc/self/' + f).read()
    return d
out('ident', 0, json.dumps(ident()))
`

// plantFakeInstance writes an instance directory nixbox would list as
// running (its lock held by the test) with a record and enter.json that
// point at pid; the state root is created by `nixbox ps` first.
func plantFakeInstance(t *testing.T, r *h.Runner, stateRoot, id string, pid int) (remove func()) {
	t.Helper()
	dir := filepath.Join(stateRoot, "instances", id)
	r.MkdirAll(t, dir, 0o700)
	r.WriteFile(t, filepath.Join(dir, "lock"), "", 0o600)
	lock, err := os.Open(filepath.Join(dir, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(map[string]any{"id": id, "profile": "esc", "pid": pid, "uid": r.UID,
		"started": time.Now().UTC(), "argv": []string{"/usr/bin/sleep"}, "cgroup": "/" + id})
	r.WriteFile(t, filepath.Join(dir, "instance.json"), string(rec), 0o600)
	ent, _ := json.Marshal(map[string]any{"init": "/usr/bin/env", "uid": r.UID, "gid": r.GID,
		"env": []string{"PATH=/usr/bin:/bin"}, "cwd": "/", "user": map[string]int{"uid": 0, "gid": 0}})
	r.WriteFile(t, filepath.Join(dir, "enter.json"), string(ent), 0o600)
	return func() { lock.Close(); _ = os.RemoveAll(dir) }
}

// TestCase51_EnterIntegrity: (1) a fake instance built on the host as the
// same user (its own user and mount namespaces, a planted /run/nixbox/info,
// a cgroup named like nixbox's, and an instance directory in the user's
// state root, lock held, whose record and enter.json point at it) cannot
// be entered, by id or by pid: nixbox finds no runtime state of its own
// for it ("no such running instance") and nothing runs; a state root that
// belongs to another uid is refused. (2) From inside a real sandbox
// the state root is ENOENT and nixbox-init, the filter file and /.nixbox
// cannot be changed. (3) A process made by `nixbox enter` matches the app:
// Seccomp 2 and the same Seccomp_filters count, NoNewPrivs 1, no
// capabilities (CapBnd included), the same cgroup in every hierarchy, the
// same mnt, pid, net, ipc, uts, cgroup and time namespaces, the same id
// maps, and the same x86_64 sweep as the app (case 35). Its user
// namespace is a sibling of the app's with the same map, not the app's
// own (docs/security.md: so the app cannot trace it).
// Src: Firejail CVE-2022-31214, CVE-2019-12589; Flatpak --assert-userns-disabled; runc exec.bats.
func TestCase51_EnterIntegrity(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		h.SkipOrFail(t, "unshare (util-linux) is needed for the fake instance")
	}
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		e.R.Delegate(t)
		r := e.R
		// (1) The fake instance.
		fakeID := "esc-" + h.NewCanaryString()[11:19]
		marker := filepath.Join(r.Base, "entered-fake")
		fake := exec.Command("unshare", "-Urm", "sh", "-c",
			"mount -t tmpfs none /run && mkdir -p /run/nixbox && echo "+fakeID+" > /run/nixbox/info && exec sleep 60")
		fake.SysProcAttr = r.Cred()
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fake.Process.Kill(); _ = fake.Wait() })
		for i := 0; i < 200; i++ {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", fake.Process.Pid)); strings.TrimSpace(string(b)) == "sleep" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if pids := filepath.Join(h.CgroupOf(t, os.Getpid())["pids"]); pids != "" {
			cg := filepath.Join(pids, "nixbox-esc-"+fakeID)
			if err := os.Mkdir(cg, 0o755); err == nil {
				t.Cleanup(func() { _ = fake.Process.Kill(); _ = fake.Wait(); _ = os.Remove(cg) })
				_ = os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(fake.Process.Pid)), 0o644)
			}
		}
		if res := r.Run(t, "", "ps"); res.Code != 0 {
			t.Fatalf("ps: %s", res)
		}
		stateRoot := filepath.Join(r.Tmp, "nixbox-"+itoa(r.UID))
		removeFake := plantFakeInstance(t, r, stateRoot, fakeID, fake.Process.Pid)
		for _, id := range []string{fakeID, itoa(fake.Process.Pid)} {
			res := r.Run(t, "", "enter", id, "/usr/bin/touch", marker)
			if res.Code == 0 || !strings.Contains(res.Stderr, "no such running instance") {
				t.Errorf("enter %s (a fake instance): want \"no such running instance\": %s", id, res)
			}
		}
		// A state root that is not the caller's.
		other := filepath.Join(r.Base, "other-tmp")
		r.MkdirAll(t, other, 0o755)
		otherRoot := filepath.Join(other, "nixbox-"+itoa(r.UID))
		otherUID := 0
		if r.UID == 0 {
			otherUID = h.LookupUID(t, h.TestUser)
		}
		plantFakeInstance(t, r, otherRoot, fakeID, fake.Process.Pid)
		if err := filepath.Walk(otherRoot, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				err = os.Lchown(p, otherUID, otherUID)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c := r.Cmd(t.Context(), "enter", fakeID, "/usr/bin/touch", marker)
		c.Env = append(c.Env, "TMPDIR="+other)
		if res := r.RunCmd(t, c, ""); res.Code == 0 || !strings.Contains(res.Stderr, "owned by uid") {
			t.Errorf("enter with a state root of uid %d: want a refusal (\"owned by uid\"): %s", otherUID, res)
		}
		if _, err := os.Lstat(marker); err == nil {
			t.Errorf("HOST INVARIANT: a command ran in the fake instance")
		}
		removeFake()

		// (2) and (3): a real instance, with a cgroup of its own.
		probe := h.Bin(t, "PROBE", "nbx-probe")
		b := r.Start(t, true, pyArgv(t, e.Profile(t, "[limits]\npids = 256\n"), `
import subprocess
for p in `+pyList(stateRoot, filepath.Join(stateRoot, "instances"), r.Tmp)+`:
    tryf('state:' + p, os.listdir, p)
tryf('w-init', lambda: os.open('/.nixbox/init', os.O_WRONLY))
tryf('w-filter', lambda: os.open('/.nixbox/seccomp.bpf', os.O_WRONLY|os.O_TRUNC))
tryf('rename-nixbox', os.rename, '/.nixbox', '/tmp/x')
tryf('mk-filter', lambda: os.open('/.nixbox/filter2', os.O_WRONLY|os.O_CREAT, 0o644))
`+pyIdentity+`
sys.stdout.write(subprocess.run([`+strconv.Quote(probe)+`, 'sweep', 'x86_64'], capture_output=True, text=True).stdout)
print('READY', flush=True)
sys.stdin.read()
`)...)
		b.WaitLine(t, "READY", 60*time.Second)
		inst := r.WaitInstance(t, b.Exited)
		entered := h.Lines(t, r.Run(t, "", "enter", inst.ID, h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+pyIdentity))
		sweep := r.Run(t, "", "enter", inst.ID, probe, "sweep", "x86_64")
		hostCg := h.CgroupOf(t, inst.Pid)
		app := h.Lines(t, b.Wait(t))

		for _, p := range []string{stateRoot, filepath.Join(stateRoot, "instances"), r.Tmp} {
			h.Want(t, app, "state:"+p, syscall.ENOENT)
		}
		h.Want(t, app, "w-init", syscall.EROFS, syscall.ETXTBSY, syscall.EACCES)
		h.Want(t, app, "w-filter", syscall.EROFS, syscall.EACCES)
		h.Want(t, app, "rename-nixbox", syscall.EROFS, syscall.EBUSY, syscall.EXDEV, syscall.EACCES)
		h.Want(t, app, "mk-filter", syscall.EROFS, syscall.EACCES)

		var a, n map[string]string
		if json.Unmarshal([]byte(app["ident"].Detail), &a) != nil || json.Unmarshal([]byte(entered["ident"].Detail), &n) != nil {
			t.Fatalf("identity: app %s, entered %s", app["ident"], entered["ident"])
		}
		for k, v := range a {
			if k == "ns:user" {
				continue
			}
			if n[k] != v {
				t.Errorf("%s: entered %q, app %q", k, n[k], v)
			}
		}
		if n["ns:user"] == a["ns:user"] {
			t.Logf("the entered process shares the app's user namespace")
		}
		for k, want := range map[string]string{"Seccomp": "2", "NoNewPrivs": "1", "CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapPrm": "0000000000000000"} {
			if n[k] != want {
				t.Errorf("entered %s = %q, want %q", k, n[k], want)
			}
		}
		if f, _ := strconv.Atoi(n["Seccomp_filters"]); f < 1 {
			t.Errorf("entered Seccomp_filters = %q", n["Seccomp_filters"])
		}
		// The same cgroup: the entered process's (as it sees it) equals the
		// app's, and the host sees the app in the sandbox's own cgroup.
		if hostCg["pids"] == h.CgroupOf(t, os.Getpid())["pids"] {
			t.Errorf("HOST: the sandbox has no pids cgroup of its own: %v", hostCg)
		}
		if sweep.Code != 0 {
			t.Fatalf("entered sweep: %s", sweep)
		}
		es := h.Lines(t, sweep)
		nsw := 0
		for k, l := range app {
			if !strings.HasPrefix(k, "x86_64-") || k == "x86_64-115" {
				continue
			}
			nsw++
			if g, ok := es[k]; !ok || g.Errno != l.Errno || g.Signal != l.Signal {
				t.Errorf("sweep %s: entered %v, app %v", k, g, l)
			}
		}
		if nsw < 300 {
			t.Errorf("the app's sweep has %d results", nsw)
		}
	})
}
