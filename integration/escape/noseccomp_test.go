//go:build integration

package escape

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
)

// The defense-in-depth halves of cases 21, 27 and 33 (security suite §3):
// the same attacks in sandboxes of the no-seccomp test build (nixbox built
// with the nixbox_testing tag, profile policy "testing-allow-all": a filter
// is loaded, Seccomp: 2, but it allows every call). What stops them here is
// the other layer: no capabilities, a fresh session keyring, the kernel's
// user-namespace limit. They run once per identity (h.NoSeccomp).

// pyNoFilter guards the python cases of this file: the filter loaded must
// be the allow-all one, else the half would be tested against seccomp
// again. mount(2) of nothing is EPERM under strict and compat, but EFAULT
// (bad pointers) when only the kernel decides.
const pyNoFilter = `
if sc(165, 1, 1, 1, 0, 0) != errno.EFAULT:
    sys.stderr.write('a seccomp filter that blocks mount is loaded: not the no-seccomp build\n'); sys.exit(98)
`

// testCase21NoSeccomp: §3 expects that without seccomp, creating a user
// namespace still fails (ENOSPC/EPERM) because user.max_user_namespaces is
// exhausted inside and cannot be raised. nixbox-init's stage 2 sets it to
// 0 in the app's own user namespace, before it drops its capabilities
// (cmd/nixbox-init/sysctl.go; issue 4): the sysctl reads 0 inside, and
// unshare(CLONE_NEWUSER) and clone(CLONE_NEWUSER) fail with ENOSPC (the
// kernel checks the limit of every ancestor of the new namespace). The app
// cannot raise it: /proc/sys is read-only and it holds no
// CAP_SYS_RESOURCE in its namespace. Only seccomp.allow_userns lifts the
// cap (integration TestSeccompKnobs/allow_userns).
func testCase21NoSeccomp(t *testing.T) {
	h.NoSeccomp(t, func(t *testing.T, e *h.Env) {
		res := e.Py(t, "", pyNoFilter+`
scf('unshare-newuser', 272, 0x10000000)
def clone_newuser():
    r = libc.syscall(ctypes.c_long(56), ctypes.c_long(0x10000000 | 17), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
    if r == 0: os._exit(0)
    if r < 0: return ctypes.get_errno()
    os.waitpid(r, 0); return 0
forked('clone-newuser', clone_newuser)
def w():
    open('/proc/sys/user/max_user_namespaces', 'w').write('100000\n'); return 0
forked('sysctl-write', w)
tryf('max_user_namespaces', lambda: open('/proc/sys/user/max_user_namespaces').read().strip())
`)
		m := h.Lines(t, res)
		h.Want(t, m, "sysctl-write", syscall.EROFS, syscall.EACCES, syscall.EPERM)
		h.Want(t, m, "unshare-newuser", syscall.ENOSPC, syscall.EPERM)
		h.Want(t, m, "clone-newuser", syscall.ENOSPC, syscall.EPERM)
		if l := m["max_user_namespaces"]; l.Errno != 0 || l.Detail != "'0'" {
			t.Errorf("user.max_user_namespaces inside: got %s, want 0 (exhausted: no nested user namespace)", l)
		}
	})
}

// testCase27NoSeccomp: a key the host added to its session keyring (@s)
// just before launching nixbox is not in the sandbox's session keyring,
// nor readable by its serial, nor listed in /proc/keys.
// The host side is the fixture python3 run as the runner: it joins a new
// session keyring, adds a "user" key to it and execs nixbox, so nixbox
// starts with that @s (the control: the key is in @s on the host).
func testCase27NoSeccomp(t *testing.T) {
	h.NoSeccomp(t, func(t *testing.T, e *h.Env) {
		desc := "nbx-canary-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		py := h.Bin(t, "PYTHON3", "python3")
		inner := h.PyPrelude + pyNoFilter + `
desc = sys.argv[1].encode()
buf = ctypes.create_string_buffer(4096)
ctypes.set_errno(0)
n = libc.syscall(ctypes.c_long(250), ctypes.c_long(11), ctypes.c_long(-3), buf, ctypes.c_long(4096))
ids = [struct.unpack_from('i', buf.raw, i)[0] for i in range(0, min(max(n, 0), 4096), 4)]
out('session-ids', 0 if n >= 0 else ctypes.get_errno(), ' '.join(map(str, ids)))
ctypes.set_errno(0)
r = libc.syscall(ctypes.c_long(250), ctypes.c_long(10), ctypes.c_long(-3), ctypes.c_char_p(b'user'), ctypes.c_char_p(desc), ctypes.c_long(0))
out('search-session', 0 if r >= 0 else ctypes.get_errno(), r)
b = ctypes.create_string_buffer(256)
ctypes.set_errno(0)
r = libc.syscall(ctypes.c_long(250), ctypes.c_long(11), ctypes.c_long(int(sys.argv[2])), b, ctypes.c_long(256))
out('read-host-key', 0 if r >= 0 else ctypes.get_errno(), b.raw[:max(r, 0)])
tryf('proc-keys', lambda: open('/proc/keys').read())
`
		// KEYCTL_JOIN_SESSION_KEYRING(NULL) = a new anonymous session;
		// add_key("user", desc, ..., KEY_SPEC_SESSION_KEYRING); then the
		// control: KEYCTL_SEARCH finds it in @s on the host.
		host := `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True); libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
if libc.syscall(L(250), L(1), None) < 0: sys.exit('join session: errno %d' % ctypes.get_errno())
desc = sys.argv[1].encode()
k = libc.syscall(L(248), ctypes.c_char_p(b'user'), ctypes.c_char_p(desc), ctypes.c_char_p(b'secret'), L(6), L(-3))
if k < 0: sys.exit('add_key: errno %d' % ctypes.get_errno())
if libc.syscall(L(250), L(10), L(-3), ctypes.c_char_p(b'user'), ctypes.c_char_p(desc), L(0)) != k: sys.exit('control: key not in @s on the host')
sys.stderr.write('host key %d\n' % k); sys.stderr.flush()
os.execv(sys.argv[2], sys.argv[2:] + [str(k)])
`
		prof := e.Profile(t, "")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, py, "-c", host, desc, e.Bin, "run", "--profile", prof, py, "-c", inner, desc)
		c.Env = e.R.Env()
		c.Dir = e.R.Home
		c.SysProcAttr = e.R.Cred()
		res := e.R.RunCmd(t, c, "")
		if res.Code != 0 || !strings.Contains(res.Stderr, "host key ") {
			t.Fatalf("host keyring set-up or sandbox failed: %s", res)
		}
		var hostKey int
		fmt.Sscanf(res.Stderr[strings.Index(res.Stderr, "host key "):], "host key %d", &hostKey)
		m := h.Lines(t, res)
		h.Want(t, m, "search-session", syscall.ENOKEY)
		// Not by its serial either (KEYCTL_READ, same uid outside), and
		// not listed in /proc/keys.
		h.Want(t, m, "read-host-key", syscall.EACCES, syscall.ENOKEY)
		if l := m["proc-keys"]; l.Errno == 0 && strings.Contains(l.Detail, desc) {
			t.Errorf("the host's key %q is listed in the sandbox's /proc/keys: %s", desc, l.Detail)
		}
		if ids := m["session-ids"]; ids.Errno != 0 || strings.Contains(" "+ids.Detail+" ", " "+strconv.Itoa(hostKey)+" ") {
			t.Errorf("the host's session key %d is in the sandbox's @s: %+v", hostKey, ids)
		}
	})
}

// testCase33NoSeccomp: without seccomp the host-global administration
// calls still fail with EPERM, because the app has no capability in the
// initial namespaces. The arguments are valid up to the capability check
// (the probe's bad pointers would give EFAULT/EINVAL before it), and
// harmless if a call did pass: unload no kexec image, delete a module that
// does not exist, reboot with bad magic, set the time to now, ...
// The NUMA calls are left out: they are not privileged (seccomp denies
// them as attack surface, not as privilege), so no other layer stops them.
func testCase33NoSeccomp(t *testing.T) {
	h.NoSeccomp(t, func(t *testing.T, e *h.Env) {
		before := modules(t)
		m := h.Lines(t, e.Py(t, "", pyNoFilter+`
import time
scf('kexec_load', 246, 0, 0, 0, 0)
scf('kexec_file_load', 320, -1, -1, 0, 0, 1)
scf('init_module', 175, 0, 0, '')
scf('finit_module', 313, -1, '', 0)
scf('delete_module', 176, 'nbx_no_such_module', 0x800)
scf('reboot', 169, 1, 2, 3, 0)
scf('swapoff', 168, '/nonexistent-swap')
scf('swapon', 167, '/nonexistent-swap', 0)
scf('acct', 163, 0)
scf('syslog-clear', 103, 4, 0, 0)
scf('settimeofday', 164, 0, 0)
ts = struct.pack('qq', int(time.time()), 0)
scf('clock_settime', 227, 0, ctypes.create_string_buffer(ts, 16))
tx = ctypes.create_string_buffer(208)
struct.pack_into('I', tx, 0, 0x4); struct.pack_into('q', tx, 24, 16000000)
scf('adjtimex', 159, tx)
scf('clock_adjtime', 305, 0, tx)
scf('iopl', 172, 3)
scf('ioperm', 173, 0x80, 1, 1)
fh = ctypes.create_string_buffer(8 + 8)
struct.pack_into('Ii', fh, 0, 8, 1)
scf('open_by_handle_at', 304, -100, fh, 0)
scf('vhangup', 153)
`))
		for _, n := range []string{"reboot", "swapoff", "swapon", "acct", "syslog-clear", "settimeofday",
			"clock_settime", "adjtimex", "clock_adjtime", "open_by_handle_at", "vhangup"} {
			h.Want(t, m, n, syscall.EPERM)
		}
		// A kernel built without the feature has no such call (ENOSYS):
		// accepted only when the host's /proc/config.gz says so.
		for n, opt := range map[string]string{"kexec_load": "KEXEC", "kexec_file_load": "KEXEC_FILE",
			"init_module": "MODULES", "finit_module": "MODULES", "delete_module": "MODULES",
			"iopl": "X86_IOPL_IOPERM", "ioperm": "X86_IOPL_IOPERM"} {
			if kernelLacks(t, opt) {
				h.Want(t, m, n, syscall.EPERM, syscall.ENOSYS)
			} else {
				h.Want(t, m, n, syscall.EPERM)
			}
		}
		if after := modules(t); after != before {
			t.Errorf("HOST INVARIANT: module list changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// kernelLacks reports whether the host's /proc/config.gz has
// "# CONFIG_<opt> is not set" (false when there is no config to read).
func kernelLacks(t *testing.T, opt string) bool {
	t.Helper()
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return false
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	b, err := io.ReadAll(z)
	if err != nil {
		return false
	}
	return strings.Contains("\n"+string(b), "\n# CONFIG_"+opt+" is not set\n")
}
