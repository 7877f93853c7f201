//go:build integration

package escape

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
)

// TestCase15_NixDaemon: the daemon socket path (a stand-in socket the
// harness listens on under the fake root, plus the real path) is ENOENT
// inside, also via NIX_REMOTE/NIX_DAEMON_SOCKET_PATH set on the host;
// NIX_REMOTE, NIX_PATH and NIX_CONF_DIR are unset inside; the stand-in
// listener accepts nothing.
// Src: CVE-2024-27297, CVE-2026-39860, agent-sandbox.nix #65, the Nix manual on trusted-users.
func TestCase15_NixDaemon(t *testing.T) {
	sock := filepath.Join(h.FakeRoot, "nix-daemon-"+strconv.Itoa(os.Getpid())+".socket")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_ = os.Chmod(sock, 0o777)
	accepted := h.Accepted(ln, 64)
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		c := e.R.Cmd(t.Context(), "run", "--profile", e.Profile(t, ""), h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+`
for p in ['/nix/var/nix/daemon-socket/socket', `+strconv.Quote(sock)+`, os.environ.get('NIX_DAEMON_SOCKET_PATH', '/none')]:
    def c(p=p):
        s = socket.socket(socket.AF_UNIX); s.connect(p)
    tryf('connect:' + p, c)
out('env', 0, json.dumps({k: v for k, v in os.environ.items() if k.startswith('NIX')}))
`)
		c.Env = append(c.Env, "NIX_REMOTE=unix://"+sock, "NIX_DAEMON_SOCKET_PATH="+sock, "NIX_PATH=nixpkgs=/x", "NIX_CONF_DIR=/etc/nix")
		res := e.R.RunCmd(t, c, "")
		m := h.Lines(t, res)
		h.Want(t, m, "connect:/nix/var/nix/daemon-socket/socket", syscall.ENOENT)
		h.Want(t, m, "connect:"+sock, syscall.ENOENT)
		if d := m["env"].Detail; d != "{}" {
			t.Errorf("Nix variables inside: %s", d)
		}
		select {
		case <-accepted:
			t.Errorf("HOST INVARIANT: the daemon stand-in accepted a connection from the sandbox")
		default:
		}
	})
}

// TestCase16_SystemConfig: /run/current-system, /run/booted-system,
// /etc/static, /etc/nixos, /nix/var/nix/profiles/system, ~/.nix-profile and
// /etc/profiles/per-user are ENOENT; /etc/passwd holds only the user and
// nobody; /etc entries are regular files, not store symlinks.
// Src: Flatpak's passwd/group synthesis; NixOS /etc layout.
func TestCase16_SystemConfig(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		paths := []string{"/run/current-system", "/run/booted-system", "/etc/static", "/etc/nixos",
			"/nix/var/nix/profiles/system", e.R.Home + "/.nix-profile", "/etc/profiles/per-user"}
		m := h.Lines(t, e.Py(t, "", `
import stat
for p in `+pyList(paths...)+`:
    tryf(p, os.lstat, p)
out('passwd', 0, open('/etc/passwd').read())
bad = [n for n in os.listdir('/etc') if not stat.S_ISREG(os.lstat('/etc/' + n).st_mode)]
out('etc-nonregular', 0, json.dumps(bad))
`))
		for _, p := range paths {
			h.Want(t, m, p, syscall.ENOENT)
		}
		var users []string
		for _, l := range strings.Split(strings.TrimSpace(m["passwd"].Detail), "\n") {
			users = append(users, strings.SplitN(l, ":", 2)[0])
		}
		if len(users) != 2 || users[1] != "nobody" {
			t.Errorf("/etc/passwd inside: %q", m["passwd"].Detail)
		}
		if d := m["etc-nonregular"].Detail; d != "[]" {
			t.Errorf("/etc entries that are not regular files: %s", d)
		}
	})
}

// TestCase17_SetuidNoNewPrivs: /run/wrappers/bin/sudo is ENOENT and PATH
// has no /run/wrappers; a root-owned mode-4755 binary (stand-in: a copy
// of the probe made setuid root on the host and bound with the unsafe
// bind) runs without privilege: NoNewPrivs 1, CapEff 0, euid == uid,
// and the bind is nosuid. A capability wrapper stand-in (a copy with file
// capabilities cap_net_raw,cap_sys_admin+ep, as ping has) gains nothing:
// CapEff and CapPrm 0, a raw socket refused.
// Src: Docker TestRunNoNewPrivSetuid; bubblewrap sets NNP always; Firejail CVE-2022-31214.
func TestCase17_SetuidNoNewPrivs(t *testing.T) {
	if os.Getuid() != 0 {
		h.SkipOrFail(t, "making a root-owned setuid stand-in needs root")
	}
	dir, err := os.MkdirTemp(h.WorkDir, "suid-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	suid := filepath.Join(dir, "python3-suid")
	// The setuid stand-in: python3's ELF from the closure (its loader and
	// libs are in the closure); it reports its own credentials.
	if err := h.CopyFile(h.Bin(t, "PYTHON3", "python3"), suid, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o4755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	// The capability wrapper stand-in (ping's cap_net_raw): a copy with
	// file capabilities.
	capBin := filepath.Join(dir, "python3-cap")
	if err := h.CopyFile(h.Bin(t, "PYTHON3", "python3"), capBin, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("setcap", "cap_net_raw,cap_sys_admin+ep", capBin).CombinedOutput(); err != nil {
		h.SkipOrFail(t, "setcap (libcap2-bin) on the stand-in: %v %s", err, out)
	}
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		prof := e.Profile(t, "[[filesystem.bind]]\nsource = \""+dir+"\"\ndest = \"/suid\"\nunsafe = \"escape case 17: setuid stand-in\"\n")
		// APP must be a store path: bash execs the stand-in (its stdlib
		// found through PYTHONHOME, as it runs outside its store path).
		res := e.RunIn(t, prof, "", h.Bin(t, "BASH", "bash"), "-c", `PYTHONHOME=$0 exec "$@"`, h.Fixture(t, "PYTHON3"), "/suid/python3-suid", "-c", `
import os
st = open('/proc/self/status').read()
f = {l.split(':')[0]: l.split(':', 1)[1].strip() for l in st.splitlines() if ':' in l}
mi = [l for l in open('/proc/self/mountinfo') if ' /suid ' in l]
print(os.getuid(), os.geteuid(), f['CapEff'], f['NoNewPrivs'], 'nosuid' in (mi[0] if mi else ''), os.path.exists('/run/wrappers/bin/sudo'), '/run/wrappers' in os.environ.get('PATH', ''))
`)
		want := strconv.Itoa(e.R.UID) + " " + strconv.Itoa(e.R.UID) + " 0000000000000000 1 True False False"
		if strings.TrimSpace(res.Stdout) != want {
			t.Errorf("setuid stand-in inside: got %q, want %q: %s", strings.TrimSpace(res.Stdout), want, res.Stderr)
		}
		res = e.RunIn(t, prof, "", h.Bin(t, "BASH", "bash"), "-c", `PYTHONHOME=$0 exec "$@"`, h.Fixture(t, "PYTHON3"), "/suid/python3-cap", "-c", `
import os, socket
st = open('/proc/self/status').read()
f = {l.split(':')[0]: l.split(':', 1)[1].strip() for l in st.splitlines() if ':' in l}
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, 1); raw = 'raw-ok'
except OSError as x:
    raw = 'raw-errno-%d' % x.errno
print(f['CapEff'], f['CapPrm'], raw)
`)
		// A raw socket is refused (EPERM without the capability, or the
		// filter's EAFNOSUPPORT, as in case 39).
		if got := strings.TrimSpace(res.Stdout); got != "0000000000000000 0000000000000000 raw-errno-1" &&
			got != "0000000000000000 0000000000000000 raw-errno-97" {
			t.Errorf("capability wrapper stand-in inside: got %q, want no capabilities and EPERM for a raw socket: %s", got, res)
		}
	})
}

// TestCase18_TIOCSTI: on a pty given to nixbox as its terminal, the app's
// TIOCSTI on fd 0 and ioctl(-1, TIOCSTI) are EPERM; the app is in a new
// session; nothing is injected (a non-blocking read on the harness side
// finds no pushed input) and no host marker appears.
// Src: CVE-2017-5226; bubblewrap --new-session; runc's setsid(); Flatpak test-seccomp.sh.
func TestCase18_TIOCSTI(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		master, slave := openPTY(t)
		marker := filepath.Join(e.R.Base, "nbx-pwned")
		c := e.R.Cmd(t.Context(), "run", "--profile", e.Profile(t, ""), h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+`
import fcntl, termios
def sti():
    for ch in b'touch `+marker+`\n':
        fcntl.ioctl(0, termios.TIOCSTI, bytes([ch]))
    return 0
forked('tiocsti-fd0', sti)
scf('tiocsti-bad', 16, -1, 0x5412, 1)
out('sid', 0, '%d %d' % (os.getsid(0), os.getpid()))
`)
		c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
		attr := e.R.Cred()
		if attr == nil {
			attr = &syscall.SysProcAttr{}
		}
		attr.Setsid, attr.Setctty = true, true
		c.SysProcAttr = attr
		out := make(chan string)
		go func() {
			var b []byte
			buf := make([]byte, 4096)
			for {
				n, err := master.Read(buf)
				b = append(b, buf[:n]...)
				if err != nil {
					break
				}
			}
			out <- string(b)
		}()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		_ = c.Wait()
		slave.Close()
		var text string
		select {
		case text = <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("pty output did not end")
		}
		m := h.Lines(t, h.Result{Stdout: strings.ReplaceAll(text, "\r", "")})
		h.Want(t, m, "tiocsti-fd0", syscall.EPERM)
		h.Want(t, m, "tiocsti-bad", syscall.EPERM)
		if _, err := os.Lstat(marker); err == nil {
			t.Errorf("HOST INVARIANT: the injected command ran")
		}
		if strings.Contains(text, "touch "+marker) && !strings.Contains(text, "b'touch") {
			t.Logf("pty output: %q", text)
		}
	})
}

// TestCase19_TIOCSTIHighBits: ioctl(-1, (0x123<<32)|TIOCSTI) is EPERM,
// and the rendered OCI rule uses a masked 32-bit compare.
// Src: CVE-2019-10063; bubblewrap/Flatpak try-syscall.c.
func TestCase19_TIOCSTIHighBits(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		probeRun(t, e, ePERM, "ioctl-tiocsti-hi")
		res := e.R.Run(t, "", "seccomp", "export", e.Profile(t, ""), "--format", "oci")
		if res.Code != 0 || !strings.Contains(res.Stdout, "SCMP_CMP_MASKED_EQ") || !strings.Contains(res.Stdout, "4294967295") {
			t.Errorf("OCI export lacks a masked 32-bit compare for ioctl: exit %d, %.300s", res.Code, res.Stderr)
		}
	})
}

// TestCase20_TIOCLINUX: ioctl(-1, TIOCLINUX) (and with high bits) is EPERM.
// Src: CVE-2023-28100.
func TestCase20_TIOCLINUX(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) { probeRun(t, e, ePERM, "ioctl-tioclinux", "ioctl-tioclinux-hi") })
}

// TestCase39_Capabilities: in every thread CapInh/Prm/Eff/Bnd/Amb = 0,
// NoNewPrivs 1, Seccomp 2; uid_map is one line mapping the uid, setgroups
// is deny; setuid(0), sethostname, raw sockets, chown and capset fail.
// Src: bubblewrap "we have no caps"; Docker TestUserNoEffectiveCapabilities; runc capabilities.bats; CVE-2022-29162.
func TestCase39_Capabilities(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
import threading
ev = threading.Event(); th = threading.Thread(target=ev.wait); th.start()
bad = []
for tid in os.listdir('/proc/self/task'):
    f = {l.split(':')[0]: l.split(':', 1)[1].strip() for l in open('/proc/self/task/%s/status' % tid) if ':' in l}
    for k in ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']:
        if int(f[k], 16) != 0: bad.append('%s %s=%s' % (tid, k, f[k]))
    if f['NoNewPrivs'] != '1' or f['Seccomp'] != '2' or int(f.get('Seccomp_filters', '0')) < 1: bad.append(tid + ' nnp/seccomp')
ev.set(); th.join()
out('threads', 0, json.dumps(bad))
out('uid_map', 0, open('/proc/self/uid_map').read())
out('setgroups', 0, open('/proc/self/setgroups').read().strip())
scf('setuid0', 105, 0)
scf('setuid-other', 105, 12345)
scf('sethostname', 170, 'x', 1)
scf('raw-socket', 41, 2, 3, 1)
open('/tmp/f', 'w').close()
scf('chown', 92, '/tmp/f', 12345, 12345)
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)(0xffffffff, 0xffffffff, 0, 0, 0, 0)
scf('capset', 126, ctypes.addressof(hdr), ctypes.addressof(data))
`))
		if d := m["threads"].Detail; d != "[]" {
			t.Errorf("capability/nnp/seccomp state: %s", d)
		}
		f := strings.Fields(m["uid_map"].Detail)
		if len(f) != 3 || f[0] != strconv.Itoa(e.R.UID) || f[2] != "1" || strings.Count(m["uid_map"].Detail, "\n") != 1 {
			t.Errorf("uid_map = %q, want one line mapping uid %d", m["uid_map"].Detail, e.R.UID)
		}
		if m["setgroups"].Detail != "deny" {
			t.Errorf("setgroups = %q", m["setgroups"].Detail)
		}
		if !e.Root {
			h.Want(t, m, "setuid0", syscall.EPERM, syscall.EINVAL)
		}
		h.Want(t, m, "setuid-other", syscall.EPERM, syscall.EINVAL)
		h.Want(t, m, "sethostname", syscall.EPERM)
		h.Want(t, m, "raw-socket", syscall.EPERM, syscall.EAFNOSUPPORT)
		h.Want(t, m, "chown", syscall.EPERM, syscall.EINVAL)
		h.Want(t, m, "capset", syscall.EPERM)
	})
}

// TestCase40_SupplementaryGroups: groups inside are the user's own gid or
// 65534 (overflow); docker, podman, libvirt sockets, /dev/kvm and
// /dev/input are ENOENT.
// Src: kernel userns semantics (setgroups deny).
func TestCase40_SupplementaryGroups(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		paths := []string{"/dev/kvm", "/dev/input", "/var/run/docker.sock", "/run/podman/podman.sock", "/run/libvirt/libvirt-sock"}
		m := h.Lines(t, e.Py(t, "", `
out('groups', 0, json.dumps(os.getgroups()))
for p in `+pyList(paths...)+`:
    tryf(p, os.stat, p)
`))
		var gs []int
		_ = json.Unmarshal([]byte(m["groups"].Detail), &gs)
		for _, g := range gs {
			if g != e.R.GID && g != 65534 {
				t.Errorf("group %d visible inside (groups %v)", g, gs)
			}
		}
		for _, p := range paths {
			h.Want(t, m, p, syscall.ENOENT)
		}
	})
}

var _ = exec.Command
