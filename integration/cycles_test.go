//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
)

// How TestCycles ends a sandbox.
const (
	endKillID       = iota // nixbox kill ID (TERM or KILL)
	endTermLauncher        // SIGTERM to nixbox
	endKill9Running        // SIGKILL to nixbox once the app runs
	endKill9Start          // SIGKILL to nixbox while the sandbox starts
	endModes
)

const (
	cycles    = 200
	batchSize = 5
)

// TestCycles: 200 start/kill cycles per runner, ended by `nixbox kill`,
// SIGTERM to nixbox, and SIGKILL to nixbox (also while the sandbox is
// still starting), leave no sandbox process, no state (after the next
// ordinary run, which collects it), no mount and no cgroup behind (issue 5).
func TestCycles(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		profName := fmt.Sprintf("cycles%06d", rand.IntN(1000000))
		prof := h.WriteProfile(t, profName, "version = 1\nextends = \"default\"\n")
		// A sleep of a duration no other process on the host uses marks
		// the sandboxes of this test on the host.
		marker := strconv.Itoa(3000000 + rand.IntN(1000000))
		sleep := h.Bin(t, "COREUTILS", "sleep")
		mountsBefore := nixboxMounts(t, r)

		start := time.Now()
		lastEnd := time.Now()
		for b := 0; b < cycles/batchSize; b++ {
			mode := b % endModes
			runBatch(t, r, prof, sleep, marker, mode, b)
			lastEnd = time.Now()
			if t.Failed() {
				t.FailNow()
			}
		}
		t.Logf("%d cycles in %v", cycles, time.Since(start).Round(time.Millisecond))

		// No sandbox process and no libcontainer bootstrap is left.
		deadline := time.Now().Add(15 * time.Second)
		for {
			left := leftProcesses(marker)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("processes left after the cycles:\n%s", strings.Join(left, "\n"))
			}
			time.Sleep(100 * time.Millisecond)
		}

		// One more ordinary run collects what the killed runs left. A
		// run killed between creating its instance directory and locking
		// it is collected once that is 5 s old.
		if d := 6*time.Second - time.Since(lastEnd); d > 0 {
			time.Sleep(d)
		}
		if res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "COREUTILS", "true")); res.Code != 0 {
			t.Fatalf("the ordinary run after the cycles: %s", res)
		}
		stateRoot := filepath.Join(r.Tmp, fmt.Sprintf("nixbox-%d", r.UID))
		for _, sub := range []string{"instances", "run"} {
			ents, err := os.ReadDir(filepath.Join(stateRoot, sub))
			if err != nil {
				t.Fatalf("reading the state root: %v", err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if len(names) != 0 {
				t.Errorf("%s/%s is not empty after GC: %v", stateRoot, sub, names)
			}
		}

		if after := nixboxMounts(t, r); strings.Join(after, "\n") != strings.Join(mountsBefore, "\n") {
			t.Errorf("host mounts changed:\nbefore %v\nafter  %v", mountsBefore, after)
		}

		if cg := cgroupsNamed("nixbox-" + profName + "-"); len(cg) != 0 {
			t.Errorf("cgroups left: %v", cg)
		}
	})
}

// runBatch starts batchSize sandboxes at once and ends them all by mode.
func runBatch(t *testing.T, r *h.Runner, prof, sleep, marker string, mode, b int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type run struct {
		cmd    *exec.Cmd
		stderr bytes.Buffer
		done   chan error
	}
	runs := make([]*run, batchSize)
	for i := range runs {
		x := &run{done: make(chan error, 1)}
		x.cmd = r.Cmd(ctx, "run", "--profile", prof, sleep, marker)
		x.cmd.Stderr = &x.stderr
		if err := x.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { x.done <- x.cmd.Wait() }()
		runs[i] = x
	}

	switch mode {
	case endKill9Start:
		// Somewhere in the first 300 ms: from before the instance exists
		// to libcontainer's bootstrap and nixbox-init's start.
		for _, x := range runs {
			time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
			_ = x.cmd.Process.Signal(syscall.SIGKILL)
		}
	default:
		ids := waitListed(t, r, batchSize, 30*time.Second)
		// A signal sent to the sandbox's init before nixbox-init has
		// installed its handlers is dropped (PID 1 ignores default-action
		// signals): wait until the apps have been started by it.
		waitApps(t, sleep, marker, batchSize, 30*time.Second)
		switch mode {
		case endKillID:
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Add(1)
				sig := "TERM"
				if (b+i)%2 == 1 {
					sig = "KILL"
				}
				go func() {
					defer wg.Done()
					if res := r.Run(t, "", "kill", id, sig); res.Code != 0 {
						t.Errorf("kill %s %s: %s", id, sig, res)
					}
				}()
			}
			wg.Wait()
		case endTermLauncher:
			for _, x := range runs {
				_ = x.cmd.Process.Signal(syscall.SIGTERM)
			}
		case endKill9Running:
			for _, x := range runs {
				_ = x.cmd.Process.Signal(syscall.SIGKILL)
			}
		}
	}

	for i, x := range runs {
		select {
		case err := <-x.done:
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Errorf("batch %d run %d: exited with %v, want an end by signal; stderr %q", b, i, err, x.stderr.String())
				continue
			}
			ws := ee.Sys().(syscall.WaitStatus)
			switch mode {
			case endKillID, endTermLauncher:
				if c := ee.ExitCode(); c != 128+15 && c != 128+9 {
					t.Errorf("batch %d run %d (mode %d): exit %v, want 143 or 137; stderr %q", b, i, mode, ws, x.stderr.String())
				}
			default:
				if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Errorf("batch %d run %d (mode %d): %v, want killed by SIGKILL; stderr %q", b, i, mode, ws, x.stderr.String())
				}
			}
		case <-time.After(30 * time.Second):
			_ = x.cmd.Process.Kill()
			t.Errorf("batch %d run %d (mode %d) did not end within 30 s", b, i, mode)
		}
	}
}

// waitListed waits until ps lists n instances with a record and returns
// their ids.
func waitListed(t *testing.T, r *h.Runner, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res := r.Run(t, "", "ps", "--json")
		var recs []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &recs); err != nil {
			t.Fatalf("ps --json: %v: %s", err, res)
		}
		if len(recs) >= n {
			var ids []string
			for _, x := range recs {
				ids = append(ids, x.ID)
			}
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("ps lists %d instances after %v, want %d", len(recs), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitApps waits until n apps (sleep MARKER, exec'd by nixbox-init) run.
func waitApps(t *testing.T, sleep, marker string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := 0
		for _, p := range leftProcesses(marker) {
			if strings.Contains(p, ": "+sleep+" "+marker) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d apps running after %v", got, n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leftProcesses lists live (not zombie) host processes of this test: the
// sandboxes (their command lines hold the marker) and libcontainer's
// bootstrap ("<nixbox under test> init").
func leftProcesses(marker string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		ours := args[0] == h.Nixbox
		for _, a := range args[1:] {
			if a == marker {
				ours = true
			}
		}
		if !ours {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) S ...: the state follows the last ')'.
		s := string(st)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 && s[i+2] == 'Z' {
			continue
		}
		out = append(out, e.Name()+": "+strings.Join(args, " "))
	}
	return out
}

// nixboxMounts lists the host's mount points below this runner's TMPDIR
// (the state root) or the suite's work dir.
func nixboxMounts(t *testing.T, r *h.Runner) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if strings.HasPrefix(f[4], r.Tmp) || strings.HasPrefix(f[4], h.WorkDir) {
			out = append(out, f[3]+" "+f[4])
		}
	}
	sort.Strings(out)
	return out
}

// cgroupsNamed lists cgroup directories under /sys/fs/cgroup whose name
// starts with prefix (a few levels deep: v1 hierarchies nest the
// sandbox's cgroup under the launcher's own).
func cgroupsNamed(prefix string) []string {
	var out []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(p, "/sys/fs/cgroup"), "/") > 6 {
			return filepath.SkipDir
		}
		if strings.HasPrefix(d.Name(), prefix) {
			out = append(out, p)
			return filepath.SkipDir
		}
		return nil
	})
	return out
}
