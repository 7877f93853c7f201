//go:build integration

package harness

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Canary is one planted file with random content.
type Canary struct {
	Path    string
	Content string // NBX-CANARY-<rand>
	sum     string
	mtime   time.Time
}

// NewCanaryString returns NBX-CANARY-<16 hex>.
func NewCanaryString() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "NBX-CANARY-" + hex.EncodeToString(b)
}

func plantCanary(p string, mode os.FileMode, uid, gid int) (*Canary, error) {
	c := &Canary{Path: p, Content: NewCanaryString()}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, []byte(c.Content+"\n"), mode); err != nil {
		return nil, err
	}
	if os.Getuid() == 0 {
		if err := os.Chown(p, uid, gid); err != nil {
			return nil, err
		}
	}
	return c, c.record()
}

func (c *Canary) record() error {
	b, err := os.ReadFile(c.Path)
	if err != nil {
		return err
	}
	st, err := os.Lstat(c.Path)
	if err != nil {
		return err
	}
	s := sha256.Sum256(b)
	c.sum, c.mtime = hex.EncodeToString(s[:]), st.ModTime()
	return nil
}

// Check reports how the canary changed, or "".
func (c *Canary) Check() string {
	st, err := os.Lstat(c.Path)
	if err != nil {
		return fmt.Sprintf("canary %s: %v", c.Path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Sprintf("canary %s is no longer a regular file (%v)", c.Path, st.Mode())
	}
	b, err := os.ReadFile(c.Path)
	if err != nil {
		return fmt.Sprintf("canary %s: %v", c.Path, err)
	}
	s := sha256.Sum256(b)
	if hex.EncodeToString(s[:]) != c.sum {
		return fmt.Sprintf("canary %s: sha256 changed (now %q)", c.Path, b)
	}
	if !st.ModTime().Equal(c.mtime) {
		return fmt.Sprintf("canary %s: mtime changed", c.Path)
	}
	return ""
}

// Global canaries, planted once by Main: the host temp dir, /dev/shm, a
// fake secrets root under a temp dir, and, only where absent and only as
// root or under CI=true, the real /run/secrets and /run/agenix (removed
// at exit; existing files are never touched).
var (
	globalCanaries []*Canary
	// FakeRoot holds run/secrets, run/agenix, var/run/docker.sock ...
	// stand-ins (a temp dir; never the real /run).
	FakeRoot string
	// RunSecrets lists the real /run/secrets-like dirs the harness
	// created (empty when they existed already or we are not root).
	RunSecrets []string
)

// GlobalCanaries returns the canaries planted by Main.
func GlobalCanaries() []*Canary { return globalCanaries }

func setupGlobalCanaries() (func(), error) {
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	add := func(p string, mode os.FileMode) error {
		c, err := plantCanary(p, mode, 0, 0)
		if err != nil {
			return err
		}
		globalCanaries = append(globalCanaries, c)
		cleanups = append(cleanups, func() { _ = os.Remove(p) })
		return nil
	}
	tag := NewCanaryString()[len("NBX-CANARY-"):]
	// World-readable: the sandbox, not DAC, must be what hides them.
	for _, p := range []string{
		filepath.Join(os.TempDir(), "nbx-canary-"+tag),
		filepath.Join("/var/tmp", "nbx-canary-"+tag),
		filepath.Join("/dev/shm", "nbx-canary-"+tag),
	} {
		if err := add(p, 0o644); err != nil {
			cleanup()
			return nil, err
		}
	}
	var err error
	if FakeRoot, err = os.MkdirTemp(WorkDir, "fakeroot-"); err != nil {
		cleanup()
		return nil, err
	}
	_ = os.Chmod(FakeRoot, 0o755)
	for _, p := range []string{"run/secrets/x", "run/agenix/x"} {
		if err := add(filepath.Join(FakeRoot, p), 0o644); err != nil {
			cleanup()
			return nil, err
		}
	}
	if os.Getuid() == 0 || CI() {
		for _, d := range []string{"/run/secrets", "/run/agenix"} {
			if _, err := os.Lstat(d); err == nil {
				continue // exists: never touch it
			}
			if err := os.Mkdir(d, 0o755); err != nil {
				continue
			}
			RunSecrets = append(RunSecrets, d)
			dd := d
			cleanups = append(cleanups, func() { _ = os.RemoveAll(dd) })
			if err := add(filepath.Join(d, "x"), 0o644); err != nil {
				cleanup()
				return nil, err
			}
		}
	}
	return cleanup, nil
}

// HomeCanaries plants canaries in the runner's (test) home: ~/.ssh,
// ~/.gnupg, ~/.config, ~/.bashrc, ~/.profile, ~/.ssh/authorized_keys.
func (r *Runner) HomeCanaries(t testing.TB) []*Canary {
	t.Helper()
	var cs []*Canary
	for _, rel := range []string{".ssh/id_ed25519", ".ssh/authorized_keys", ".gnupg/private-keys-v1.d/k.key",
		".config/canary.conf", ".bashrc", ".profile", "private/secret.txt"} {
		p := filepath.Join(r.Home, rel)
		r.MkdirAll(t, filepath.Dir(p), 0o700)
		c, err := plantCanary(p, 0o600, r.UID, r.GID)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// Sentinel is a host process the sandbox must not touch.
type Sentinel struct {
	Pid int
	cmd *exec.Cmd
}

// StartSentinel starts `sleep 3600` as uid/gid (so DAC alone would let a
// same-uid attacker signal it), killed at the end of the test.
func StartSentinel(t testing.TB, uid, gid int) *Sentinel {
	t.Helper()
	c := exec.Command("sleep", "3600")
	if uid != os.Getuid() {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}}
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Sentinel{Pid: c.Process.Pid, cmd: c}
	exited := make(chan struct{})
	go func() { _ = c.Wait(); close(exited) }()
	t.Cleanup(func() { _ = c.Process.Kill(); <-exited })
	return s
}

// Alive reports whether the sentinel is running (not dead, not a zombie,
// not stopped).
func (s *Sentinel) Alive() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.Pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && (b[i+2] == 'S' || b[i+2] == 'R')
}

// Mountinfo returns the host's mount table (mount points and options; the
// line is kept whole).
func Mountinfo(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mountinfo is shared by parallel subtests: a change is checked against
// the snapshot taken when the first of them started.
var (
	mountMu   sync.Mutex
	mountBase string
)

// MountinfoDiff returns lines added or removed between a and b.
func MountinfoDiff(a, b string) []string {
	in := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		in[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		in[l]--
	}
	var d []string
	for l, n := range in {
		if n > 0 {
			d = append(d, "- "+l)
		} else if n < 0 {
			d = append(d, "+ "+l)
		}
	}
	return d
}

// HostMountinfo returns the baseline snapshot (taken once).
func HostMountinfo(t testing.TB) string {
	mountMu.Lock()
	defer mountMu.Unlock()
	if mountBase == "" {
		mountBase = Mountinfo(t)
	}
	return mountBase
}
