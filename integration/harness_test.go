//go:build integration

package integration

// XXX(harness): integration/harness (the escape suite's) grew from this
// file and repeats its runner and run helpers; these tests should move
// onto it so the two cannot drift.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testUser is the unprivileged account created by scripts/setup-host.sh.
const testUser = "nixbox-test"

var (
	workDir  string            // world-readable copy of the binaries and per-runner dirs
	nixbox   string            // path of the nixbox binary under test
	fixtures map[string]string // KEY -> store path, from build/fixtures.env
)

// runner is one identity the suite runs nixbox as.
type runner struct {
	name     string
	uid, gid int
	home     string // a fresh HOME for nixbox runs (never the real one)
	tmp      string // TMPDIR: nixbox keeps its state below it
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	bin, initBin, fx := os.Getenv("NIXBOX_BIN"), os.Getenv("NIXBOX_INIT_BIN"), os.Getenv("NIXBOX_FIXTURES")
	if bin == "" || initBin == "" || fx == "" {
		fmt.Fprintln(os.Stderr, "integration: NIXBOX_BIN, NIXBOX_INIT_BIN and NIXBOX_FIXTURES must be set; run `make integration`")
		if os.Getenv("CI") == "true" {
			return 1
		}
		return 0
	}
	var err error
	if fixtures, err = readEnvFile(fx); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	// A world-readable work dir: the unprivileged user must reach the
	// binaries, wherever the checkout is.
	if workDir, err = os.MkdirTemp("", "nixbox-it-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	_ = os.Chmod(workDir, 0o755)
	binDir := filepath.Join(workDir, "bin")
	_ = os.Mkdir(binDir, 0o755)
	for _, b := range []string{bin, initBin} {
		if err := copyFile(b, filepath.Join(binDir, filepath.Base(b)), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	nixbox = filepath.Join(binDir, filepath.Base(bin))
	return m.Run()
}

func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading fixtures (run `make fixtures`): %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out, sc.Err()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// skipOrFail skips loudly, or fails under CI=true: CI has root and must
// run every sandbox test.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("sandbox test cannot run under CI=true: %s", msg)
	}
	t.Skipf("SKIP (not a pass): %s", msg)
}

// fixture returns a fixture store path or stops the test.
func fixture(t *testing.T, key string) string {
	t.Helper()
	p := fixtures[key]
	if p == "" {
		skipOrFail(t, "fixture %s missing from build/fixtures.env (run `make fixtures`)", key)
	}
	return p
}

// runners returns root and the unprivileged test user, each with a fresh
// home and temp dir. It skips loudly when one cannot be used.
func runners(t *testing.T) []runner {
	t.Helper()
	var rs []runner
	if os.Getuid() == 0 {
		rs = append(rs, newRunner(t, "root", 0, 0))
		u, err := user.Lookup(testUser)
		if err != nil {
			skipOrFail(t, "test user %s missing (run `make setup`): %v", testUser, err)
			return rs
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		rs = append(rs, newRunner(t, "rootless", uid, gid))
	} else {
		skipOrFail(t, "not root: the root half of the suite cannot run")
		rs = append(rs, newRunner(t, "rootless", os.Getuid(), os.Getgid()))
	}
	return rs
}

func newRunner(t *testing.T, name string, uid, gid int) runner {
	t.Helper()
	base, err := os.MkdirTemp(workDir, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(base, 0o755)
	r := runner{name: name, uid: uid, gid: gid, home: filepath.Join(base, "home"), tmp: filepath.Join(base, "tmp")}
	for _, d := range []string{r.home, r.tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil && os.Getuid() == 0 {
			t.Fatal(err)
		}
	}
	return r
}

// result is one finished nixbox command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
}

// env is the clean environment nixbox runs with.
func (r runner) env(extra ...string) []string {
	return append([]string{
		"HOME=" + r.home,
		"TMPDIR=" + r.tmp,
		"PATH=/usr/bin:/bin",
		"LANG=C",
		"USER=" + r.name,
	}, extra...)
}

// cmd builds a nixbox command run as r.
func (r runner) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, nixbox, args...)
	c.Env = r.env()
	c.Dir = r.home
	if r.uid != os.Getuid() {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(r.uid), Gid: uint32(r.gid), Groups: []uint32{uint32(r.gid)}}}
	}
	return c
}

// run runs nixbox as r with a 60 s limit and returns what happened.
func (r runner) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := r.cmd(ctx, args...)
	var out, errb bytes.Buffer
	c.Stdin = strings.NewReader(stdin)
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running nixbox %v: %v", args, err)
	}
	if strings.Contains(res.stderr, "panic:") || strings.Contains(res.stderr, "goroutine ") {
		t.Fatalf("nixbox panicked: %s", res)
	}
	return res
}

// writeProfile writes a profile file readable by every runner, owned by
// root (accepted for every user) and not writable by others.
func writeProfile(t *testing.T, name, body string) string {
	t.Helper()
	dir, err := os.MkdirTemp(workDir, "profiles-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	p := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// forEach runs f as a subtest for every runner.
func forEach(t *testing.T, f func(t *testing.T, r runner)) {
	for _, r := range runners(t) {
		t.Run(r.name, func(t *testing.T) { f(t, r) })
	}
}
