//go:build integration

package harness

import (
	"bufio"
	"bytes"
	"context"
	"flag"
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

// TestUser is the unprivileged account created by scripts/setup-host.sh.
const TestUser = "nixbox-test"

var (
	// WorkDir is a world-readable temp dir holding copies of the binaries,
	// per-runner dirs and profiles.
	WorkDir string
	// Nixbox is the path of the nixbox binary under test.
	Nixbox string
	// Fixtures maps a fixture KEY to its store path (build/fixtures.env).
	Fixtures map[string]string
)

// Suite says how Main prepares one test binary.
type Suite struct {
	// Name goes into the work dir's name (nixbox-<Name>-*).
	Name string
	// Parallel is the -test.parallel to use when the flag was not given
	// (0: Go's default, GOMAXPROCS).
	Parallel int
	// Canaries plants the global canaries (GlobalCanaries, FakeRoot,
	// RunSecrets) that the escape suite's host invariants check.
	Canaries bool
}

// Main prepares the harness for the escape suite and runs the tests; use
// it as `func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }`.
func Main(m *testing.M) int {
	// nixbox runs are latency-bound: run more than GOMAXPROCS at once.
	return Suite{Name: "esc", Parallel: 6, Canaries: true}.Main(m)
}

// Main prepares the harness as s says and runs the tests: it copies the
// binaries named by NIXBOX_BIN and NIXBOX_INIT_BIN into a world-readable
// WorkDir and reads the fixtures named by NIXBOX_FIXTURES. Without them
// it runs nothing, which is a failure under CI=true.
func (s Suite) Main(m *testing.M) int {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && s.Parallel > 0 {
		_ = flag.Set("test.parallel", strconv.Itoa(s.Parallel))
	}
	bin, initBin, fx := os.Getenv("NIXBOX_BIN"), os.Getenv("NIXBOX_INIT_BIN"), os.Getenv("NIXBOX_FIXTURES")
	if bin == "" || initBin == "" || fx == "" {
		fmt.Fprintln(os.Stderr, "harness: NIXBOX_BIN, NIXBOX_INIT_BIN and NIXBOX_FIXTURES must be set; run `make integration`")
		if CI() {
			return 1
		}
		return 0
	}
	var err error
	if Fixtures, err = ReadEnvFile(fx); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	// A world-readable work dir: the unprivileged user must reach the
	// binaries, wherever the checkout is.
	if WorkDir, err = os.MkdirTemp("", "nixbox-"+s.Name+"-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(WorkDir)
	_ = os.Chmod(WorkDir, 0o755)
	binDir := filepath.Join(WorkDir, "bin")
	_ = os.Mkdir(binDir, 0o755)
	for _, b := range []string{bin, initBin} {
		if err := CopyFile(b, filepath.Join(binDir, filepath.Base(b)), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	Nixbox = filepath.Join(binDir, filepath.Base(bin))
	if s.Canaries {
		cleanup, err := setupGlobalCanaries()
		if err != nil {
			fmt.Fprintln(os.Stderr, "harness: canaries:", err)
			return 1
		}
		defer cleanup()
	}
	return m.Run()
}

// ReadEnvFile reads KEY=value lines.
func ReadEnvFile(path string) (map[string]string, error) {
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
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out, sc.Err()
}

// CopyFile copies src to a new dst with mode.
func CopyFile(src, dst string, mode os.FileMode) error {
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

// CI reports whether CI=true: skips become failures.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips loudly, or fails under CI=true: CI has root and must
// run every sandbox test.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("sandbox test cannot run under CI=true: %s", msg)
	}
	t.Skipf("SKIP (not a pass): %s", msg)
}

// Fixture returns a fixture store path or stops the test.
func Fixture(t testing.TB, key string) string {
	t.Helper()
	p := Fixtures[key]
	if p == "" {
		SkipOrFail(t, "fixture %s missing from build/fixtures.env (run `make fixtures`)", key)
	}
	return p
}

// Bin is Fixture(key)/bin/prog.
func Bin(t testing.TB, key, prog string) string {
	return filepath.Join(Fixture(t, key), "bin", prog)
}

// Runner is one identity the suite runs nixbox as.
type Runner struct {
	Name     string
	UID, GID int
	Home     string    // a fresh HOME for nixbox runs (never the real one)
	Tmp      string    // TMPDIR: nixbox keeps its state below it
	Base     string    // parent of Home and Tmp
	Sentinel *Sentinel // a host process of the runner's uid (NewRunner only)
}

// Runners returns root and the unprivileged test user, each with a fresh
// home and temp dir (and no sentinel: Matrix's runners have one). It
// skips loudly, or fails under CI=true, when one cannot be used.
func Runners(t *testing.T) []*Runner {
	t.Helper()
	var rs []*Runner
	for _, id := range identities(t) {
		rs = append(rs, newRunner(t, id.name, id.uid, id.gid))
	}
	return rs
}

// ForEach runs f as a subtest for every runner of Runners.
func ForEach(t *testing.T, f func(t *testing.T, r *Runner)) {
	for _, r := range Runners(t) {
		t.Run(r.Name, func(t *testing.T) { f(t, r) })
	}
}

// NewRunner makes a runner with a fresh home, temp dir and sentinel.
func NewRunner(t *testing.T, name string, uid, gid int) *Runner {
	t.Helper()
	r := newRunner(t, name, uid, gid)
	r.Sentinel = StartSentinel(t, uid, gid)
	return r
}

func newRunner(t *testing.T, name string, uid, gid int) *Runner {
	t.Helper()
	base, err := os.MkdirTemp(WorkDir, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(base, 0o755)
	r := &Runner{Name: name, UID: uid, GID: gid, Base: base,
		Home: filepath.Join(base, "home"), Tmp: filepath.Join(base, "tmp")}
	for _, d := range []string{r.Home, r.Tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		r.Chown(t, d)
	}
	return r
}

// Chown gives p to the runner (a no-op when not root).
func (r *Runner) Chown(t testing.TB, p string) {
	t.Helper()
	if err := os.Lchown(p, r.UID, r.GID); err != nil && os.Getuid() == 0 {
		t.Fatal(err)
	}
}

// MkdirAll creates dirs below the runner's home (or anywhere), owned by it.
func (r *Runner) MkdirAll(t testing.TB, p string, mode os.FileMode) {
	t.Helper()
	var todo []string
	for d := p; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		todo = append(todo, d)
	}
	for i := len(todo) - 1; i >= 0; i-- {
		if err := os.Mkdir(todo[i], mode); err != nil {
			t.Fatal(err)
		}
		r.Chown(t, todo[i])
	}
}

// WriteFile writes a file owned by the runner, creating parents.
func (r *Runner) WriteFile(t testing.TB, p, content string, mode os.FileMode) {
	t.Helper()
	r.MkdirAll(t, filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	r.Chown(t, p)
}

// Cred is the SysProcAttr that runs a command as r (nil when r is us).
func (r *Runner) Cred() *syscall.SysProcAttr {
	if r.UID == os.Getuid() {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(r.UID), Gid: uint32(r.GID), Groups: []uint32{uint32(r.GID)}}}
}

// Env is the clean environment nixbox runs with.
func (r *Runner) Env(extra ...string) []string {
	return append([]string{
		"HOME=" + r.Home,
		"TMPDIR=" + r.Tmp,
		"PATH=/usr/bin:/bin",
		"LANG=C",
		"USER=" + r.Name,
	}, extra...)
}

// Cmd builds a nixbox command run as r.
func (r *Runner) Cmd(ctx context.Context, args ...string) *exec.Cmd {
	return r.CmdBin(ctx, Nixbox, args...)
}

// CmdBin is Cmd with another nixbox binary (a copy installed elsewhere).
func (r *Runner) CmdBin(ctx context.Context, bin string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, bin, args...)
	c.Env = r.Env()
	c.Dir = r.Home
	c.SysProcAttr = r.Cred()
	return c
}

// Result is one finished nixbox command.
type Result struct {
	// Code is the exit status, or -1 when the command itself was killed
	// by a signal (see Signal). Never 128+n for that: 128+n is what nixbox
	// exits with when the app died of signal n, and a check for it must
	// not pass because nixbox itself was killed (say by the 60 s limit).
	Code           int
	Signal         syscall.Signal // what killed the command itself, or 0
	Stdout, Stderr string
	Elapsed        time.Duration
}

func (r Result) String() string {
	if r.Signal != 0 {
		return fmt.Sprintf("exit %d (killed by %v)\nstdout: %q\nstderr: %q", r.Code, r.Signal, r.Stdout, r.Stderr)
	}
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.Code, r.Stdout, r.Stderr)
}

// Run runs nixbox as r with a 60 s limit and returns what happened.
func (r *Runner) Run(t testing.TB, stdin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.RunCmd(t, r.Cmd(ctx, args...), stdin)
}

// RunCmd runs a prepared command (see Cmd) and returns what happened.
func (r *Runner) RunCmd(t testing.TB, c *exec.Cmd, stdin string) Result {
	t.Helper()
	var out, errb bytes.Buffer
	if c.Stdin == nil {
		c.Stdin = strings.NewReader(stdin)
	}
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	err := c.Run()
	res := Result{Stdout: out.String(), Stderr: errb.String(), Elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal()
		}
	} else if err != nil {
		t.Fatalf("running %v: %v", c.Args, err)
	}
	if strings.Contains(res.Stderr, "panic:") || strings.Contains(res.Stderr, "goroutine ") {
		t.Fatalf("nixbox panicked: %s", res)
	}
	return res
}

// WriteProfile writes a profile file readable by every runner, owned by
// root (accepted for every user) and not writable by others.
func WriteProfile(t testing.TB, name, body string) string {
	t.Helper()
	dir, err := os.MkdirTemp(WorkDir, "profiles-")
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

// LookupUID returns the uid of a user or stops the test.
func LookupUID(t testing.TB, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		SkipOrFail(t, "user %s missing (run `make setup`): %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}
