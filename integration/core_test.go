//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"net"
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
)

// TestRunOutputAndStatus: output and exit status come back.
func TestRunOutputAndStatus(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "COREUTILS", "echo"), "hello", "--", "-x")
		if res.Code != 0 || res.Stdout != "hello -- -x\n" {
			t.Fatalf("echo: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "BASH", "bash"), "-c", "exit 42")
		if res.Code != 42 {
			t.Fatalf("exit 42: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "BASH", "bash"), "-c", "kill -TERM $$")
		if res.Code != 128+15 {
			t.Fatalf("killed by SIGTERM: want 143, %s", res)
		}
		res = r.Run(t, "piped input\n", "run", "--profile", "default", h.Bin(t, "COREUTILS", "cat"))
		if res.Code != 0 || res.Stdout != "piped input\n" {
			t.Fatalf("stdin pipe: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "BASH", "bash"), "-c", "echo out; echo err >&2")
		if res.Stdout != "out\n" || res.Stderr != "err\n" {
			t.Fatalf("stdout/stderr separate: %s", res)
		}
	})
}

// TestFixtureAppsRun: the fixture apps work under the default (strict) policy.
func TestFixtureAppsRun(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "PYTHON3", "python3"), "-c",
			"import json, os, socket; print(json.dumps({'pid': os.getpid() > 0}))")
		if res.Code != 0 || res.Stdout != "{\"pid\": true}\n" {
			t.Fatalf("python3: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "CURL", "curl"), "--version")
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "curl ") {
			t.Fatalf("curl: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "HELLO", "hello"))
		if res.Code != 0 || !strings.Contains(res.Stdout, "hello") {
			t.Fatalf("hello: %s", res)
		}
	})
}

// closureOf asks nix-store (as root) for the closure, the reference answer.
func closureOf(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("nix-store", "--query", "--requisites", "--", path).Output()
	if err != nil {
		h.SkipOrFail(t, "nix-store -qR %s: %v", path, err)
	}
	var names []string
	for _, l := range strings.Fields(string(out)) {
		names = append(names, filepath.Base(l))
	}
	sort.Strings(names)
	return names
}

// TestStoreIsExactlyClosure: `ls /nix/store` inside shows exactly the closure.
func TestStoreIsExactlyClosure(t *testing.T) {
	want := closureOf(t, h.Fixture(t, "COREUTILS"))
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "COREUTILS", "ls"), "-A", "/nix/store")
		if res.Code != 0 {
			t.Fatalf("ls: %s", res)
		}
		got := strings.Fields(res.Stdout)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("/nix/store inside = %v, want the closure %v", got, want)
		}
	})
}

// TestSecretsUnreadable: a planted ~/.ssh/id_rsa and /etc/shadow cannot be
// read; /nix/store cannot be written; the uid is the invoking one.
func TestSecretsUnreadable(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		canary := fmt.Sprintf("NBX-CANARY-%d", time.Now().UnixNano())
		ssh := filepath.Join(r.Home, ".ssh")
		if err := os.Mkdir(ssh, 0o700); err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(ssh, "id_rsa")
		if err := os.WriteFile(key, []byte(canary), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(ssh, r.UID, r.GID)
		_ = os.Chown(key, r.UID, r.GID)
		cat := h.Bin(t, "COREUTILS", "cat")
		for _, f := range []string{key, "/etc/shadow", "/proc/1/root" + key, "/proc/self/root/etc/shadow"} {
			res := r.Run(t, "", "run", "--profile", "default", cat, f)
			if res.Code == 0 || strings.Contains(res.Stdout+res.Stderr, canary) || strings.Contains(res.Stdout, "root:") {
				t.Errorf("cat %s succeeded: %s", f, res)
			}
		}
		// The host side really holds it (the test could fail).
		if b, _ := os.ReadFile(key); string(b) != canary {
			t.Fatalf("canary changed on the host")
		}

		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "COREUTILS", "touch"),
			"/nix/store/new", h.Fixture(t, "COREUTILS")+"/new")
		if res.Code == 0 || !strings.Contains(res.Stderr, "Read-only file system") {
			t.Errorf("writing the store: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "COREUTILS", "id"), "-u")
		if strings.TrimSpace(res.Stdout) != strconv.Itoa(r.UID) {
			t.Errorf("id -u inside = %q, want %d", res.Stdout, r.UID)
		}
	})
}

// TestNetworkNone: a listener on the host's loopback is unreachable with
// network none, and reachable with network host (so the check can fail).
func TestNetworkNone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := h.Accepted(ln, 16)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	script := "exec 3<>/dev/tcp/127.0.0.1/" + port + " && echo CONNECTED"
	hostProfile := h.WriteProfile(t, "nethost", "version = 1\nextends = \"default\"\n[network]\nmode = \"host\"\nunsafe = \"the test connects to a host listener\"\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "BASH", "bash"), "-c", script)
		if res.Code == 0 || strings.Contains(res.Stdout, "CONNECTED") {
			t.Fatalf("connected to the host loopback with network none: %s", res)
		}
		select {
		case <-accepted:
			t.Fatalf("the host listener accepted a connection from the sandbox")
		default:
		}
		res = r.Run(t, "", "run", "--profile", hostProfile, h.Bin(t, "BASH", "bash"), "-c", script)
		if res.Code != 0 || !strings.Contains(res.Stdout, "CONNECTED") {
			t.Fatalf("network host could not connect (the test cannot tell): %s", res)
		}
		<-accepted
	})
}

// TestProcShowsOnlySandbox: /proc lists only the sandbox's processes.
func TestProcShowsOnlySandbox(t *testing.T) {
	sentinel := exec.Command("sleep", "3600")
	if err := sentinel.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sentinel.Process.Kill(); _ = sentinel.Wait() }()
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "BASH", "bash"), "-c",
			`for d in /proc/[0-9]*; do echo "${d#/proc/} $(cat $d/comm)"; done`)
		if res.Code != 0 {
			t.Fatalf("%s", res)
		}
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		if len(lines) > 4 || len(lines) < 2 {
			t.Fatalf("/proc inside lists %d processes, want the sandbox's 2-4: %q", len(lines), res.Stdout)
		}
		for _, l := range lines {
			if strings.Contains(l, "sleep") {
				t.Fatalf("host process visible inside: %q", res.Stdout)
			}
		}
		if !strings.HasPrefix(lines[0], "1 ") {
			t.Fatalf("pid 1 is not nixbox-init: %q", res.Stdout)
		}
	})
}

// TestHomePersists: $HOME writes persist in the per-profile home and never
// reach the real home.
func TestHomePersists(t *testing.T) {
	prof := h.WriteProfile(t, "persist", "version = 1\nextends = \"default\"\n[home]\nmode = \"persistent\"\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		sh := h.Bin(t, "BASH", "bash")
		res := r.Run(t, "", "run", "--profile", prof, sh, "-c", `echo kept > "$HOME/note" && echo "$HOME"`)
		if res.Code != 0 || strings.TrimSpace(res.Stdout) != r.Home {
			t.Fatalf("first run: %s", res)
		}
		if _, err := os.Lstat(filepath.Join(r.Home, "note")); err == nil {
			t.Fatalf("the write reached the real home")
		}
		stored := filepath.Join(r.Home, ".local/share/nixbox/persist/home/note")
		if b, err := os.ReadFile(stored); err != nil || string(b) != "kept\n" {
			t.Fatalf("per-profile home does not hold the file: %v %q", err, b)
		}
		res = r.Run(t, "", "run", "--profile", prof, h.Bin(t, "COREUTILS", "cat"), r.Home+"/note")
		if res.Code != 0 || res.Stdout != "kept\n" {
			t.Fatalf("second run: %s", res)
		}
		// The default profile's home is ephemeral: nothing from before.
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "COREUTILS", "cat"), r.Home+"/note")
		if res.Code == 0 {
			t.Fatalf("ephemeral home saw the persistent file: %s", res)
		}
	})
}

// TestHomeNrInodes: [home] nr_inodes = 5000 gives an ephemeral home whose
// statvfs f_files is 5000 (nr_inodes=5000 on the home tmpfs), next to
// the default profile's home, which has the kernel's default (not 5000).
// With mode = "persistent" the key is accepted and unused, like size.
func TestHomeNrInodes(t *testing.T) {
	eph := h.WriteProfile(t, "inodes", "version = 1\nextends = \"default\"\n[home]\nsize = \"16M\"\nnr_inodes = 5000\n")
	per := h.WriteProfile(t, "inodes-persist", "version = 1\nextends = \"default\"\n[home]\nmode = \"persistent\"\nnr_inodes = 5000\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		// stat -f: %c is statvfs f_files, %T the file system type.
		stat := h.Bin(t, "COREUTILS", "stat")
		res := r.Run(t, "", "run", "--profile", eph, stat, "-f", "-c", "%c %T", r.Home)
		if res.Code != 0 || strings.TrimSpace(res.Stdout) != "5000 tmpfs" {
			t.Fatalf("ephemeral home with nr_inodes = 5000: want f_files 5000 on a tmpfs (\"5000 tmpfs\"): %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", stat, "-f", "-c", "%c %T", r.Home)
		if res.Code != 0 || !strings.HasSuffix(strings.TrimSpace(res.Stdout), " tmpfs") || strings.TrimSpace(res.Stdout) == "5000 tmpfs" {
			t.Fatalf("default home: want a tmpfs with the kernel's inode count: %s", res)
		}
		// The persistent home is the host directory's file system, whose
		// inode count nixbox does not set.
		res = r.Run(t, "", "run", "--profile", per, stat, "-f", "-c", "%c", r.Home)
		if res.Code != 0 || strings.TrimSpace(res.Stdout) == "5000" {
			t.Fatalf("persistent home with nr_inodes: want a run on the host directory's own file system: %s", res)
		}
	})
}

// TestKill9LeavesNothing: kill -9 of nixbox leaves no sandbox process, and
// the next run cleans the stale state.
func TestKill9LeavesNothing(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		marker := strconv.Itoa(900000 + int(time.Now().UnixNano()%99999))
		sleep := h.Bin(t, "COREUTILS", "sleep")
		c := r.Cmd(t.Context(), "run", "--profile", "default", sleep, marker)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(h.PidsWith(sleep+" "+marker)) == 0 {
			if time.Now().After(deadline) {
				_ = c.Process.Kill()
				t.Fatalf("the sandboxed sleep never started")
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
		deadline = time.Now().Add(10 * time.Second)
		for {
			left := h.PidsWith(sleep + " " + marker)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sandbox processes survive kill -9 of nixbox: %v", left)
			}
			time.Sleep(20 * time.Millisecond)
		}
		state := filepath.Join(r.Tmp, "nixbox-"+strconv.Itoa(r.UID), "instances")
		if ents, _ := os.ReadDir(state); len(ents) == 0 {
			t.Fatalf("expected the killed run's state in %s (the cleanup check would prove nothing)", state)
		}
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "COREUTILS", "true"))
		if res.Code != 0 {
			t.Fatalf("next run: %s", res)
		}
		for _, sub := range []string{"instances", "run"} {
			if ents, _ := os.ReadDir(filepath.Join(r.Tmp, "nixbox-"+strconv.Itoa(r.UID), sub)); len(ents) != 0 {
				t.Fatalf("stale state left in %s: %v", sub, ents)
			}
		}
	})
}

// TestSymlinkMember: a closure member that is a symlink (here to /etc) is
// recreated as a symlink, never bound through: following it inside leads
// to the sandbox's own /etc, not the host's.
func TestSymlinkMember(t *testing.T) {
	evil := h.Fixture(t, "EVIL_SYMLINK")
	prof := h.WriteProfile(t, "evil", "version = 1\nextends = \"default\"\n[app]\npackages = [\""+evil+"\"]\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "COREUTILS", "readlink"), evil)
		if res.Code != 0 || res.Stdout != "/etc\n" {
			t.Fatalf("readlink of the member: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", prof, h.Bin(t, "COREUTILS", "ls"), evil+"/")
		if res.Code != 0 || strings.Contains(res.Stdout, "shadow") || strings.Contains(res.Stdout, "os-release") ||
			!strings.Contains(res.Stdout, "passwd") {
			t.Fatalf("listing through the member shows more than the sandbox's /etc: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", "default", h.Bin(t, "EVIL_APP", "evil-app"))
		if res.Code == 0 || strings.Contains(res.Stdout, "root:") {
			t.Fatalf("evil-app read the host's shadow: %s", res)
		}
	})
}

// TestSpecBundleRunsUnderRunc: `nixbox spec --bundle` output runs under
// Debian's runc, as root and rootless: the spec is a complete debugging
// path (nixbox-init and the compiled filter travel with the bundle).
func TestSpecBundleRunsUnderRunc(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		h.SkipOrFail(t, "runc not installed (make setup installs it)")
	}
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		dir := filepath.Join(r.Tmp, "bundle")
		res := r.Run(t, "", "spec", "--bundle", dir, "--profile", "default", h.Bin(t, "COREUTILS", "echo"), "from runc")
		if res.Code != 0 {
			t.Fatalf("spec --bundle: %s", res)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, runc, "--root", filepath.Join(r.Tmp, "runc-state"), "run", "--bundle", dir,
			"nixbox-it-"+r.Name+"-"+strconv.Itoa(os.Getpid()))
		c.Env = r.Env("XDG_RUNTIME_DIR=" + r.Tmp)
		c.SysProcAttr = r.Cred()
		out, err := c.CombinedOutput()
		if err != nil || string(out) != "from runc\n" {
			t.Fatalf("runc run: %v\n%s", err, out)
		}
	})
}

// TestSignalsForwarded: SIGTERM sent to nixbox reaches the app (which
// handles it), and its exit status comes back.
func TestSignalsForwarded(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := r.Cmd(ctx, "run", "--profile", "default", h.Bin(t, "BASH", "bash"), "-c",
			`trap 'echo got-term; exit 3' TERM; echo ready; while :; do read -t 0.05 x; done`)
		var out strings.Builder
		stdout, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdin, _ := c.StdinPipe() // an open, silent stdin
		defer stdin.Close()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := stdout.Read(buf)
		if !strings.Contains(string(buf[:n]), "ready") {
			t.Fatalf("app did not start: %q", buf[:n])
		}
		_ = c.Process.Signal(syscall.SIGTERM)
		rest, _ := io.ReadAll(stdout)
		out.Write(rest)
		err = c.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 3 || !strings.Contains(out.String(), "got-term") {
			t.Fatalf("SIGTERM not forwarded: exit %d, output %q", code, out.String())
		}
	})
}

// TestOnlyStdioInherited: the app holds only descriptors 0, 1 and 2
// (CVE-2024-21626: a leaked host descriptor is a way out).
func TestOnlyStdioInherited(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		// stat, not open: listing the directory would itself open one.
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "BASH", "bash"), "-c",
			`for i in $(seq 0 1023 2>/dev/null || { i=0; while [ $i -lt 1024 ]; do echo $i; i=$((i+1)); done; }); do [ -e /proc/$$/fd/$i ] && printf '%s ' $i; done; echo`)
		if res.Code != 0 || strings.TrimSpace(res.Stdout) != "0 1 2" {
			t.Fatalf("descriptors inside: %s", res)
		}
	})
}

// TestNixboxDirsMasked: even a profile that binds ~/.config read-write
// (with unsafe) cannot reach nixbox's own profiles there, even when the
// directory does not exist yet (Firejail #7154).
func TestNixboxDirsMasked(t *testing.T) {
	prof := h.WriteProfile(t, "cfg", "version = 1\nextends = \"default\"\n[[filesystem.bind]]\nsource = \"~/.config\"\nmode = \"rw\"\ncreate = true\nunsafe = \"test of the mask\"\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		cfg := filepath.Join(r.Home, ".config")
		for _, withDir := range []bool{false, true} {
			_ = os.RemoveAll(filepath.Join(cfg, "nixbox"))
			if withDir {
				if err := os.MkdirAll(filepath.Join(cfg, "nixbox", "profiles"), 0o700); err != nil {
					t.Fatal(err)
				}
				_ = os.Chown(filepath.Join(cfg, "nixbox"), r.UID, r.GID)
				_ = os.Chown(filepath.Join(cfg, "nixbox", "profiles"), r.UID, r.GID)
			}
			res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "BASH", "bash"), "-c",
				`echo pwned > "$HOME/.config/nixbox/profiles/evil.toml" || echo pwned > "$HOME/.config/nixbox/evil.toml"; echo other > "$HOME/.config/other"`)
			if _, err := os.Stat(filepath.Join(cfg, "other")); err != nil {
				t.Fatalf("the rw bind did not work (the test proves nothing): %s", res)
			}
			for _, p := range []string{"nixbox/profiles/evil.toml", "nixbox/evil.toml"} {
				if _, err := os.Lstat(filepath.Join(cfg, p)); err == nil {
					t.Fatalf("the app wrote %s into nixbox's own directory (dir existed before: %v): %s", p, withDir, res)
				}
			}
		}
	})
}

// TestPlantedSymlinkInHomeRefused: a symlink the app planted in its
// persistent home in an earlier run never redirects a later bind
// (CVE-2024-42472): nixbox refuses to start.
func TestPlantedSymlinkInHomeRefused(t *testing.T) {
	prof := h.WriteProfile(t, "planted", "version = 1\nextends = \"default\"\n[home]\nmode = \"persistent\"\n[filesystem]\nro = [\"~/Music\"]\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		music := filepath.Join(r.Home, "Music")
		if err := os.Mkdir(music, 0o700); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(music, r.UID, r.GID)
		sh := h.Bin(t, "BASH", "bash")
		// The first run creates the persistent home and plants the link,
		// as a compromised app would.
		res := r.Run(t, "", "run", "--profile", prof, sh, "-c", `true`)
		if res.Code != 0 {
			t.Fatalf("first run: %s", res)
		}
		appHome := filepath.Join(r.Home, ".local/share/nixbox/planted/home")
		_ = os.Remove(filepath.Join(appHome, "Music")) // the mountpoint the first run left
		if err := os.Symlink("/etc", filepath.Join(appHome, "Music")); err != nil {
			t.Fatal(err)
		}
		res = r.Run(t, "", "run", "--profile", prof, sh, "-c", `echo started`)
		if res.Code != 125 || strings.Contains(res.Stdout, "started") || !strings.Contains(res.Stderr, "refusing to follow symlink") {
			t.Fatalf("run with a planted symlink: %s", res)
		}
	})
}
