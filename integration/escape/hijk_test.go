//go:build integration

package escape

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	h "github.com/nixbox/nixbox/integration/harness"
	"golang.org/x/sys/unix"
)

// TestCase41_HostProcesses: given the host pid of a same-uid sentinel,
// kill(P, 0), kill(P, SIGKILL), pidfd_open, /proc/P, ptrace attach and
// process_vm_readv all fail; /proc lists only sandbox pids; host: the
// sentinel is alive (Matrix).
// Src: Flatpak's "no access to processes outside"; bubblewrap --unshare-pid.
func TestCase41_HostProcesses(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		p := e.R.Sentinel.Pid
		m := h.Lines(t, e.Py(t, "", `
P = `+strconv.Itoa(p)+`
scf('kill0', 62, P, 0)
scf('kill9', 62, P, 9)
scf('pidfd_open', 434, P, 0)
tryf('proc', os.stat, '/proc/%d' % P)
scf('ptrace-attach', 101, 16, P, 0, 0)
scf('process_vm_readv', 310, P, 1, 1, 1, 1, 0)
out('pids', 0, json.dumps(sorted(int(x) for x in os.listdir('/proc') if x.isdigit())))
`))
		for _, n := range []string{"kill0", "kill9", "pidfd_open"} {
			h.Want(t, m, n, syscall.ESRCH)
		}
		if p < 2 || true {
			h.Want(t, m, "proc", syscall.ENOENT)
		}
		h.Want(t, m, "ptrace-attach", syscall.EPERM)
		h.Want(t, m, "process_vm_readv", syscall.EPERM)
		var pids []int
		_ = json.Unmarshal([]byte(m["pids"].Detail), &pids)
		if len(pids) > 5 {
			t.Errorf("/proc inside lists %v", pids)
		}
	})
}

// TestCase42_BroadcastSignals: kill(-1, SIGKILL) and kill(0, SIGKILL) in
// the sandbox affect only the sandbox; F_SETOWN to a host pid is ESRCH;
// host: sentinel and harness alive (Matrix).
// Src: runc kill.bats; Landlock LANDLOCK_SCOPE_SIGNAL.
func TestCase42_BroadcastSignals(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
r, w = os.pipe()
try:
    import fcntl
    fcntl.fcntl(r, fcntl.F_SETOWN, `+strconv.Itoa(e.R.Sentinel.Pid)+`)
    out('setown', 0)
except OSError as x:
    out('setown', x.errno)
forked('kill-1', lambda: sc(62, -1, 9))
`))
		h.Want(t, m, "setown", syscall.ESRCH)
		_ = e.Sh(t, "", "kill -9 -1; kill -9 0; echo unreachable")
	})
}

// TestCase43_SiblingSandbox: sandbox A, given sandbox B's host pid, B's
// abstract socket name, a SysV shm key B created, B's /tmp path and B's
// state dir, reaches none of them; B's canary is unchanged.
// Src: Flatpak's "isolating applications from one another".
func TestCase43_SiblingSandbox(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		canary := h.NewCanaryString()
		ready := filepath.Join(e.R.Base, "b-ready")
		e.R.MkdirAll(t, filepath.Join(e.R.Base, "bshare"), 0o700)
		bprof := e.Profile(t, "[[filesystem.bind]]\nsource = \""+filepath.Join(e.R.Base, "bshare")+"\"\ndest = \"/share\"\nmode = \"rw\"\n")
		b := e.R.Cmd(t.Context(), "run", "--profile", bprof, h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+`
s = socket.socket(socket.AF_UNIX); s.bind('\0nbx-sibling'); s.listen(1)
open('/tmp/b-canary', 'w').write('`+canary+`')
libc.shmget(0x4e425802, 4096, 0o1666)
open('/share/ready', 'w').write(str(os.getpid()))
import time; time.sleep(30)
`)
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Process.Kill(); _ = b.Wait() }()
		rd := filepath.Join(e.R.Base, "bshare", "ready")
		for i := 0; i < 200; i++ {
			if _, err := os.Stat(rd); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = ready
		bpid := strconv.Itoa(b.Process.Pid)
		m := h.Lines(t, e.Py(t, "", `
scf('kill', 62, `+bpid+`, 0)
def c():
    s = socket.socket(socket.AF_UNIX); s.connect('\0nbx-sibling')
tryf('abstract', c)
libc.shmget.restype = ctypes.c_int
ctypes.set_errno(0)
r = libc.shmget(0x4e425802, 0, 0)
out('shm', 0 if r >= 0 else ctypes.get_errno())
tryf('btmp', lambda: open('/proc/`+bpid+`/root/tmp/b-canary').read())
tryf('bstate', os.listdir, `+strconv.Quote(filepath.Join(e.R.Base, "bshare"))+`)
`))
		h.Want(t, m, "kill", syscall.ESRCH)
		h.Want(t, m, "abstract", syscall.ECONNREFUSED, syscall.ENOENT)
		h.Want(t, m, "shm", syscall.ENOENT)
		h.Want(t, m, "btmp", syscall.ENOENT)
		h.Want(t, m, "bstate", syscall.ENOENT)
		e.NoCanaryIn(t, "A's output", mustJSON(m))
		if strings.Contains(mustJSON(m), canary) {
			t.Errorf("B's canary leaked into A")
		}
	})
}

// TestCase45_OutliveSandbox: a double-forked setsid sleep dies with the
// sandbox within 2 s, both when the app exits and when nixbox is
// SIGKILLed. In the SIGKILL run the profile has a limit, so the sandbox
// has a cgroup of its own: its cgroup.procs is empty at once, and the
// next run removes it (nixbox, killed, cannot).
// Src: bubblewrap "die with parent"; runc kill.bats.
func TestCase45_OutliveSandbox(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		e.R.Delegate(t)
		for _, kill := range []bool{false, true} {
			marker := strconv.Itoa(700000 + int(time.Now().UnixNano()%99999))
			sleep := h.Bin(t, "COREUTILS", "sleep")
			// Double fork and setsid (coreutils here has no setsid(1)).
			script := `
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(` + strconv.Quote(sleep) + `, [` + strconv.Quote(sleep) + `, '` + marker + `'])
    os._exit(0)
os.wait()
`
			body := ""
			if kill {
				script += "print('STARTED', flush=True)\nimport time; time.sleep(30)\n"
				body = "[limits]\npids = 64\n"
			}
			b := e.R.Start(t, false, pyArgv(t, e.Profile(t, body), script)...)
			var dirs map[string]string
			if kill {
				b.WaitLine(t, "STARTED", 30*time.Second)
				dirs = h.CgroupOf(t, e.R.WaitInstance(t, b.Exited).Pid)
				deadline := time.Now().Add(20 * time.Second)
				for len(h.PidsWith(sleep+" "+marker)) == 0 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if len(h.PidsWith(sleep+" "+marker)) == 0 {
					t.Fatalf("the double-forked sleep never ran: the case would prove nothing")
				}
				_ = b.Cmd.Process.Signal(syscall.SIGKILL)
			}
			t0 := time.Now()
			_ = b.Wait(t)
			t.Logf("kill=%v: nixbox and its output ended %v after the kill/exit", kill, time.Since(t0).Round(time.Millisecond))
			deadline := time.Now().Add(2 * time.Second)
			for len(h.PidsWith(sleep+" "+marker)) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if left := h.PidsWith(sleep + " " + marker); len(left) > 0 {
				t.Errorf("sandbox process outlived the sandbox (nixbox killed: %v): %v", kill, left)
				for _, p := range left {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
			if kill {
				// nixbox-init kills the sandbox when nixbox dies: its
				// cgroup is empty (§4: "cgroup.procs is empty or gone"),
				// and the next run removes the dead run's state and
				// cgroup (sandbox.GC).
				// A process the host's slow reaper has not collected yet
				// (state Z, host-facts §1) is dead; §4 allows 2 s.
				live := func() []string {
					var out []string
					for _, d := range h.CgroupsLeft(t, dirs) {
						b, _ := os.ReadFile(d + "/cgroup.procs")
						for _, pid := range strings.Fields(string(b)) {
							st, err := os.ReadFile("/proc/" + pid + "/stat")
							if i := strings.LastIndexByte(string(st), ')'); err == nil && i > 0 && len(st) > i+2 && st[i+2] != 'Z' {
								out = append(out, d+": "+pid)
							}
						}
					}
					return out
				}
				deadline := time.Now().Add(2 * time.Second)
				for len(live()) > 0 && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				for _, l := range live() {
					t.Errorf("HOST: a live process is still in the sandbox's cgroup 2 s after nixbox was killed: %s", l)
				}
				if res := e.Sh(t, "", "true"); res.Code != 0 {
					t.Errorf("next run: %s", res)
				}
				h.CgroupsGone(t, dirs)
			}
		}
	})
}

// TestCase52_NetworkOff: only lo; connect(1.1.1.1:53) fails; the host
// loopback listener is unreachable and accepts nothing; DNS fails. Other
// network-on backends (pasta/slirp) do not exist yet: refused-feature.
// Src: bubblewrap --unshare-net; Flatpak's namespace tests.
func TestCase52_NetworkOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := h.Accepted(ln, 16)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
out('netns', 0, os.readlink('/proc/self/ns/net'))
out('ifaces', 0, json.dumps([n for _, n in socket.if_nameindex()]))
def c(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(3); s.connect(addr)
tryf('connect-1.1.1.1', c, ('1.1.1.1', 53))
tryf('connect-loopback', c, ('127.0.0.1', `+port+`))
try:
    socket.getaddrinfo('example.com', 80); out('dns', 0)
except OSError as x:
    out('dns', x.errno or -5)
`))
		if host, err := os.Readlink("/proc/self/ns/net"); err != nil || m["netns"].Detail == host || m["netns"].Detail == "" {
			t.Errorf("HOST: the sandbox's network namespace %q is the host's (%q)", m["netns"].Detail, host)
		}
		if d := m["ifaces"].Detail; d != `["lo"]` && d != "[]" {
			t.Errorf("interfaces inside: %s", d)
		}
		h.NotSuccess(t, m, "connect-1.1.1.1")
		h.NotSuccess(t, m, "connect-loopback")
		h.NotSuccess(t, m, "dns")
		select {
		case <-accepted:
			t.Errorf("HOST INVARIANT: the host loopback listener accepted a connection")
		default:
		}
	})
}

// TestCase53_AbstractSockets: a host abstract socket @nbx-canary-<rand>
// and the abstract X11 address are ECONNREFUSED with network off. With
// network = "host" the abstract namespace is shared, so the case flags it
// as an X11/D-Bus exposure: a profile with mode = "host" and no
// network.unsafe is refused (125, one located error line, nothing
// started); with the acknowledgement the sharing is real (the canary
// answers) and `nixbox explain` warns, quoting the reason.
// Src: CVE-2024-27297; Landlock LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET; runc ToRootless.
func TestCase53_AbstractSockets(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		// A canary per cell: the cells run in parallel, and each counts
		// the connections its own sandboxes make.
		name, accepted := listenAbstract(t)
		m := h.Lines(t, e.Py(t, "", `
for n in ['`+name+`', '/tmp/.X11-unix/X0', '/tmp/dbus-nbx']:
    def c(n=n):
        s = socket.socket(socket.AF_UNIX); s.connect('\0' + n)
    tryf(n, c)
`))
		h.Want(t, m, name, syscall.ECONNREFUSED)
		h.Want(t, m, "/tmp/.X11-unix/X0", syscall.ECONNREFUSED)

		connect := []string{h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude + `
print('STARTED', flush=True)
def c():
    s = socket.socket(socket.AF_UNIX); s.connect('\0` + name + `')
tryf('host-mode', c)
`}
		// Host mode without an acknowledgement: refused before anything
		// starts (the app would print STARTED and reach the canary).
		bare := e.Profile(t, "[network]\nmode = \"host\"\n")
		before := accepted.Load()
		res := e.RunIn(t, bare, "", connect...)
		lines := strings.Split(strings.TrimSuffix(res.Stderr, "\n"), "\n")
		locate := regexp.MustCompile("^nixbox: error: " + regexp.QuoteMeta(bare) + `:[0-9]+:[0-9]+: network\.mode: network mode "host" needs network\.unsafe`)
		switch {
		case res.Code != 125 || strings.Contains(res.Stdout, "STARTED"):
			t.Errorf("network = host without unsafe: want a refusal (125) before the app starts: %s", res)
		case len(lines) != 2 || !locate.MatchString(lines[0]) || !strings.Contains(lines[1], `unsafe = "<reason>"`):
			t.Errorf("network = host without unsafe: want one located network.mode error and the unsafe hint: %q", res.Stderr)
		}
		if n := accepted.Load(); n != before {
			t.Errorf("HOST INVARIANT: the refused profile reached the canary socket (%d connections)", n-before)
		}

		// With the acknowledgement the abstract namespace is shared, and
		// nixbox flags it as an X11/D-Bus exposure.
		prof := e.Profile(t, "[network]\nmode = \"host\"\nunsafe = \"case 53 checks the exposure\"\n")
		res = e.RunIn(t, prof, "", connect...)
		h.Want(t, h.Lines(t, res), "host-mode", 0)
		ex := e.R.Run(t, "", "explain", "--profile", prof, h.Bin(t, "BASH", "bash"))
		if !strings.Contains(ex.Stdout, "abstract unix sockets (X11, D-Bus) (unsafe acknowledged: case 53 checks the exposure)") {
			t.Errorf("network = host is not flagged as an X11/D-Bus exposure by explain: %s", ex)
		}
	})
}

// listenAbstract listens on a fresh abstract socket @nbx-canary-<rand>
// and counts the connections it accepts.
func listenAbstract(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	name := "nbx-canary-" + h.NewCanaryString()[11:]
	ln, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return name, accepted
}

// listenStandIn listens on a unix socket at p (a stand-in for a host
// service) and counts connections from sandboxed processes: a peer (by
// SO_PEERCRED) in a pid namespace other than the host's. Host processes
// may connect to a stand-in at a real system path (it is the host's
// service as far as they know); those are logged, not counted.
func listenStandIn(t *testing.T, p string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatalf("stand-in %s: %v", p, err)
	}
	_ = os.Chmod(p, 0o777)
	t.Cleanup(func() { ln.Close(); _ = os.Remove(p) })
	hostNS, _ := os.Readlink("/proc/self/ns/pid")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			pid := -1
			if rc, err := c.(*net.UnixConn).SyscallConn(); err == nil {
				_ = rc.Control(func(fd uintptr) {
					if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
						pid = int(cred.Pid)
					}
				})
			}
			ns, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
			comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
			if pid > 0 && ns == hostNS {
				// (not t.Logf: this goroutine may outlive the test)
				fmt.Fprintf(os.Stderr, "case 54: a host process (pid %d, %s) connected to the stand-in %s\n", pid, strings.TrimSpace(string(comm)), p)
			} else {
				fmt.Fprintf(os.Stderr, "case 54: a sandboxed process (pid %d, %s, %s) connected to %s\n", pid, strings.TrimSpace(string(comm)), ns, p)
				accepted.Add(1)
			}
			c.Close()
		}
	}()
}

// TestCase54_HostIPCSockets: stand-in listeners for the session's
// sockets in the runner's XDG_RUNTIME_DIR (bus, wayland-0, pipewire-0,
// pulse/native, systemd/private, gnupg/S.gpg-agent, ssh-agent.sock,
// keyring/control, at-spi/bus, podman/podman.sock) and, where absent on
// this Debian host (no desktop, no D-Bus, no Docker), for the system bus,
// docker.sock and the X11 socket X0 (created for the test, removed after):
// every one is ENOENT inside and accepts nothing. /run/nscd/socket is only
// probed (a stand-in would capture the host's own name lookups). The
// filtered-bus half is a refused feature: nixbox offers no D-Bus proxy, so
// a [dbus] table (and display sockets) is refused with "not supported
// yet"; no transient unit can be started.
// Src: Firejail's terminal-emulator escape list; Flatpak docs; GHSA-4ppf-fxf6-vxg2.
func TestCase54_HostIPCSockets(t *testing.T) {
	var accepted atomic.Int64
	var system []string
	if os.Getuid() == 0 {
		for _, p := range []string{"/run/dbus/system_bus_socket", "/run/docker.sock", "/tmp/.X11-unix/X0"} {
			if _, err := os.Lstat(p); err == nil {
				system = append(system, p) // a real one: probed, never replaced
				continue
			}
			dir := filepath.Dir(p)
			if _, err := os.Lstat(dir); err != nil {
				if err := os.Mkdir(dir, 0o1777); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.Remove(dir) })
			}
			listenStandIn(t, p, &accepted)
			system = append(system, p)
		}
	}
	system = append(system, "/run/nscd/socket", "/var/run/docker.sock")
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		xrd := filepath.Join(e.R.Base, "xdg")
		e.R.MkdirAll(t, xrd, 0o700)
		var paths []string
		for _, rel := range []string{"bus", "wayland-0", "pipewire-0", "pulse/native", "systemd/private",
			"gnupg/S.gpg-agent", "ssh-agent.sock", "keyring/control", "at-spi/bus", "podman/podman.sock"} {
			p := filepath.Join(xrd, rel)
			e.R.MkdirAll(t, filepath.Dir(p), 0o700)
			listenStandIn(t, p, &accepted)
			paths = append(paths, p)
		}
		paths = append(paths, system...)
		c := e.R.Cmd(t.Context(), pyArgv(t, e.Profile(t, ""), `
for p in `+pyList(paths...)+`:
    def c(p=p):
        s = socket.socket(socket.AF_UNIX); s.connect(p)
    tryf(p, c)
out('xdg', 0, os.environ.get('XDG_RUNTIME_DIR', ''))
`)...)
		c.Env = append(c.Env, "XDG_RUNTIME_DIR="+xrd, "DBUS_SESSION_BUS_ADDRESS=unix:path="+xrd+"/bus", "WAYLAND_DISPLAY=wayland-0")
		m := h.Lines(t, e.R.RunCmd(t, c, ""))
		for _, p := range paths {
			h.Want(t, m, p, syscall.ENOENT)
		}
		if d := m["xdg"].Detail; d == xrd {
			t.Errorf("the host's XDG_RUNTIME_DIR reached the app")
		}
		if n := accepted.Load(); n != 0 {
			t.Errorf("HOST INVARIANT: the stand-in sockets accepted %d connections", n)
		}
		for _, body := range []string{"[dbus]\ntalk = [\"org.freedesktop.portal.Desktop\"]\n", "[sockets]\nwayland = true\n", "[sockets]\nx11 = true\n"} {
			res := e.Sh(t, body, "echo STARTED")
			if res.Code != 125 || !strings.Contains(res.Stderr, "not supported yet") || strings.Contains(res.Stdout, "STARTED") {
				t.Errorf("%q: want refusal (125, not supported yet): %s", body, res)
			}
		}
	})
}

// TestCase55_SysVIPC: a host SysV shm segment (key 0x4e425801, 0666) is
// ENOENT inside; a host POSIX message queue /nbx-canary is ENOENT
// (mq_open); /dev/shm is private and empty.
// Src: the IPC namespace (bubblewrap --unshare-ipc; Flatpak --share=ipc).
func TestCase55_SysVIPC(t *testing.T) {
	id, _, errno := syscall.Syscall(syscall.SYS_SHMGET, 0x4e425801, 4096, 0o1666)
	if errno != 0 {
		t.Fatalf("host shmget: %v", errno)
	}
	t.Cleanup(func() { _, _, _ = syscall.Syscall(syscall.SYS_SHMCTL, id, 0, 0) })
	mq, _ := syscall.BytePtrFromString("nbx-canary")
	if fd, _, errno := syscall.Syscall6(syscall.SYS_MQ_OPEN, uintptr(unsafe.Pointer(mq)), syscall.O_CREAT|syscall.O_RDWR, 0o666, 0, 0, 0); errno != 0 {
		t.Fatalf("host mq_open: %v", errno)
	} else {
		syscall.Close(int(fd))
	}
	t.Cleanup(func() { _, _, _ = syscall.Syscall(syscall.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(mq)), 0, 0) })
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
libc.mq_open.restype = ctypes.c_int
ctypes.set_errno(0)
q = libc.mq_open(b'/nbx-canary', 0)
out('mq_open', 0 if q >= 0 else ctypes.get_errno())
libc.shmget.restype = ctypes.c_int
ctypes.set_errno(0)
r = libc.shmget(0x4e425801, 0, 0)
out('shmget', 0 if r >= 0 else ctypes.get_errno())
out('devshm', 0, json.dumps(os.listdir('/dev/shm')))
`))
		h.Want(t, m, "shmget", syscall.ENOENT)
		h.Want(t, m, "mq_open", syscall.ENOENT)
		if d := m["devshm"].Detail; d != "[]" {
			t.Errorf("/dev/shm inside: %s", d)
		}
	})
}
