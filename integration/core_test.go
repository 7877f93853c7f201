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
)

func bin(t *testing.T, key, prog string) string {
	return filepath.Join(fixture(t, key), "bin", prog)
}

// TestRunOutputAndStatus: output and exit status come back.
func TestRunOutputAndStatus(t *testing.T) {
	forEach(t, func(t *testing.T, r runner) {
		res := r.run(t, "", "run", "--profile", "default", bin(t, "COREUTILS", "echo"), "hello", "--", "-x")
		if res.code != 0 || res.stdout != "hello -- -x\n" {
			t.Fatalf("echo: %s", res)
		}
		res = r.run(t, "", "run", "--profile", "default", bin(t, "BASH", "bash"), "-c", "exit 42")
		if res.code != 42 {
			t.Fatalf("exit 42: %s", res)
		}
		res = r.run(t, "", "run", "--profile", "default", bin(t, "BASH", "bash"), "-c", "kill -TERM $$")
		if res.code != 128+15 {
			t.Fatalf("killed by SIGTERM: want 143, %s", res)
		}
		res = r.run(t, "piped input\n", "run", "--profile", "default", bin(t, "COREUTILS", "cat"))
		if res.code != 0 || res.stdout != "piped input\n" {
			t.Fatalf("stdin pipe: %s", res)
		}
		res = r.run(t, "", "run", "--profile", "default", bin(t, "BASH", "bash"), "-c", "echo out; echo err >&2")
		if res.stdout != "out\n" || res.stderr != "err\n" {
			t.Fatalf("stdout/stderr separate: %s", res)
		}
	})
}

// TestFixtureAppsRun: the fixture apps work under the default (strict) policy.
func TestFixtureAppsRun(t *testing.T) {
	forEach(t, func(t *testing.T, r runner) {
		res := r.run(t, "", "run", "--profile", "default", bin(t, "PYTHON3", "python3"), "-c",
			"import json, os, socket; print(json.dumps({'pid': os.getpid() > 0}))")
		if res.code != 0 || res.stdout != "{\"pid\": true}\n" {
			t.Fatalf("python3: %s", res)
		}
		res = r.run(t, "", "run", "--profile", "default", bin(t, "CURL", "curl"), "--version")
		if res.code != 0 || !strings.HasPrefix(res.stdout, "curl ") {
			t.Fatalf("curl: %s", res)
		}
		res = r.run(t, "", "run", "--profile", "default", bin(t, "HELLO", "hello"))
		if res.code != 0 || !strings.Contains(res.stdout, "hello") {
			t.Fatalf("hello: %s", res)
		}
	})
}

// closureOf asks nix-store (as root) for the closure, the reference answer.
func closureOf(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("nix-store", "--query", "--requisites", "--", path).Output()
	if err != nil {
		skipOrFail(t, "nix-store -qR %s: %v", path, err)
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
	want := closureOf(t, fixture(t, "COREUTILS"))
	forEach(t, func(t *testing.T, r runner) {
		res := r.run(t, "", "run", "--profile", "default", bin(t, "COREUTILS", "ls"), "-A", "/nix/store")
		if res.code != 0 {
			t.Fatalf("ls: %s", res)
		}
		got := strings.Fields(res.stdout)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("/nix/store inside = %v, want the closure %v", got, want)
		}
	})
}

// TestSecretsUnreadable: a planted ~/.ssh/id_rsa and /etc/shadow cannot be
// read; /nix/store cannot be written; the uid is the invoking one.
func TestSecretsUnreadable(t *testing.T) {
	forEach(t, func(t *testing.T, r runner) {
		canary := fmt.Sprintf("NBX-CANARY-%d", time.Now().UnixNano())
		ssh := filepath.Join(r.home, ".ssh")
		if err := os.Mkdir(ssh, 0o700); err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(ssh, "id_rsa")
		if err := os.WriteFile(key, []byte(canary), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(ssh, r.uid, r.gid)
		_ = os.Chown(key, r.uid, r.gid)
		cat := bin(t, "COREUTILS", "cat")
		for _, f := range []string{key, "/etc/shadow", "/proc/1/root" + key, "/proc/self/root/etc/shadow"} {
			res := r.run(t, "", "run", "--profile", "default", cat, f)
			if res.code == 0 || strings.Contains(res.stdout+res.stderr, canary) || strings.Contains(res.stdout, "root:") {
				t.Errorf("cat %s succeeded: %s", f, res)
			}
		}
		// The host side really holds it (the test could fail).
		if b, _ := os.ReadFile(key); string(b) != canary {
			t.Fatalf("canary changed on the host")
		}

		res := r.run(t, "", "run", "--profile", "default", bin(t, "COREUTILS", "touch"),
			"/nix/store/new", fixture(t, "COREUTILS")+"/new")
		if res.code == 0 || !strings.Contains(res.stderr, "Read-only file system") {
			t.Errorf("writing the store: %s", res)
		}
		res = r.run(t, "", "run", "--profile", "default", bin(t, "COREUTILS", "id"), "-u")
		if strings.TrimSpace(res.stdout) != strconv.Itoa(r.uid) {
			t.Errorf("id -u inside = %q, want %d", res.stdout, r.uid)
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
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	script := "exec 3<>/dev/tcp/127.0.0.1/" + port + " && echo CONNECTED"
	hostProfile := writeProfile(t, "nethost", "version = 1\nextends = \"default\"\n[network]\nmode = \"host\"\nunsafe = \"the test connects to a host listener\"\n")
	forEach(t, func(t *testing.T, r runner) {
		res := r.run(t, "", "run", "--profile", "default", bin(t, "BASH", "bash"), "-c", script)
		if res.code == 0 || strings.Contains(res.stdout, "CONNECTED") {
			t.Fatalf("connected to the host loopback with network none: %s", res)
		}
		select {
		case <-accepted:
			t.Fatalf("the host listener accepted a connection from the sandbox")
		default:
		}
		res = r.run(t, "", "run", "--profile", hostProfile, bin(t, "BASH", "bash"), "-c", script)
		if res.code != 0 || !strings.Contains(res.stdout, "CONNECTED") {
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
	forEach(t, func(t *testing.T, r runner) {
		res := r.run(t, "", "run", "--profile", "default", bin(t, "BASH", "bash"), "-c",
			`for d in /proc/[0-9]*; do echo "${d#/proc/} $(cat $d/comm)"; done`)
		if res.code != 0 {
			t.Fatalf("%s", res)
		}
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		if len(lines) > 4 || len(lines) < 2 {
			t.Fatalf("/proc inside lists %d processes, want the sandbox's 2-4: %q", len(lines), res.stdout)
		}
		for _, l := range lines {
			if strings.Contains(l, "sleep") {
				t.Fatalf("host process visible inside: %q", res.stdout)
			}
		}
		if !strings.HasPrefix(lines[0], "1 ") {
			t.Fatalf("pid 1 is not nixbox-init: %q", res.stdout)
		}
	})
}

// TestHomePersists: $HOME writes persist in the per-profile home and never
// reach the real home.
func TestHomePersists(t *testing.T) {
	prof := writeProfile(t, "persist", "version = 1\nextends = \"default\"\n[home]\nmode = \"persistent\"\n")
	forEach(t, func(t *testing.T, r runner) {
		sh := bin(t, "BASH", "bash")
		res := r.run(t, "", "run", "--profile", prof, sh, "-c", `echo kept > "$HOME/note" && echo "$HOME"`)
		if res.code != 0 || strings.TrimSpace(res.stdout) != r.home {
			t.Fatalf("first run: %s", res)
		}
		if _, err := os.Lstat(filepath.Join(r.home, "note")); err == nil {
			t.Fatalf("the write reached the real home")
		}
		stored := filepath.Join(r.home, ".local/share/nixbox/persist/home/note")
		if b, err := os.ReadFile(stored); err != nil || string(b) != "kept\n" {
			t.Fatalf("per-profile home does not hold the file: %v %q", err, b)
		}
		res = r.run(t, "", "run", "--profile", prof, bin(t, "COREUTILS", "cat"), r.home+"/note")
		if res.code != 0 || res.stdout != "kept\n" {
			t.Fatalf("second run: %s", res)
		}
		// The default profile's home is ephemeral: nothing from before.
		res = r.run(t, "", "run", "--profile", "default", bin(t, "COREUTILS", "cat"), r.home+"/note")
		if res.code == 0 {
			t.Fatalf("ephemeral home saw the persistent file: %s", res)
		}
	})
}

// sandboxPids returns host pids whose command line starts with marker (so
// nixbox's own command line, which contains it later, does not count),
// ignoring zombies.
func sandboxPids(marker string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(strings.ReplaceAll(string(cmd), "\x00", " "), marker) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestKill9LeavesNothing: kill -9 of nixbox leaves no sandbox process, and
// the next run cleans the stale state.
func TestKill9LeavesNothing(t *testing.T) {
	forEach(t, func(t *testing.T, r runner) {
		marker := strconv.Itoa(900000 + int(time.Now().UnixNano()%99999))
		sleep := bin(t, "COREUTILS", "sleep")
		c := r.cmd(t.Context(), "run", "--profile", "default", sleep, marker)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(sandboxPids(sleep+" "+marker)) == 0 {
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
			left := sandboxPids(sleep + " " + marker)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sandbox processes survive kill -9 of nixbox: %v", left)
			}
			time.Sleep(20 * time.Millisecond)
		}
		state := filepath.Join(r.tmp, "nixbox-"+strconv.Itoa(r.uid), "instances")
		if ents, _ := os.ReadDir(state); len(ents) == 0 {
			t.Fatalf("expected the killed run's state in %s (the cleanup check would prove nothing)", state)
		}
		res := r.run(t, "", "run", "--profile", "default", bin(t, "COREUTILS", "true"))
		if res.code != 0 {
			t.Fatalf("next run: %s", res)
		}
		for _, sub := range []string{"instances", "run"} {
			if ents, _ := os.ReadDir(filepath.Join(r.tmp, "nixbox-"+strconv.Itoa(r.uid), sub)); len(ents) != 0 {
				t.Fatalf("stale state left in %s: %v", sub, ents)
			}
		}
	})
}

// TestSymlinkMember: a closure member that is a symlink (here to /etc) is
// recreated as a symlink, never bound through: following it inside leads
// to the sandbox's own /etc, not the host's.
func TestSymlinkMember(t *testing.T) {
	evil := fixture(t, "EVIL_SYMLINK")
	prof := writeProfile(t, "evil", "version = 1\nextends = \"default\"\n[app]\npackages = [\""+evil+"\"]\n")
	forEach(t, func(t *testing.T, r runner) {
		res := r.run(t, "", "run", "--profile", prof, bin(t, "COREUTILS", "readlink"), evil)
		if res.code != 0 || res.stdout != "/etc\n" {
			t.Fatalf("readlink of the member: %s", res)
		}
		res = r.run(t, "", "run", "--profile", prof, bin(t, "COREUTILS", "ls"), evil+"/")
		if res.code != 0 || strings.Contains(res.stdout, "shadow") || strings.Contains(res.stdout, "os-release") ||
			!strings.Contains(res.stdout, "passwd") {
			t.Fatalf("listing through the member shows more than the sandbox's /etc: %s", res)
		}
		res = r.run(t, "", "run", "--profile", "default", bin(t, "EVIL_APP", "evil-app"))
		if res.code == 0 || strings.Contains(res.stdout, "root:") {
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
		skipOrFail(t, "runc not installed (make setup installs it)")
	}
	forEach(t, func(t *testing.T, r runner) {
		dir := filepath.Join(r.tmp, "bundle")
		res := r.run(t, "", "spec", "--bundle", dir, "--profile", "default", bin(t, "COREUTILS", "echo"), "from runc")
		if res.code != 0 {
			t.Fatalf("spec --bundle: %s", res)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, runc, "--root", filepath.Join(r.tmp, "runc-state"), "run", "--bundle", dir,
			"nixbox-it-"+r.name+"-"+strconv.Itoa(os.Getpid()))
		c.Env = r.env("XDG_RUNTIME_DIR=" + r.tmp)
		if r.uid != os.Getuid() {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
				Uid: uint32(r.uid), Gid: uint32(r.gid), Groups: []uint32{uint32(r.gid)}}}
		}
		out, err := c.CombinedOutput()
		if err != nil || string(out) != "from runc\n" {
			t.Fatalf("runc run: %v\n%s", err, out)
		}
	})
}

// TestSignalsForwarded: SIGTERM sent to nixbox reaches the app (which
// handles it), and its exit status comes back.
func TestSignalsForwarded(t *testing.T) {
	forEach(t, func(t *testing.T, r runner) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := r.cmd(ctx, "run", "--profile", "default", bin(t, "BASH", "bash"), "-c",
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
	forEach(t, func(t *testing.T, r runner) {
		// stat, not open: listing the directory would itself open one.
		res := r.run(t, "", "run", "--profile", "default", bin(t, "BASH", "bash"), "-c",
			`for i in $(seq 0 1023 2>/dev/null || { i=0; while [ $i -lt 1024 ]; do echo $i; i=$((i+1)); done; }); do [ -e /proc/$$/fd/$i ] && printf '%s ' $i; done; echo`)
		if res.code != 0 || strings.TrimSpace(res.stdout) != "0 1 2" {
			t.Fatalf("descriptors inside: %s", res)
		}
	})
}

// TestNixboxDirsMasked: even a profile that binds ~/.config read-write
// (with unsafe) cannot reach nixbox's own profiles there, even when the
// directory does not exist yet (Firejail #7154).
func TestNixboxDirsMasked(t *testing.T) {
	prof := writeProfile(t, "cfg", "version = 1\nextends = \"default\"\n[[filesystem.bind]]\nsource = \"~/.config\"\nmode = \"rw\"\ncreate = true\nunsafe = \"test of the mask\"\n")
	forEach(t, func(t *testing.T, r runner) {
		cfg := filepath.Join(r.home, ".config")
		for _, withDir := range []bool{false, true} {
			_ = os.RemoveAll(filepath.Join(cfg, "nixbox"))
			if withDir {
				if err := os.MkdirAll(filepath.Join(cfg, "nixbox", "profiles"), 0o700); err != nil {
					t.Fatal(err)
				}
				_ = os.Chown(filepath.Join(cfg, "nixbox"), r.uid, r.gid)
				_ = os.Chown(filepath.Join(cfg, "nixbox", "profiles"), r.uid, r.gid)
			}
			res := r.run(t, "", "run", "--profile", prof, bin(t, "BASH", "bash"), "-c",
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
	prof := writeProfile(t, "planted", "version = 1\nextends = \"default\"\n[home]\nmode = \"persistent\"\n[filesystem]\nro = [\"~/Music\"]\n")
	forEach(t, func(t *testing.T, r runner) {
		music := filepath.Join(r.home, "Music")
		if err := os.Mkdir(music, 0o700); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(music, r.uid, r.gid)
		sh := bin(t, "BASH", "bash")
		// The first run creates the persistent home and plants the link,
		// as a compromised app would.
		res := r.run(t, "", "run", "--profile", prof, sh, "-c", `true`)
		if res.code != 0 {
			t.Fatalf("first run: %s", res)
		}
		appHome := filepath.Join(r.home, ".local/share/nixbox/planted/home")
		_ = os.Remove(filepath.Join(appHome, "Music")) // the mountpoint the first run left
		if err := os.Symlink("/etc", filepath.Join(appHome, "Music")); err != nil {
			t.Fatal(err)
		}
		res = r.run(t, "", "run", "--profile", prof, sh, "-c", `echo started`)
		if res.code != 125 || strings.Contains(res.stdout, "started") || !strings.Contains(res.stderr, "refusing to follow symlink") {
			t.Fatalf("run with a planted symlink: %s", res)
		}
	})
}
