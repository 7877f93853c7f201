//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
)

var delegateOnce sync.Once

// delegated makes sure the runner can have limits: root always can; the
// unprivileged runner gets a subtree delegated by the built nixbox's
// `setup-cgroups` run as root (the test has root: runners() needs it for
// the root half). The same step as scripts/setup-host.sh does on CI.
func delegated(t *testing.T, r *h.Runner) {
	t.Helper()
	if r.UID == 0 {
		return
	}
	var out []byte
	var err error
	delegateOnce.Do(func() {
		out, err = exec.Command(h.Nixbox, "setup-cgroups", "--user", h.TestUser).CombinedOutput()
	})
	if err != nil {
		t.Fatalf("setup-cgroups --user %s: %v\n%s", h.TestUser, err, out)
	}
}

// TestLimitsForkBomb: a fork bomb stops at limits.pids, and the host stays
// responsive meanwhile (the test's own goroutine keeps running).
func TestLimitsForkBomb(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		delegated(t, r)
		prof := h.WriteProfile(t, "bomb", "version = 1\n[limits]\npids = 32\n")
		var ticks atomic.Int64
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
					ticks.Add(1)
				}
			}
		}()
		start := time.Now()
		res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "FORKBOMB", "forkbomb"), "4096")
		elapsed := time.Since(start)
		close(stop)
		m := regexp.MustCompile(`fork failed after (\d+) children`).FindStringSubmatch(res.Stdout + res.Stderr)
		if res.Code != 1 || m == nil {
			t.Fatalf("fork bomb not stopped by pids = 32: %s", res)
		}
		if n, _ := strconv.Atoi(m[1]); n >= 32 {
			t.Fatalf("forked %d children under pids = 32", n)
		}
		// At least a third of the 10 ms ticks the run lasted happened.
		if want := int64(elapsed/(10*time.Millisecond)) / 3; ticks.Load() < want {
			t.Fatalf("host unresponsive: %d ticks in %v, want >= %d", ticks.Load(), elapsed, want)
		}
		t.Logf("%s: stopped after %s children in %v; %d ticks", r.Name, m[1], elapsed.Round(time.Millisecond), ticks.Load())
	})
}

// TestLimitsMemoryOOM: a memory bomb under limits.memory = "64M" is
// OOM-killed, nixbox says so with the limit, and exits 137.
func TestLimitsMemoryOOM(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		delegated(t, r)
		prof := h.WriteProfile(t, "hog", "version = 1\n[limits]\nmemory = \"64M\"\nmemory_swap = \"64M\"\n")
		res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "MEMHOG", "memhog"), "200")
		if res.Code != 137 || !strings.Contains(res.Stderr, "nixbox: hog was killed: out of memory (limit 64 MiB)\n") {
			t.Fatalf("memory bomb: %s", res)
		}
		if strings.Contains(res.Stdout, "allocated 200 MiB") {
			t.Fatalf("memhog finished under a 64 MiB limit: %s", res)
		}
		// 48 MiB fits.
		res = r.Run(t, "", "run", "--profile", prof, h.Bin(t, "MEMHOG", "memhog"), "40")
		if res.Code != 0 || !strings.Contains(res.Stdout, "allocated 40 MiB") {
			t.Fatalf("40 MiB under 64 MiB: %s", res)
		}
	})
}

type statsLine struct {
	ID          string  `json:"id"`
	Profile     string  `json:"profile"`
	Cgroup      string  `json:"cgroup"`
	MemoryBytes uint64  `json:"memory_bytes"`
	MemoryPeak  uint64  `json:"memory_peak_bytes"`
	CPUNanos    uint64  `json:"cpu_ns"`
	Pids        uint64  `json:"pids"`
	OOMKills    uint64  `json:"oom_kills"`
	CPUCores    float64 `json:"cpu_cores"`
	Error       string  `json:"error"`
}

func statsOf(t *testing.T, r *h.Runner, profile string) (statsLine, bool) {
	t.Helper()
	res := r.Run(t, "", "stats", "--json")
	if res.Code != 0 {
		t.Fatalf("stats --json: %s", res)
	}
	var sts []statsLine
	if err := json.Unmarshal([]byte(res.Stdout), &sts); err != nil {
		t.Fatalf("stats --json: %v: %q", err, res.Stdout)
	}
	for _, s := range sts {
		if s.Profile == profile {
			return s, true
		}
	}
	return statsLine{}, false
}

// TestLimitsCPUAndStats: a busy loop under limits.cpu = 0.2 uses 0.2 ±
// 0.05 cores, measured from the cgroup's CPU usage (`nixbox stats --json`)
// over about 3 s while it runs; stats shows non-zero memory and CPU.
func TestLimitsCPUAndStats(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		delegated(t, r)
		prof := h.WriteProfile(t, "busy", "version = 1\n[limits]\ncpu = 0.2\npids = 64\n")
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := r.Cmd(ctx, "run", "--profile", prof, h.Bin(t, "BASH", "bash"), "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Process.Kill(); _ = c.Wait() }()
		var s0 statsLine
		deadline := time.Now().Add(20 * time.Second)
		for {
			s, ok := statsOf(t, r, "busy")
			if ok && s.Error == "" && s.CPUNanos > 0 {
				s0 = s
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no stats for the busy instance: %+v", s)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t0 := time.Now()
		time.Sleep(3 * time.Second)
		s1, ok := statsOf(t, r, "busy")
		wall := time.Since(t0)
		if !ok || s1.Error != "" {
			t.Fatalf("stats: %+v", s1)
		}
		cores := float64(s1.CPUNanos-s0.CPUNanos) / float64(wall.Nanoseconds())
		t.Logf("%s: %.3f cores over %v (cpu %d -> %d ns); memory %d B (peak %d B), pids %d, cgroup %s",
			r.Name, cores, wall.Round(time.Millisecond), s0.CPUNanos, s1.CPUNanos, s1.MemoryBytes, s1.MemoryPeak, s1.Pids, s1.Cgroup)
		if cores < 0.15 || cores > 0.25 {
			t.Fatalf("busy loop under cpu = 0.2 used %.3f cores", cores)
		}
		if s1.MemoryBytes == 0 || s1.CPUNanos == 0 || s1.Pids == 0 {
			t.Fatalf("stats of a busy app: %+v", s1)
		}
		if res := r.Run(t, "", "kill", s1.ID, "KILL"); res.Code != 0 {
			t.Fatalf("kill: %s", res)
		}
		_ = c.Wait()
		if res := r.Run(t, "", "top", "-n", "1"); res.Code != 0 || !strings.Contains(res.Stdout, "PROFILE") {
			t.Fatalf("top -n 1: %s", res)
		}
	})
}

// TestLimitsWithoutDelegation: limits without a delegated cgroup are
// refused with exit 125 and the fix named; the app never starts.
//
// The unprivileged runner has a delegated subtree (other tests need it),
// so the test points nixbox at a parent that is not delegated with
// NIXBOX_CGROUP_PARENT. That is the same check a user without delegation
// hits (PrepareParent with the default parent /nixbox-USER), through the
// same code path, and needs no second test user. Root may use any
// cgroup, so only the unprivileged runner is refused.
func TestLimitsWithoutDelegation(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		if r.UID == 0 {
			t.Skip("root may create cgroups anywhere: nothing to refuse")
		}
		prof := h.WriteProfile(t, "lim", "version = 1\n[limits]\nmemory = \"64M\"\n")
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := r.Cmd(ctx, "run", "--profile", prof, h.Bin(t, "COREUTILS", "echo"), "started")
		c.Env = r.Env("NIXBOX_CGROUP_PARENT=/nixbox-not-delegated")
		out, err := c.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 125 || strings.Contains(string(out), "started") ||
			!strings.Contains(string(out), "nixbox: hint: run once as root: sudo nixbox setup-cgroups --user "+h.TestUser) ||
			!strings.Contains(string(out), "/nixbox-not-delegated (missing)") {
			t.Fatalf("limits without delegation: exit %d\n%s", code, out)
		}
	})
}

// TestDoctor: doctor passes on the test host and reports every item.
func TestDoctor(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		delegated(t, r)
		res := r.Run(t, "", "doctor")
		if res.Code != 0 {
			t.Fatalf("doctor: %s", res)
		}
		for _, want := range []string{"user namespaces", "seccomp (kernel)", "seccomp (nixbox)", "cgroup version", "limits", "landlock"} {
			if !strings.Contains(res.Stdout, want) {
				t.Fatalf("doctor does not report %q:\n%s", want, res.Stdout)
			}
		}
		if !regexp.MustCompile(`ok +limits`).MatchString(res.Stdout) {
			t.Fatalf("doctor: limits not available after delegation:\n%s", res.Stdout)
		}
	})
}
