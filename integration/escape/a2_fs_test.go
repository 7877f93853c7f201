//go:build integration

package escape

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	h "github.com/nixbox/nixbox/integration/harness"
)

const configRW = "[[filesystem.bind]]\nsource = \"~/.config\"\nmode = \"rw\"\ncreate = true\nunsafe = \"escape suite: the nixbox mask\"\n"

// TestCase09_UnmaskMaskedPath: with ~/.config granted rw, the mask over
// ~/.config/nixbox cannot be unmounted, moved, reopened with open_tree,
// removed or renamed away; its contents stay hidden; the host dir is
// unchanged.
// Src: runc mask.bats; CVE-2025-31133.
func TestCase09_UnmaskMaskedPath(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		secret := filepath.Join(e.R.Home, ".config/nixbox/profiles/secret.toml")
		canary := h.NewCanaryString()
		e.R.WriteFile(t, secret, canary, 0o600)
		mask := filepath.Join(e.R.Home, ".config/nixbox")
		m := h.Lines(t, e.Py(t, configRW, `
mask = `+pyList(mask)+`[0]
scf('umount2-detach', 166, mask, 2)
scf('mount-move', 165, mask, '/tmp', 0, 0x2000, 0)
scf('open_tree', 428, -100, mask, 1)
def rmrf():
    import shutil; shutil.rmtree(mask); return 0
forked('rm-rf', rmrf)
tryf('rename-mask', os.rename, mask, mask + '.old')
def ls():
    r = []
    for d, ds, fs in os.walk(mask): r += fs
    return r
tryf('list', ls)
tryf('read', lambda: open(mask + '/profiles/secret.toml').read())
`))
		h.Want(t, m, "umount2-detach", syscall.EPERM)
		h.Want(t, m, "mount-move", syscall.EPERM)
		h.Want(t, m, "open_tree", syscall.ENOSYS)
		h.NotSuccess(t, m, "rm-rf")
		h.Want(t, m, "rename-mask", syscall.EBUSY, syscall.EROFS, syscall.EACCES, syscall.EPERM)
		h.NotSuccess(t, m, "read")
		if l := m["list"]; l.Errno == 0 && strings.Contains(l.Detail, "secret") {
			t.Errorf("mask contents visible: %s", l)
		}
		if b, err := os.ReadFile(secret); err != nil || string(b) != canary {
			t.Errorf("HOST INVARIANT: the masked file changed: %v %q", err, b)
		}
	})
}

// TestCase10_TamperPolicy: with ~/.config granted rw, the app cannot
// create ~/.config/nixbox/policies/app.toml or profiles, whether the dir
// existed or not; nixbox's state dir (under TMPDIR) is unreachable; the
// effective policy (nixbox explain) is unchanged on the next launch.
// Src: Firejail #7154; CVE-2019-12589.
func TestCase10_TamperPolicy(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		cfg := filepath.Join(e.R.Home, ".config")
		prof := e.Profile(t, configRW)
		explain := func() string {
			return e.R.Run(t, "", "explain", "--profile", prof, h.Bin(t, "BASH", "bash")).Stdout
		}
		before := explain()
		for _, withDir := range []bool{false, true} {
			_ = os.RemoveAll(filepath.Join(cfg, "nixbox"))
			if withDir {
				e.R.MkdirAll(t, filepath.Join(cfg, "nixbox", "policies"), 0o700)
			}
			state := filepath.Join(e.R.Tmp, "nixbox-"+itoa(e.R.UID))
			m := h.Lines(t, e.RunIn(t, prof, "", h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude+`
cfg = `+pyList(cfg)+`[0]
for rel in ['nixbox/policies/app.toml', 'nixbox/profiles/evil.toml', 'nixbox/evil.toml']:
    def w(rel=rel):
        os.makedirs(os.path.dirname(cfg + '/' + rel), exist_ok=True)
        open(cfg + '/' + rel, 'w').write('[network]\nmode = "host"\nunsafe = "planted"\n')
    tryf(rel, w)
tryf('state', os.listdir, `+pyList(state)+`[0])
tryf('write-other', lambda: open(cfg + '/other', 'w').write('x'))
`))
			for _, rel := range []string{"nixbox/policies/app.toml", "nixbox/profiles/evil.toml", "nixbox/evil.toml"} {
				h.Want(t, m, rel, syscall.EROFS, syscall.ENOENT, syscall.EACCES, syscall.EPERM)
				if _, err := os.Lstat(filepath.Join(cfg, rel)); err == nil {
					t.Errorf("HOST INVARIANT: %s created (dir existed before: %v)", rel, withDir)
				}
			}
			h.Want(t, m, "state", syscall.ENOENT)
			h.Want(t, m, "write-other", 0) // the grant works: the test can fail
		}
		if after := explain(); after != before {
			t.Errorf("effective policy changed:\n%s\n---\n%s", before, after)
		}
	})
}

// TestCase11_PlantPersistence: under the default profile, writes to
// ~/.bashrc, ~/.profile, autostart, systemd user units, .desktop files,
// ~/.local/bin and authorized_keys land in the ephemeral home (or fail)
// and never reach the host (canaries unchanged, no new files). A profile
// granting the whole home rw without `unsafe` is refused.
// Src: Flatpak's documentation on --filesystem=home.
func TestCase11_PlantPersistence(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		rels := []string{".bashrc", ".profile", ".config/autostart/x.desktop", ".config/systemd/user/x.service",
			".local/share/applications/x.desktop", ".local/bin/x", ".ssh/authorized_keys"}
		res := e.Py(t, "", `
for rel in `+pyList(rels...)+`:
    def w(rel=rel):
        p = os.path.join(os.environ['HOME'], rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, 'a').write('pwned\n')
    tryf(rel, w)
`)
		h.Lines(t, res)
		for _, rel := range rels {
			p := filepath.Join(e.R.Home, rel)
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "pwned") {
				t.Errorf("HOST INVARIANT: %s written on the host", p)
			}
		}
		res = e.Sh(t, "[filesystem]\nrw = [\"~\"]\n", "echo STARTED")
		if res.Code != 125 || strings.Contains(res.Stdout, "STARTED") {
			t.Errorf("whole-home rw bind without unsafe: want refusal: %s", res)
		}
	})
}

// TestCase12_SharedTmp: host canaries in /tmp, /var/tmp and /dev/shm and
// the X11 socket dir are ENOENT; a write to /tmp lands on a private tmpfs
// that is gone at exit.
// Src: bubblewrap --tmpfs; Flatpak.
func TestCase12_SharedTmp(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		var paths []string
		for _, c := range h.GlobalCanaries() {
			if !strings.HasPrefix(c.Path, h.FakeRoot) && !strings.HasPrefix(c.Path, "/run/") {
				paths = append(paths, c.Path)
			}
		}
		paths = append(paths, "/tmp/.X11-unix/X0")
		mark := "nbx-written-" + h.NewCanaryString()
		m := h.Lines(t, e.Py(t, "", `
for p in `+pyList(paths...)+`:
    tryf(p, lambda p=p: open(p, 'rb').read())
tryf('write', lambda: open('/tmp/`+mark+`', 'w').write('x'))
`))
		for _, p := range paths {
			h.Want(t, m, p, syscall.ENOENT)
		}
		h.Want(t, m, "write", 0)
		if _, err := os.Lstat("/tmp/" + mark); err == nil {
			t.Errorf("HOST INVARIANT: the sandbox's /tmp write reached the host")
		}
		m = h.Lines(t, e.Py(t, "", `tryf('again', os.stat, '/tmp/`+mark+`')`))
		h.Want(t, m, "again", syscall.ENOENT)
		e.NoCanaryIn(t, "the output", mustJSON(m))
	})
}

// TestCase13_ProcSys: writes to core_pattern and sysrq-trigger fail;
// kcore, keys, timer_list, sched_debug, acpi, scsi, kmsg are absent, empty
// or denied; /sys is absent. Host: core_pattern unchanged.
// Src: bubblewrap's covered proc dirs; runc's masked paths; CVE-2023-25809; CVE-2025-52881.
func TestCase13_ProcSys(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		core, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
		reads := []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/acpi", "/proc/scsi", "/proc/kmsg"}
		lists := []string{"/sys", "/sys/fs/cgroup", "/sys/firmware", "/sys/kernel/debug", "/sys/kernel/security"}
		m := h.Lines(t, e.Py(t, "", `
tryf('core_pattern', lambda: open('/proc/sys/kernel/core_pattern', 'w').write('|/tmp/x'))
tryf('sysrq', lambda: open('/proc/sysrq-trigger', 'w').write('h'))
for p in `+pyList(reads...)+`:
    def rd(p=p):
        if os.path.isdir(p): return os.listdir(p)
        fd = os.open(p, os.O_RDONLY|os.O_NONBLOCK)
        return os.read(fd, 4096)
    tryf(p, rd)
for p in `+pyList(lists...)+`:
    tryf(p, os.listdir, p)
`))
		h.Want(t, m, "core_pattern", syscall.EROFS, syscall.EACCES)
		h.Want(t, m, "sysrq", syscall.EROFS, syscall.EACCES, syscall.ENOENT)
		for _, p := range reads {
			l := m[p]
			if l.Errno == 0 && l.Detail != "b''" && l.Detail != "[]" {
				t.Errorf("%s readable: %s", p, l)
			}
		}
		for _, p := range lists {
			h.Want(t, m, p, syscall.ENOENT)
		}
		if now, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(now) != string(core) {
			t.Errorf("HOST INVARIANT: core_pattern changed: %q", now)
		}
	})
}

// TestCase14_Devices: mknod is EPERM; kvm, input, dri, snd, mem, kmsg,
// uinput, userfaultfd and sda are ENOENT; /dev holds only the standard
// set; /dev/pts is a new instance (only ptmx).
// Src: bubblewrap's device checks; Flatpak's "no device nodes".
func TestCase14_Devices(t *testing.T) {
	devs := []string{"/dev/kvm", "/dev/input/event0", "/dev/dri/card0", "/dev/snd", "/dev/mem", "/dev/kmsg",
		"/dev/uinput", "/dev/userfaultfd", "/dev/sda", "/dev/vda"}
	allowed := map[string]bool{"null": true, "zero": true, "full": true, "random": true, "urandom": true, "tty": true,
		"ptmx": true, "pts": true, "shm": true, "fd": true, "stdin": true, "stdout": true, "stderr": true, "mqueue": true}
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
scf('mknod', 133, '/tmp/mem', 0o20600, (1 << 8) | 1)
for p in `+pyList(devs...)+`:
    tryf(p, os.open, p, os.O_RDONLY|os.O_NONBLOCK)
out('dev', 0, json.dumps(sorted(os.listdir('/dev'))))
out('pts', 0, json.dumps(sorted(os.listdir('/dev/pts'))))
`))
		h.Want(t, m, "mknod", syscall.EPERM)
		for _, p := range devs {
			h.Want(t, m, p, syscall.ENOENT)
		}
		var ls, pts []string
		_ = json.Unmarshal([]byte(m["dev"].Detail), &ls)
		_ = json.Unmarshal([]byte(m["pts"].Detail), &pts)
		for _, d := range ls {
			if !allowed[d] {
				t.Errorf("unexpected /dev entry %q (all: %v)", d, ls)
			}
		}
		if strings.Join(pts, ",") != "ptmx" {
			t.Errorf("/dev/pts = %v, want a new instance holding only ptmx", pts)
		}
	})
}
