//go:build integration

package escape

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	h "github.com/nixbox/nixbox/integration/harness"
)

// TestCase46_LeakedFDs: fds 3-9 opened by the harness without CLOEXEC
// (O_PATH of /, the home dir, a canary file, ...) never reach the app:
// its table is exactly 0, 1, 2.
// Src: runc CVE-2024-21626, create.bats, TestFdLeaks; bubblewrap 27eb690.
func TestCase46_LeakedFDs(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		var files []*os.File
		for _, p := range []string{"/", e.R.Home, e.HomeCanaries[0].Path, "/dev/null", "/etc/passwd", "/tmp"} {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			files = append(files, f)
		}
		c := e.R.Cmd(t.Context(), "run", "--profile", e.Profile(t, ""), h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+`
out('fds', 0, json.dumps(sorted(int(x) for x in os.listdir('/proc/self/fd'))))
for fd in range(3, 10):
    tryf('dotdot-%d' % fd, lambda fd=fd: os.open('..', os.O_RDONLY, dir_fd=fd))
`)
		c.ExtraFiles = files
		m := h.Lines(t, e.R.RunCmd(t, c, ""))
		// listdir holds one fd of its own while listing.
		if d := m["fds"].Detail; d != "[0, 1, 2, 3]" && d != "[0, 1, 2]" {
			t.Errorf("app fd table: %s, want 0 1 2", d)
		}
		for fd := 3; fd < 10; fd++ {
			h.Want(t, m, "dotdot-"+itoa(fd), syscall.EBADF)
		}
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
		allowed := map[string]bool{"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "LANG": true, "TERM": true, "TZ": true, "TMPDIR": true, "XDG_RUNTIME_DIR": true, "PWD": true}
		for _, k := range keys {
			if !allowed[k] && !strings.HasPrefix(k, "LC_") {
				t.Errorf("variable %s inside is not on the allowlist", k)
			}
		}
	})
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

// TestCase59_FillDisk: the sandbox's /tmp is a size-limited tmpfs
// (ENOSPC, never the host's disk); the host's /tmp, /dev/shm and home
// free space are unchanged.
// Src: bubblewrap "tmpfs has expected size".
func TestCase59_FillDisk(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		var before syscall.Statfs_t
		_ = syscall.Statfs("/tmp", &before)
		res := e.Sh(t, "[[filesystem.tmpfs]]\ndest = \"/data\"\nsize = \"8M\"\n",
			`head -c 67108864 /dev/zero > /data/fill 2>&1 || echo rc=$?; ls -l /data 2>&1`)
		if !strings.Contains(res.Stdout, "rc=1") || strings.Contains(res.Stdout, "67108864") {
			t.Errorf("filling an 8M tmpfs did not give ENOSPC: %s", res)
		}
		var after syscall.Statfs_t
		_ = syscall.Statfs("/tmp", &after)
		if int64(before.Bfree)-int64(after.Bfree) > 4096 {
			t.Errorf("HOST INVARIANT: host /tmp lost %d blocks", int64(before.Bfree)-int64(after.Bfree))
		}
	})
}

// TestCase60_CgroupEscape: /sys/fs/cgroup is absent, no cgroup.procs is
// reachable, mounting cgroupfs is EPERM; host: the runner sentinel's
// cgroup is unchanged.
// Src: runc CVE-2023-25809.
func TestCase60_CgroupEscape(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		cg := "/proc/" + itoa(e.R.Sentinel.Pid) + "/cgroup"
		before, _ := os.ReadFile(cg)
		m := h.Lines(t, e.Py(t, "", `
tryf('sysfs', os.listdir, '/sys/fs/cgroup')
os.makedirs('/tmp/cg', exist_ok=True)
scf('mount-cgroup2', 165, 'none', '/tmp/cg', 'cgroup2', 0, 0)
scf('mount-cgroup', 165, 'none', '/tmp/cg', 'cgroup', 0, 'pids')
`))
		h.Want(t, m, "sysfs", syscall.ENOENT)
		h.Want(t, m, "mount-cgroup2", syscall.EPERM)
		h.Want(t, m, "mount-cgroup", syscall.EPERM)
		if after, _ := os.ReadFile(cg); string(after) != string(before) {
			t.Errorf("HOST INVARIANT: sentinel cgroup changed")
		}
	})
}
func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
