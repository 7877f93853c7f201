//go:build integration

package escape

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
	"golang.org/x/sys/unix"
)

func fileSum(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// closureSet is the union of nix-store -qR of paths.
func closureSet(t *testing.T, paths ...string) map[string]bool {
	out, err := exec.Command("nix-store", append([]string{"--query", "--requisites", "--"}, paths...)...).Output()
	if err != nil {
		h.SkipOrFail(t, "nix-store -qR: %v", err)
	}
	m := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		m[l] = true
	}
	return m
}

// pyList is a python list literal of strings.
func pyList(xs ...string) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

// TestCase01_ReadHostSecrets: ~/.ssh, ~/.gnupg, /etc/shadow, /root, other
// homes, /run/secrets, /run/agenix, the fake secret dirs, /run/user and
// the same through /proc/self/root, /proc/1/root, /proc/self/cwd/../.. and
// long .. chains are ENOENT; no canary string appears. With /etc/shadow
// bound (a test-only unsafe bind), DAC still applies: EACCES rootless.
// Src: bubblewrap "cannot read /etc/shadow"; Flatpak's default-access promise.
func TestCase01_ReadHostSecrets(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		home := e.R.Home
		paths := []string{home + "/.ssh/id_ed25519", home + "/.gnupg/private-keys-v1.d/k.key",
			home + "/private/secret.txt", "/etc/shadow", "/root/.bashrc", "/home", "/run/secrets/x", "/run/agenix/x",
			h.FakeRoot + "/run/secrets/x", h.FakeRoot + "/run/agenix/x", "/run/user/0", "/run/user/1000"}
		var all []string
		for _, p := range paths {
			all = append(all, p, "/proc/self/root"+p, "/proc/1/root"+p, "/proc/self/cwd/../../../.."+p,
				strings.Repeat("/..", 40)+p)
		}
		m := h.Lines(t, e.Py(t, "", `
for p in `+pyList(all...)+`:
    def rd(p=p):
        if os.path.isdir(p): return os.listdir(p)
        return open(p, 'rb').read()
    tryf(p, rd)
`))
		for _, p := range all {
			if strings.HasPrefix(p, "/proc/1/root/") {
				// pid 1 (nixbox-init) is in the parent user namespace: its
				// root is not even traversable.
				h.Want(t, m, p, syscall.ENOENT, syscall.EACCES)
				continue
			}
			if p == "/root/.bashrc" || strings.HasSuffix(p, "/root/.bashrc") {
				h.Want(t, m, p, syscall.ENOENT, syscall.EACCES)
				continue
			}
			h.Want(t, m, p, syscall.ENOENT)
		}
		e.NoCanaryIn(t, "the output", mustJSON(m))
		if !e.Root {
			res := e.Sh(t, "[[filesystem.bind]]\nsource = \"/etc/shadow\"\nunsafe = \"escape case 1: DAC still applies\"\n",
				"cat /etc/shadow")
			if res.Code == 0 || strings.Contains(res.Stdout, "root:") {
				t.Errorf("bound /etc/shadow was readable rootless: %s", res)
			} else if res.Code != 125 && !strings.Contains(res.Stderr, "Permission denied") {
				t.Errorf("bound /etc/shadow: want EACCES (or a refusal): %s", res)
			}
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

type mnt struct {
	Point, Root, Opts, FSType, Super string
}

func parseMountinfo(s string) []mnt {
	var ms []mnt
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(l)
		i := 6
		for i < len(f) && f[i] != "-" {
			i++
		}
		if len(f) < 10 || i+3 > len(f) {
			continue
		}
		ms = append(ms, mnt{Point: f[4], Root: f[3], Opts: f[5], FSType: f[i+1], Super: f[i+3]})
	}
	return ms
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// TestCase02_MountInventory: the sandbox's mountinfo holds exactly a
// read-only root, proc (+ masks), a /dev tmpfs with devpts, shm and the
// device binds, /tmp, nixbox's /.nixbox files, the home, the /nix/store
// tmpfs and one mount per closure path on it, all ro,nosuid,nodev; no
// staging bind left at /.nixbox/store and no mount of the whole store; no
// old root; every rw mount is nosuid. Host mountinfo identical
// before/after (Matrix) and during.
// Src: bubblewrap "oldroot should not be visible"; runc no_pivot.bats and mount propagation tests.
func TestCase02_MountInventory(t *testing.T) {
	pk := h.Packages(t)
	closure := closureSet(t, pk...)
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		during := ""
		res := e.Py(t, "", `out('mountinfo', 0, open('/proc/self/mountinfo').read())`)
		during = h.Mountinfo(t)
		m := h.Lines(t, res)
		ms := parseMountinfo(m["mountinfo"].Detail)
		store := map[string]bool{}
		storeTmpfs := 0
		for _, x := range ms {
			switch {
			case x.Point == "/.nixbox/store" || strings.HasPrefix(x.Point, "/.nixbox/store/"):
				t.Errorf("the staging bind of the whole store is still mounted: %+v", x)
			case x.Root == "/nix/store" || x.Root == "/nix":
				t.Errorf("a mount exposes the whole store: %+v", x)
			case x.Point == "/nix/store":
				storeTmpfs++
				if x.FSType != "tmpfs" {
					t.Errorf("/nix/store is not the assembly's tmpfs: %+v", x)
				}
				for _, o := range []string{"ro", "nosuid", "nodev"} {
					if !hasOpt(x.Opts, o) {
						t.Errorf("/nix/store lacks %s: %s", o, x.Opts)
					}
				}
			case x.Point == "/":
				if !hasOpt(x.Opts, "ro") {
					t.Errorf("root is not read-only: %+v", x)
				}
			case strings.HasPrefix(x.Point, "/nix/store/"):
				store[x.Point] = true
				for _, o := range []string{"ro", "nosuid", "nodev"} {
					if !hasOpt(x.Opts, o) {
						t.Errorf("store mount %s lacks %s: %s", x.Point, o, x.Opts)
					}
				}
			case x.Point == "/proc" || strings.HasPrefix(x.Point, "/proc/"),
				x.Point == "/dev" || strings.HasPrefix(x.Point, "/dev/"),
				x.Point == "/tmp", strings.HasPrefix(x.Point, "/.nixbox/"), x.Point == e.R.Home:
			default:
				t.Errorf("unexpected mount in the sandbox: %+v", x)
			}
			if strings.Contains(x.Point, "oldroot") || strings.Contains(x.Point, "newroot") || strings.Contains(x.Point, "/instances/") {
				t.Errorf("old/new root visible: %+v", x)
			}
			// device node binds (they need dev) and /proc masks (/dev/null)
			dev := (strings.HasPrefix(x.Point, "/dev/") || x.Root == "/null") && x.FSType == "devtmpfs"
			if hasOpt(x.Opts, "rw") && !hasOpt(x.Opts, "nosuid") && !dev {
				t.Errorf("rw mount without nosuid: %+v", x)
			}
			if dev && x.Root != "/null" && x.Root != x.Point[len("/dev"):] {
				t.Errorf("device bind %s comes from %s", x.Point, x.Root)
			}
		}
		if storeTmpfs != 1 {
			t.Errorf("%d mounts at /nix/store, want the one tmpfs", storeTmpfs)
		}
		for p := range closure {
			if !store[p] {
				t.Errorf("closure path %s not mounted", p)
			}
		}
		for p := range store {
			if !closure[p] {
				t.Errorf("store path %s mounted but not in the closure", p)
			}
		}
		if d := h.MountinfoDiff(h.HostMountinfo(t), during); len(d) > 0 {
			t.Logf("host mountinfo differs from the suite's first snapshot (other suites may run): %v", d)
		}
	})
}

// TestCase03_StoreWrite: writes into closure files and /nix/store are
// EROFS (or EACCES), a remount is EPERM; host: nix-store --verify-path
// succeeds and a sample binary's sha256 is unchanged.
// Src: the Nix store model; runc mask.bats.
func TestCase03_StoreWrite(t *testing.T) {
	coreutils := h.Fixture(t, "COREUTILS")
	sample := filepath.Join(coreutils, "bin", "true")
	before := fileSum(t, sample)
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
bin = `+pyList(sample)+`[0]
d = os.path.dirname(bin)
tryf('open-trunc', os.open, bin, os.O_WRONLY|os.O_TRUNC)
tryf('creat', os.open, d + '/new', os.O_WRONLY|os.O_CREAT, 0o755)
tryf('mkdir-store', os.mkdir, '/nix/store/new')
tryf('rename', os.rename, bin, d + '/moved')
tryf('unlink', os.unlink, bin)
tryf('chmod', os.chmod, bin, 0o4777)
tryf('setxattr', os.setxattr, bin, 'user.x', b'1')
tryf('link', os.link, bin, d + '/hard')
tryf('utime', os.utime, bin, (0, 0))
scf('remount-rw', 165, 0, d, 0, 0x20|0x1000, 0)
`))
		for _, n := range []string{"open-trunc", "creat", "mkdir-store", "rename", "unlink", "chmod", "setxattr", "link", "utime"} {
			h.Want(t, m, n, syscall.EROFS, syscall.EACCES)
		}
		h.Want(t, m, "remount-rw", syscall.EPERM)
		if fileSum(t, sample) != before {
			t.Errorf("HOST INVARIANT: %s changed", sample)
		}
		if out, err := exec.Command("nix-store", "--verify-path", coreutils).CombinedOutput(); err != nil {
			t.Errorf("HOST INVARIANT: nix-store --verify-path %s: %v %s", coreutils, err, out)
		}
	})
}

// TestCase04_StoreOutsideClosure: /nix/store lists exactly the closure;
// a non-closure fixture (hello), /nix/store/.links and /nix/var are ENOENT.
// Src: NixOS/nix #8, NixOS/rfcs #97, nixpak's per-path binds.
func TestCase04_StoreOutsideClosure(t *testing.T) {
	closure := closureSet(t, h.Packages(t)...)
	hello := h.Fixture(t, "HELLO")
	if closure[hello] {
		t.Fatal("hello is in the closure: the case proves nothing")
	}
	var want []string
	for p := range closure {
		want = append(want, filepath.Base(p))
	}
	sort.Strings(want)
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		m := h.Lines(t, e.Py(t, "", `
out('list', 0, json.dumps(sorted(os.listdir('/nix/store'))))
for p in `+pyList(hello, hello+"/bin/hello", "/nix/store/.links", "/nix/var/nix/db/db.sqlite", "/nix/var/nix/profiles", "/nix/var")+`:
    tryf(p, os.stat, p)
`))
		var got []string
		_ = json.Unmarshal([]byte(m["list"].Detail), &got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("/nix/store inside = %v\nwant the closure %v", got, want)
		}
		for _, p := range []string{hello, hello + "/bin/hello", "/nix/store/.links", "/nix/var/nix/db/db.sqlite", "/nix/var/nix/profiles", "/nix/var"} {
			h.Want(t, m, p, syscall.ENOENT)
		}
	})
}

// addSymlinkToStore adds a store path that is a symlink to target
// (nix-store --add, as root: the stand-in for a fixture package whose
// output is a symlink out of the store).
func addSymlinkToStore(t *testing.T, name, target string) string {
	if os.Getuid() != 0 {
		h.SkipOrFail(t, "adding a symlink store path needs root (single-user store)")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nix-store", "--add", p).Output()
	if err != nil {
		h.SkipOrFail(t, "nix-store --add: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestCase05_SymlinkMember: a closure member that is a symlink to /etc
// (fixture EVIL_SYMLINK, a dependency of fixture EVIL_APP), to the
// user's ~/.ssh or to /run/user/UID (stand-ins: the fixture build cannot
// know per-run paths, so these are added with nix-store --add as root and
// given as closure roots) is a symlink inside (lstat S_IFLNK, readlink
// literal) and its target is ENOENT: never bound through.
// Src: Flatpak's symlink export handling; Nix allows symlink outputs.
func TestCase05_SymlinkMember(t *testing.T) {
	evil := h.Fixture(t, "EVIL_SYMLINK")
	// evil-app references evil-symlink: the /etc variant is a dependency
	// of a fixture package, as §4 states it.
	evilApp := h.Fixture(t, "EVIL_APP")
	if !closureSet(t, evilApp)[evil] {
		t.Fatalf("%s does not depend on %s", evilApp, evil)
	}
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		ssh := addSymlinkToStore(t, "nbx-ssh-link", e.R.Home+"/.ssh")
		runu := addSymlinkToStore(t, "nbx-runuser-link", "/run/user/"+itoa(e.R.UID))
		pk := append(h.Packages(t), ssh, runu, evilApp)
		m := h.Lines(t, e.Py(t, "[app]\npackages = "+h.TomlList(pk...)+"\n", `
import stat
for p in `+pyList(ssh, runu, evil)+`:
    st = os.lstat(p)
    out('lnk:' + p, 0 if stat.S_ISLNK(st.st_mode) else 1, os.readlink(p))
tryf('ssh-key', lambda: open(`+pyList(ssh+"/id_ed25519")+`[0]).read())
tryf('etc-shadow', lambda: open(`+pyList(evil+"/shadow")+`[0]).read())
tryf('run-user', os.listdir, `+pyList(runu)+`[0])
`))
		for p, target := range map[string]string{ssh: e.R.Home + "/.ssh", runu: "/run/user/" + itoa(e.R.UID), evil: "/etc"} {
			l := m["lnk:"+p]
			if l.Errno != 0 || l.Detail != target {
				t.Errorf("member %s inside: %s, want a symlink to %s", p, l, target)
			}
		}
		h.Want(t, m, "ssh-key", syscall.ENOENT)
		h.Want(t, m, "etc-shadow", syscall.ENOENT)
		h.Want(t, m, "run-user", syscall.ENOENT)
		e.NoCanaryIn(t, "the output", mustJSON(m))
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCase06_PlantedStateSymlink: nixbox's per-app state dirs (the
// persistent home, the profile's state dir, the data root) replaced with
// absolute and relative symlinks (as a compromised earlier run would):
// nixbox refuses to start, and nothing appears in the target dir.
// Src: Flatpak CVE-2024-42472, GHSA-8688-9x26-hhxj.
func TestCase06_PlantedStateSymlink(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		r := e.R
		canaryDir := filepath.Join(r.Base, "canarydir")
		r.MkdirAll(t, canaryDir, 0o700)
		body := "[home]\nmode = \"persistent\"\n"
		prof := e.Profile(t, body)
		name := strings.TrimSuffix(filepath.Base(prof), ".toml")
		data := filepath.Join(r.Home, ".local/share/nixbox")
		res := e.RunIn(t, prof, "", h.Bin(t, "BASH", "bash"), "-c", "true")
		if res.Code != 0 {
			t.Fatalf("first run: %s", res)
		}
		for _, dir := range []string{filepath.Join(data, name, "home"), filepath.Join(data, name)} {
			for _, target := range []string{canaryDir, "../../../../../canarydir"} {
				moved := dir + ".real"
				if err := os.Rename(dir, moved); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, dir); err != nil {
					t.Fatal(err)
				}
				_ = os.Lchown(dir, r.UID, r.GID)
				res := e.RunIn(t, prof, "", h.Bin(t, "BASH", "bash"), "-c", `echo pwned > ~/pwned || :; echo STARTED`)
				if res.Code != 125 || strings.Contains(res.Stdout, "STARTED") {
					t.Errorf("%s -> %s: want a refusal (125): %s", dir, target, res)
				}
				if ents, _ := os.ReadDir(canaryDir); len(ents) != 0 {
					t.Errorf("HOST INVARIANT: %s -> %s: files appeared in the target: %v", dir, target, ents)
				}
				_ = os.Remove(dir)
				if err := os.Rename(moved, dir); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestCase07_BindSourceRace: while the host swaps state/sub between a
// real dir and a symlink to a canary dir (renameat2 RENAME_EXCHANGE in a
// loop: a stronger attacker than a sandboxed instance A), instance B
// (which binds state/sub) runs `cat /bind/marker` 60 times per cell
// (240 in all; §4 says 500, reduced for the 10-minute budget): it fails
// cleanly or prints the real marker, never the canary.
// Src: runc CVE-2021-30465; Flatpak CVE-2026-34078 fix series.
func TestCase07_BindSourceRace(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		r := e.R
		state := filepath.Join(r.Base, "state")
		sub, other := filepath.Join(state, "sub"), filepath.Join(state, "other")
		canaryDir := filepath.Join(r.Base, "canarydir")
		canary := h.NewCanaryString()
		r.WriteFile(t, filepath.Join(sub, "marker"), "REAL\n", 0o644)
		r.WriteFile(t, filepath.Join(canaryDir, "marker"), canary+"\n", 0o644)
		if err := os.Symlink(canaryDir, other); err != nil {
			t.Fatal(err)
		}
		r.Chown(t, other)
		prof := e.Profile(t, "[[filesystem.bind]]\nsource = \""+sub+"\"\ndest = \"/bind\"\n")
		var stop atomic.Bool
		done := make(chan int)
		go func() {
			n := 0
			for !stop.Load() {
				if unix.Renameat2(unix.AT_FDCWD, sub, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE) == nil {
					n++
				}
			}
			done <- n
		}()
		var ok, failed int
		for i := 0; i < 60; i++ {
			res := e.RunIn(t, prof, "", h.Bin(t, "COREUTILS", "cat"), "/bind/marker")
			if strings.Contains(res.Stdout+res.Stderr, canary) {
				t.Errorf("run %d saw the canary through the raced bind: %s", i, res)
			}
			if res.Code == 0 && res.Stdout == "REAL\n" {
				ok++
			} else {
				failed++
			}
		}
		stop.Store(true)
		swaps := <-done
		t.Logf("%d runs saw the real dir, %d failed cleanly, %d swaps", ok, failed, swaps)
		// Leave sub as the real dir for the cleanup.
		if st, err := os.Lstat(sub); err == nil && st.Mode()&os.ModeSymlink != 0 {
			_ = unix.Renameat2(unix.AT_FDCWD, sub, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE)
		}
		if b, _ := os.ReadFile(filepath.Join(canaryDir, "marker")); string(b) != canary+"\n" {
			t.Errorf("HOST INVARIANT: canary dir marker changed")
		}
	})
}

// TestCase08_BindDestSymlink: ~/proj is bound rw and ~/ref ro at
// ~/proj/ref; an earlier run replaced proj/ref with a symlink out (to
// ../../../nix/store or /proc/self/root/etc). nixbox refuses, or mounts
// exactly at ~/proj/ref; nothing is created or mounted outside.
// Src: runc CVE-2021-30465, CVE-2024-45310, CVE-2025-31133/52565, CVE-2026-41579.
func TestCase08_BindDestSymlink(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		r := e.R
		proj, ref := filepath.Join(r.Home, "proj"), filepath.Join(r.Home, "ref")
		r.WriteFile(t, filepath.Join(ref, "refmark"), "REF\n", 0o644)
		r.MkdirAll(t, proj, 0o700)
		prof := e.Profile(t, "[[filesystem.bind]]\nsource = \"~/proj\"\nmode = \"rw\"\n[[filesystem.bind]]\nsource = \"~/ref\"\ndest = \""+proj+"/ref\"\n")
		for _, target := range []string{"../../../nix/store", "/proc/self/root/etc"} {
			link := filepath.Join(proj, "ref")
			_ = os.RemoveAll(link)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			r.Chown(t, link)
			stamp := time.Now()
			res := e.RunIn(t, prof, "", h.Bin(t, "BASH", "bash"), "-c", `cat /proc/self/mountinfo; echo STARTED`)
			if res.Code == 0 && strings.Contains(res.Stdout, "STARTED") {
				found := false
				for _, x := range parseMountinfo(res.Stdout) {
					if x.Root == ref || strings.HasSuffix(x.Root, "/ref") {
						if x.Point != link {
							t.Errorf("target %s: ~/ref mounted at %s, not at %s", target, x.Point, link)
						}
						found = true
					}
				}
				if !found {
					t.Errorf("target %s: ran, but ~/ref is not mounted: %s", target, res)
				}
			} else if res.Code != 125 {
				t.Errorf("target %s: want a clean refusal (125) or a correct mount: %s", target, res)
			}
			if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
				t.Errorf("HOST INVARIANT: the planted link was replaced on the host")
			}
			_ = filepath.Walk(r.Home, func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.ModTime().After(stamp) && !strings.Contains(p, "/.local") && !strings.Contains(p, "/.cache") && p != r.Home && p != proj {
					t.Errorf("HOST INVARIANT: %s created or changed by the run", p)
				}
				return nil
			})
		}
	})
}
