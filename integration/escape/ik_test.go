//go:build integration

package escape

import (
	"net"
	"os/exec"
	"regexp"
	"time"

	"encoding/json"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	h "github.com/nixbox/nixbox/integration/harness"
)

// appPid returns the pid of the app: the child of the sandbox init (of
// any of its threads).
func appPid(t *testing.T, initPid int) int {
	t.Helper()
	tasks, _ := os.ReadDir("/proc/" + itoa(initPid) + "/task")
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/" + itoa(initPid) + "/task/" + task.Name() + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			return atoi(f[0])
		}
	}
	t.Fatalf("sandbox init %d has no child", initPid)
	return 0
}

// fdTargets reads /proc/PID/fd on the host: fd number -> link target.
func fdTargets(pid int) map[int]string {
	m := map[int]string{}
	ents, _ := os.ReadDir("/proc/" + itoa(pid) + "/fd")
	for _, e := range ents {
		if l, err := os.Readlink("/proc/" + itoa(pid) + "/fd/" + e.Name()); err == nil {
			if l == "anon_inode:[eventfd]" {
				info, _ := os.ReadFile("/proc/" + itoa(pid) + "/fdinfo/" + e.Name())
				if c := regexp.MustCompile(`eventfd-count:\s+(\w+)`).FindSubmatch(info); c != nil {
					l += " count=" + string(c[1])
				}
			}
			m[atoi(e.Name())] = l
		}
	}
	return m
}

// TestCase46_LeakedFDs: the harness opens fds 3-8 without CLOEXEC before
// starting nixbox: an O_PATH fd of /, a dir fd of the home, a canary
// file, a unix socket connected to a host listener, an eventfd and a
// memfd. Inside, the app's table is exactly 0, 1, 2; openat(fd, "..") and
// fchdir(fd) give EBADF for 3-9, and nixbox-init's table (/proc/1/fd) is
// not readable or holds none of them. Host, during the run: the app's
// /proc/PID/fd is 0, 1, 2, and neither it nor nixbox-init's holds any of
// the harness's files.
// Src: runc CVE-2024-21626, create.bats, TestFdLeaks; bubblewrap 27eb690.
func TestCase46_LeakedFDs(t *testing.T) {
	sock := filepath.Join(h.FakeRoot, "fdleak-"+itoa(os.Getpid())+".sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		var files []*os.File
		add := func(fd int, err error, name string) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			f := os.NewFile(uintptr(fd), name)
			t.Cleanup(func() { f.Close() })
			files = append(files, f)
		}
		fd, err := unix.Open("/", unix.O_PATH, 0)
		add(fd, err, "O_PATH /")
		fd, err = unix.Open(e.R.Home, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		add(fd, err, "home")
		fd, err = unix.Open(e.HomeCanaries[0].Path, unix.O_RDONLY, 0)
		add(fd, err, "canary")
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := conn.(*net.UnixConn).File()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cf.Close() })
		files = append(files, cf)
		var sst unix.Stat_t
		if err := unix.Fstat(int(cf.Fd()), &sst); err != nil {
			t.Fatal(err)
		}
		sockName := "socket:[" + strconv.FormatUint(sst.Ino, 10) + "]"
		// A count no other eventfd has (0x3039), to tell it from
		// nixbox-init's own (the Go runtime's netpoller uses one).
		fd, err = unix.Eventfd(12345, 0)
		add(fd, err, "eventfd")
		fd, err = unix.MemfdCreate("nbx-leak", 0)
		add(fd, err, "memfd")
		b := e.R.StartWith(t, h.Nixbox, files, true, pyArgv(t, e.Profile(t, ""), `
out('fds', 0, json.dumps(sorted(int(x) for x in os.listdir('/proc/self/fd'))))
for fd in range(3, 10):
    tryf('dotdot-%d' % fd, lambda fd=fd: os.open('..', os.O_RDONLY, dir_fd=fd))
    tryf('fchdir-%d' % fd, os.fchdir, fd)
def init_fds():
    return [os.readlink('/proc/1/fd/' + f) for f in os.listdir('/proc/1/fd')]
tryf('init-fds', init_fds)
print('HOLD', flush=True)
sys.stdin.readline()
`)...)
		b.WaitLine(t, "HOLD", 30*time.Second)
		init := e.R.WaitInstance(t, b.Exited).Pid
		app := appPid(t, init)
		hostApp, hostInit := fdTargets(app), fdTargets(init)
		res := b.Wait(t)
		m := h.Lines(t, res)
		// listdir holds one fd of its own while listing.
		if d := m["fds"].Detail; d != "[0, 1, 2, 3]" && d != "[0, 1, 2]" {
			t.Errorf("app fd table: %s, want 0 1 2", d)
		}
		for fd := 3; fd < 10; fd++ {
			h.Want(t, m, "dotdot-"+itoa(fd), syscall.EBADF)
			h.Want(t, m, "fchdir-"+itoa(fd), syscall.EBADF)
		}
		if l := m["init-fds"]; l.Errno == 0 {
			t.Logf("nixbox-init's fds, read inside: %s", l.Detail)
		}
		if len(hostApp) != 3 || hostApp[0] == "" || hostApp[1] == "" || hostApp[2] == "" {
			t.Errorf("HOST: the app's fds are %v, want 0, 1, 2", hostApp)
		}
		for who, fds := range map[string]map[int]string{"app": hostApp, "nixbox-init": hostInit} {
			for n, l := range fds {
				if l == "/" || l == e.R.Home || strings.Contains(l, "canary") || strings.Contains(l, "id_ed25519") ||
					strings.Contains(l, "nbx-leak") || l == sockName || strings.HasSuffix(l, " count=3039") {
					t.Errorf("HOST: %s holds the harness's fd %d -> %s", who, n, l)
				}
			}
		}
		t.Logf("host view: app %v; nixbox-init %v", hostApp, hostInit)
	})
}

// TestCase47_CwdLeak: started from an unbound ~/private, the app's cwd
// is inside the sandbox (never "(unreachable)"), and .. shows sandbox
// content only. A profile cwd of /proc/self/fd/3 does not exist as a key
// (no cwd option: refused as unknown).
// Src: runc CVE-2024-21626 (8e1cd2f); bubblewrap's cwd fallback.
func TestCase47_CwdLeak(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		c := e.R.Cmd(t.Context(), "run", "--profile", e.Profile(t, ""), h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+`
out('cwd', 0, os.getcwd())
out('link', 0, os.readlink('/proc/self/cwd'))
out('up', 0, json.dumps(os.listdir('..')))
`)
		c.Dir = filepath.Join(e.R.Home, "private")
		res := e.R.RunCmd(t, c, "")
		m := h.Lines(t, res)
		for _, k := range []string{"cwd", "link"} {
			if strings.HasPrefix(m[k].Detail, "(unreachable)") || strings.Contains(m[k].Detail, "/private") {
				t.Errorf("%s inside: %s", k, m[k].Detail)
			}
		}
		if strings.Contains(m["up"].Detail, "secret.txt") || strings.Contains(m["up"].Detail, "private") {
			t.Errorf("ls .. shows host content: %s", m["up"].Detail)
		}
		res = e.Sh(t, "[app]\ncwd = \"/proc/self/fd/3\"\n", "echo STARTED")
		if res.Code != 125 || strings.Contains(res.Stdout, "STARTED") {
			t.Errorf("cwd = /proc/self/fd/3: want refusal: %s", res)
		}
	})
}

// TestCase49_Environment: host secrets and session variables never reach
// the app; LD_PRELOAD on the host never affects the launcher; no
// _LIBCONTAINER_* variable is visible in any /proc/*/environ.
// Src: bubblewrap --clearenv; Flatpak CVE-2021-21261.
func TestCase49_Environment(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		canary := h.NewCanaryString()
		c := e.R.Cmd(t.Context(), "run", "--profile", e.Profile(t, ""), h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+`
envs = []
for p in [x for x in os.listdir('/proc') if x.isdigit()]:
    for f in ['environ', 'cmdline']:
        try: envs.append(open('/proc/%s/%s' % (p, f), 'rb').read().decode(errors='replace'))
        except OSError: pass
out('env', 0, json.dumps(sorted(os.environ)))
out('all', 0, json.dumps(envs))
`)
		for _, k := range []string{"NBX_SECRET", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "KRB5CCNAME", "SSH_AUTH_SOCK",
			"GPG_AGENT_INFO", "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "NIX_PATH", "NIX_REMOTE"} {
			c.Env = append(c.Env, k+"="+canary)
		}
		c.Env = append(c.Env, "LD_PRELOAD=/nonexistent/"+canary+".so")
		res := e.R.RunCmd(t, c, "")
		m := h.Lines(t, res)
		if strings.Contains(res.Stdout, canary) {
			t.Errorf("a host variable leaked into the sandbox: %s", res.Stdout)
		}
		if strings.Contains(m["all"].Detail, "_LIBCONTAINER") {
			t.Errorf("internal variables visible")
		}
		var keys []string
		_ = json.Unmarshal([]byte(m["env"].Detail), &keys)
		preloadCase(t, e)
		allowed := map[string]bool{"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "LANG": true, "TERM": true, "TZ": true, "TMPDIR": true, "XDG_RUNTIME_DIR": true, "PWD": true}
		for _, k := range keys {
			if !allowed[k] && !strings.HasPrefix(k, "LC_") {
				t.Errorf("variable %s inside is not on the allowlist", k)
			}
		}
	})
}

// canarySO builds a shared object whose constructor creates marker (a
// path compiled in) and says NBX-PRELOADED on stderr.
func canarySO(t *testing.T, marker string) string {
	t.Helper()
	dir, err := os.MkdirTemp(h.WorkDir, "preload-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	src := filepath.Join(dir, "canary.c")
	code := `#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void nbx_canary(void) {
	int fd = open("` + marker + `", O_WRONLY | O_CREAT, 0666);
	if (fd >= 0) close(fd);
	write(2, "NBX-PRELOADED\n", 14);
}
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "canary.so")
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", so, src).CombinedOutput(); err != nil {
		h.SkipOrFail(t, "building the LD_PRELOAD canary (gcc): %v %s", err, out)
	}
	return so
}

// preloadCase is case 49's LD_PRELOAD half: a profile-declared
// LD_PRELOAD of a canary .so (its constructor creates a host marker file)
// affects only the app, never the launcher: with the .so bound into the
// sandbox the app loads it (NBX-PRELOADED) and the marker, a host path,
// is still not created; with the host path only, nothing loads it.
func preloadCase(t *testing.T, e *h.Env) {
	marker := filepath.Join(e.R.Base, "preload-marker")
	so := canarySO(t, marker)
	for _, body := range []string{
		"[env.set]\nLD_PRELOAD = \"" + so + "\"\n",
		"[env.set]\nLD_PRELOAD = \"/preload/canary.so\"\n[[filesystem.bind]]\nsource = \"" + filepath.Dir(so) + "\"\ndest = \"/preload\"\n",
	} {
		res := e.Sh(t, body, "echo STARTED")
		if res.Code != 0 || !strings.Contains(res.Stdout, "STARTED") {
			t.Errorf("profile LD_PRELOAD: %s", res)
		}
		if strings.Contains(body, "/preload/") && !strings.Contains(res.Stderr, "NBX-PRELOADED") {
			t.Errorf("the app did not load its profile's LD_PRELOAD (the case would prove nothing): %s", res)
		}
		if _, err := os.Lstat(marker); err == nil {
			t.Errorf("HOST INVARIANT: a profile's LD_PRELOAD ran on the host (the launcher loaded it)")
			_ = os.Remove(marker)
		}
	}
}

// TestCase50_ArgumentInjection: a profile command "--bind", an app arg
// "--policy=./evil.toml", and arguments starting with "-" are literal:
// never parsed as launcher options.
// Src: CVE-2024-32462; Firejail CVE-2020-17367/17368.
func TestCase50_ArgumentInjection(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		res := e.RunIn(t, e.Profile(t, "[app]\npackage = \""+h.Fixture(t, "COREUTILS")+"\"\ncommand = \"--bind\"\n"), "")
		if res.Code == 0 {
			t.Errorf("command = --bind ran: %s", res)
		}
		res = e.RunIn(t, e.Profile(t, ""), "", h.Bin(t, "COREUTILS", "echo"), "--policy=./evil.toml", "--profile", "-v", "--", "x\ny")
		if res.Code != 0 || res.Stdout != "--policy=./evil.toml --profile -v -- x\ny\n" {
			t.Errorf("arguments not passed literally: %s", res)
		}
		res = e.R.Run(t, "", "run", "--profile", e.Profile(t, ""), "--", "--bind")
		if res.Code == 0 {
			t.Errorf("app id --bind ran: %s", res)
		}
	})
}

// TestCase59_FillDisk: a tmpfs of size = "64M" and nr_inodes = 4096:
// writing until full ends in ENOSPC near 64 MiB (never the host's disk);
// statvfs reports 4096 inodes, and creating 10,000 files ends in ENOSPC
// after at most 4096 (the root directory takes one, so 4095 in practice;
// at least 4000 are required so a much smaller limit fails too). /data is
// one 64 MiB tmpfs inside. Host: /tmp, /dev/shm and the home lose less
// free space than the fill (other writers share them). A rw host bind has
// no quota: `nixbox explain` and `nixbox run -v` warn about it.
// Src: bubblewrap "tmpfs has expected size".
func TestCase59_FillDisk(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		free := func() map[string]int64 {
			m := map[string]int64{}
			for _, p := range []string{"/tmp", "/dev/shm", e.R.Home} {
				var st syscall.Statfs_t
				if err := syscall.Statfs(p, &st); err == nil {
					m[p] = int64(st.Bfree) * st.Bsize
				}
			}
			return m
		}
		before := free()
		m := h.Lines(t, e.Py(t, "[[filesystem.tmpfs]]\ndest = \"/data\"\nsize = \"64M\"\nnr_inodes = 4096\n", `
n, err = 0, 0
with open('/data/fill', 'wb') as f:
    try:
        while n < 256:
            f.write(b'x' * (1 << 20)); f.flush(); n += 1
    except OSError as x:
        err = x.errno
out('fill', err, os.stat('/data/fill').st_size)
os.unlink('/data/fill')
k, err = 0, 0
try:
    while k < 10000:
        open('/data/f%d' % k, 'w').close(); k += 1
except OSError as x:
    err = x.errno
st = os.statvfs('/data')
out('files', err, k)
out('inodes', 0, '%d %d' % (st.f_files, st.f_ffree))
out('fstype', 0, [l.split(' - ')[1].split()[0] for l in open('/proc/self/mountinfo') if l.split()[4] == '/data'])
out('opts', 0, [l.split(' - ')[1].split()[2] for l in open('/proc/self/mountinfo') if l.split()[4] == '/data'])
out('size', 0, st.f_blocks * st.f_frsize)
`))
		h.Want(t, m, "fill", syscall.ENOSPC)
		if n := atoi(m["fill"].Detail); n < 60<<20 || n > 64<<20 {
			t.Errorf("the 64M tmpfs filled at %d bytes", n)
		}
		if m["fstype"].Detail != "['tmpfs']" || m["size"].Detail != itoa(64<<20) {
			t.Errorf("/data inside: %s, %s bytes; want one 64 MiB tmpfs", m["fstype"].Detail, m["size"].Detail)
		}
		h.Want(t, m, "files", syscall.ENOSPC)
		if k := atoi(m["files"].Detail); k > 4096 || k < 4000 {
			t.Errorf("creating 10,000 files on a 4096-inode tmpfs stopped after %d, want 4000 to 4096", k)
		}
		if f := strings.Fields(m["inodes"].Detail); len(f) != 2 || f[0] != "4096" || f[1] != "0" {
			t.Errorf("/data statvfs f_files f_ffree = %q after the fill, want \"4096 0\"", m["inodes"].Detail)
		}
		if !strings.Contains(m["opts"].Detail, "nr_inodes=4096") {
			t.Errorf("/data super options %s lack nr_inodes=4096", m["opts"].Detail)
		}
		t.Logf("%s/%s: filled at %s bytes; files: %s; inodes (f_files f_ffree): %s; options %s",
			e.R.Name, e.Policy, m["fill"].Detail, m["files"], m["inodes"].Detail, m["opts"].Detail)
		// An inode limit of 0 would be none at all: refused before start.
		res := e.Sh(t, "[[filesystem.tmpfs]]\ndest = \"/data\"\nsize = \"64M\"\nnr_inodes = 0\n", "echo STARTED")
		if res.Code != 125 || strings.Contains(res.Stdout, "STARTED") || !strings.Contains(res.Stderr, "nr_inodes out of range") {
			t.Errorf("tmpfs nr_inodes = 0: want a refusal (exit 125): %s", res)
		}
		// A rw host bind has no quota: explain and run -v say so.
		rw := filepath.Join(e.R.Home, "case59-rw")
		e.R.MkdirAll(t, rw, 0o700)
		prof := e.Profile(t, "[filesystem]\nrw = [\""+rw+"\"]\n")
		want := "filesystem.rw[0]: the app can change host files in " + rw +
			" and can fill the host file system through it; nixbox sets no quota"
		if ex := e.R.Run(t, "", "explain", "--profile", prof, h.Bin(t, "BASH", "bash")); ex.Code != 0 || !strings.Contains(ex.Stdout, "warning:   "+want+"\n") {
			t.Errorf("explain of a rw bind does not warn %q: %s", want, ex)
		}
		if rv := e.RunIn(t, prof, "", "-v", h.Bin(t, "BASH", "bash"), "-c", "true"); !strings.Contains(rv.Stderr, "nixbox: warning: "+want+"\n") {
			t.Errorf("run -v of a rw bind does not warn %q: %s", want, rv)
		}
		// The fill went to the sandbox's own tmpfs (checked inside), so
		// the host lost none of it: other tests and builds write to the
		// same disks meanwhile, so only a loss as large as the fill
		// (64 MiB) would be the sandbox's.
		after := free()
		for p, b := range before {
			if b-after[p] >= 64<<20 {
				t.Errorf("HOST INVARIANT: %s lost %d bytes of free space", p, b-after[p])
			}
		}
	})
}

// TestCase60_CgroupEscape: no cgroup.procs anywhere in the sandbox's file
// system (a walk of /, plus the usual and the /proc/*/root paths to the
// host's); writing one is ENOENT/EACCES; /sys/fs/cgroup is absent;
// mounting cgroupfs is EPERM. Host: /proc/PID/cgroup of the sandbox's
// init and app is the same before and after the attempts.
// Src: runc CVE-2023-25809.
func TestCase60_CgroupEscape(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		paths := []string{"/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/../cgroup.procs", "/sys/fs/cgroup/pids/cgroup.procs",
			"/proc/self/root/sys/fs/cgroup/cgroup.procs", "/proc/1/root/sys/fs/cgroup/cgroup.procs", "/proc/1/cwd/sys/fs/cgroup/pids/cgroup.procs"}
		b := e.R.Start(t, true, pyArgv(t, e.Profile(t, ""), `
print('STARTED', flush=True)
sys.stdin.readline()
found = []
for root, dirs, files in os.walk('/'):
    if root == '/': dirs[:] = [d for d in dirs if d not in ('proc', 'nix')]
    if 'cgroup.procs' in files: found.append(root)
out('found', 0, json.dumps(found))
for p in `+pyList(paths...)+`:
    tryf('write:' + p, lambda p=p: open(p, 'w').write(str(os.getpid())))
tryf('sysfs', os.listdir, '/sys/fs/cgroup')
os.makedirs('/tmp/cg', exist_ok=True)
scf('mount-cgroup2', 165, 'none', '/tmp/cg', 'cgroup2', 0, 0)
scf('mount-cgroup', 165, 'none', '/tmp/cg', 'cgroup', 0, 'pids')
print('DONE', flush=True)
sys.stdin.readline()
`)...)
		b.WaitLine(t, "STARTED", 30*time.Second)
		init := e.R.WaitInstance(t, b.Exited).Pid
		app := appPid(t, init)
		read := func() string {
			x, _ := os.ReadFile("/proc/" + itoa(init) + "/cgroup")
			y, _ := os.ReadFile("/proc/" + itoa(app) + "/cgroup")
			return string(x) + "--\n" + string(y)
		}
		before := read()
		if _, err := b.Stdin.Write([]byte("\n")); err != nil {
			t.Fatal(err)
		}
		b.WaitLine(t, "DONE", 60*time.Second)
		after := read()
		m := h.Lines(t, b.Wait(t))
		if d := m["found"].Detail; d != "[]" {
			t.Errorf("cgroup.procs reachable inside: %s", d)
		}
		for _, p := range paths {
			h.Want(t, m, "write:"+p, syscall.ENOENT, syscall.EACCES)
		}
		h.Want(t, m, "sysfs", syscall.ENOENT)
		h.Want(t, m, "mount-cgroup2", syscall.EPERM)
		h.Want(t, m, "mount-cgroup", syscall.EPERM)
		if before != after || before == "--\n" {
			t.Errorf("HOST INVARIANT: the sandbox's cgroups changed:\n%s\nthen\n%s", before, after)
		}
	})
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
