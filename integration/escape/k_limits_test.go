//go:build integration

package escape

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
)

// heavyMu runs the memory and CPU cells one at a time: their host-side
// measurements (MemAvailable, one cgroup's CPU share) must not include the
// other cells' bombs.
var heavyMu sync.Mutex

// cgFile returns the first dirs[*]/name that exists (the hierarchy that
// has the file: cpuacct.usage, pids.current, cpu.max ...), or "".
func cgFile(dirs map[string]string, names ...string) string {
	for _, n := range names {
		for _, d := range dirs {
			if _, err := os.Stat(d + "/" + n); err == nil {
				return d + "/" + n
			}
		}
	}
	return ""
}

// pyArgv is `run --profile prof python3 -c PRELUDE+script`.
func pyArgv(t *testing.T, prof, script string) []string {
	return []string{"run", "--profile", prof, h.Bin(t, "PYTHON3", "python3"), "-c", h.PyPrelude + script}
}

// TestCase56_ForkBomb: under pids = 128 the app forks, then creates
// threads (pthread_create), until failure: both stop with EAGAIN at
// <= 128 tasks, while RLIMIT_NPROC inside is above 128 (so the cgroup, not
// the per-uid rlimit, stopped it). Host, while the bomb holds its tasks:
// the sandbox's own pids cgroup has pids.max 128, pids.current <= 128
// (polled throughout) and a "max" event, and the runner's uid can still
// fork on the host; after exit the cgroup is gone. Root, and rootless
// with a delegated subtree (nixbox setup-cgroups).
// Src: runc cgroups.bats.
func TestCase56_ForkBomb(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		e.R.Delegate(t)
		prof := e.Profile(t, "[limits]\npids = 128\n")
		b := e.R.Start(t, true, pyArgv(t, prof, `
import resource
out('nproc', 0, json.dumps(resource.getrlimit(resource.RLIMIT_NPROC)))
def tasks():
    n = 0
    for p in os.listdir('/proc'):
        if p.isdigit():
            try: n += len(os.listdir('/proc/%s/task' % p))
            except OSError: pass
    return n
kids, err = [], 0
while len(kids) < 4096:
    try:
        pid = os.fork()
    except OSError as x:
        err = x.errno; break
    if pid == 0:
        while True: signal.pause()
    kids.append(pid)
out('fork', err, '%d %d' % (len(kids), tasks()))
sys.stdin.readline()
for k in kids: os.kill(k, 9)
for k in kids: os.waitpid(k, 0)
# Threads that block in pause(); pthread_create returns the errno.
start = ctypes.cast(libc.pause, ctypes.c_void_p)
tid = ctypes.c_ulong()
n, terr = 0, 0
while n < 4096:
    r = libc.pthread_create(ctypes.byref(tid), None, start, None)
    if r != 0:
        terr = r; break
    n += 1
out('threads', terr, '%d %d' % (n, tasks()))
sys.stdin.readline()
os._exit(0)
`)...)
		inst := e.R.WaitInstance(t, b.Exited)
		dirs := h.CgroupOf(t, inst.Pid)
		cur, max := cgFile(dirs, "pids.current"), cgFile(dirs, "pids.max")
		if cur == "" || max == "" {
			t.Fatalf("the sandbox (pid %d) has no pids cgroup: %v", inst.Pid, dirs)
		}
		if n := h.ReadCgroupInt(t, max); n != 128 {
			t.Errorf("HOST: %s = %d, want 128", max, n)
		}
		var peak atomic.Int64
		stop := make(chan struct{})
		polled := make(chan struct{})
		go func() {
			defer close(polled)
			for {
				if b, err := os.ReadFile(cur); err == nil {
					if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > peak.Load() {
						peak.Store(n)
					}
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		for _, phase := range []string{"fork", "threads"} {
			l := b.WaitLine(t, `{"case": "`+phase+`"`, 60*time.Second)
			m := h.Lines(t, h.Result{Stdout: l})
			h.Want(t, m, phase, syscall.EAGAIN)
			t.Logf("%s/%s: %s stopped: %s", e.R.Name, e.Policy, phase, m[phase])
			var made, tasks int
			if _, err := fmt.Sscan(m[phase].Detail, &made, &tasks); err != nil || tasks > 128 || tasks < 64 {
				t.Errorf("%s: %q (made, tasks in the sandbox): want the bomb stopped at <= 128 tasks", phase, m[phase].Detail)
			}
			if n := h.ReadCgroupInt(t, cur); n > 128 {
				t.Errorf("HOST: %s = %d while the %s bomb holds", cur, n, phase)
			}
			if ev := cgFile(dirs, "pids.events"); ev != "" {
				if b, _ := os.ReadFile(ev); !strings.Contains(string(b), "max ") || strings.Contains(string(b), "max 0") {
					t.Errorf("HOST: %s = %q, want a max event", ev, b)
				}
			}
			host := exec.Command("true")
			host.SysProcAttr = e.R.Cred()
			if err := host.Run(); err != nil {
				t.Errorf("HOST INVARIANT: uid %d cannot fork on the host during the %s bomb: %v", e.R.UID, phase, err)
			}
			if _, err := b.Stdin.Write([]byte("\n")); err != nil {
				t.Fatal(err)
			}
		}
		res := b.Wait(t)
		close(stop)
		<-polled
		if res.Code != 0 {
			t.Errorf("the bomb did not end cleanly: %s", res)
		}
		if p := peak.Load(); p > 128 {
			t.Errorf("HOST: pids.current peaked at %d", p)
		}
		m := h.Lines(t, res)
		var nproc []int64
		_ = json.Unmarshal([]byte(m["nproc"].Detail), &nproc)
		if len(nproc) != 2 || (nproc[0] >= 0 && nproc[0] <= 128) {
			t.Errorf("RLIMIT_NPROC inside = %s: the case must show the cgroup, not the rlimit, stops the bomb", m["nproc"].Detail)
		}
		h.CgroupsGone(t, dirs)
		if left := h.PidsWith(h.Bin(t, "PYTHON3", "python3") + " -c"); len(left) > 0 {
			t.Errorf("HOST INVARIANT: bomb processes left: %v", left)
		}
	})
}

// TestCase57_MemoryBomb: under memory = 256M with no swap
// (memory_swap = memory), allocating and touching 2 GiB is ended by the
// OOM killer: nixbox exits 137 and says "killed: out of memory (limit
// 256 MiB)". Variant: writing 1 GiB into a 1G tmpfs, whose pages are
// charged to the sandbox's cgroup, is ended the same way (or by ENOSPC).
// Host: the kernel's oom_kill counter rose, MemAvailable is back to its
// baseline ±5 % after exit, the sentinels are alive (Matrix) and the
// cgroup is gone.
// Src: runc cgroups and update tests.
func TestCase57_MemoryBomb(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		e.R.Delegate(t)
		heavyMu.Lock()
		defer heavyMu.Unlock()
		limits := "[limits]\nmemory = \"256M\"\nmemory_swap = \"256M\"\n"
		pk := append(h.Packages(t), h.Fixture(t, "MEMHOG"))
		base := h.MemAvailable(t)
		oom := h.VmstatCounter(t, "oom_kill")
		prof := e.Profile(t, "[app]\npackages = "+h.TomlList(pk...)+"\n"+limits)
		b := e.R.Start(t, true, "run", "--profile", prof, h.Bin(t, "BASH", "bash"), "-c",
			"echo READY; read x; exec "+h.Bin(t, "MEMHOG", "memhog")+" 2048")
		b.WaitLine(t, "READY", 30*time.Second)
		dirs := h.CgroupOf(t, e.R.WaitInstance(t, b.Exited).Pid)
		if lim := cgFile(dirs, "memory.limit_in_bytes", "memory.max"); lim == "" || h.ReadCgroupInt(t, lim) != 256<<20 {
			t.Errorf("HOST: the sandbox's memory limit file %q is not 256 MiB", lim)
		}
		res := b.Wait(t)
		if res.Code != 137 || !strings.Contains(res.Stderr, "was killed: out of memory (limit 256 MiB)") {
			t.Errorf("memory bomb: want exit 137 and the OOM message: %s", res)
		}
		if strings.Contains(res.Stdout, "allocated 2048 MiB") {
			t.Errorf("memhog touched 2 GiB under a 256 MiB limit")
		}
		h.CgroupsGone(t, dirs)

		tm := e.Sh(t, limits+"[[filesystem.tmpfs]]\ndest = \"/data\"\nsize = \"1G\"\n",
			h.Bin(t, "COREUTILS", "head")+" -c 1073741824 /dev/zero > /data/fill; echo rc=$?")
		t.Logf("%s/%s: 1 GiB into the tmpfs: exit %d, %q", e.R.Name, e.Policy, tm.Code, strings.TrimSpace(tm.Stdout+tm.Stderr))
		if tm.Code != 137 && !strings.Contains(tm.Stdout+tm.Stderr, "No space left") {
			t.Errorf("1 GiB into a tmpfs under 256M: want the OOM kill (137) or ENOSPC: %s", tm)
		} else if tm.Code != 137 && strings.Contains(tm.Stdout, "rc=0") {
			t.Errorf("1 GiB written into the tmpfs under a 256 MiB limit: %s", tm)
		}
		if n := h.VmstatCounter(t, "oom_kill"); n <= oom {
			t.Errorf("HOST: /proc/vmstat oom_kill did not rise (%d -> %d)", oom, n)
		}
		// The memory comes back: MemAvailable within 5 % of the baseline
		// (the kernel may take a moment to return the freed pages).
		var now int64
		for i := 0; i < 50; i++ {
			if now = h.MemAvailable(t); now >= base-base/20 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if now < base-base/20 {
			t.Errorf("HOST INVARIANT: MemAvailable %d KiB after the run, baseline %d KiB", now, base)
		}
	})
}

// TestCase58_CPU: under cpu = 0.5 (quota 50000 per 100000 µs) eight busy
// loops run for 5 s. Host: the sandbox's own cgroup has that quota, and
// its CPU usage (cpuacct.usage, or cpu.stat usage_usec on v2) grows by at
// most 0.5 × 1.1 of the wall time measured around it (§4: ≤ 2.75 s in
// 5 s); the loops did run, and when they reached the quota the kernel
// throttled them (cpu.stat nr_throttled); the cgroup is gone after the
// kill.
// Src: runc update.bats.
func TestCase58_CPU(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		e.R.Delegate(t)
		heavyMu.Lock()
		defer heavyMu.Unlock()
		b := e.R.Start(t, false, "run", "--profile", e.Profile(t, "[limits]\ncpu = 0.5\n"), h.Bin(t, "BASH", "bash"), "-c",
			`for i in 1 2 3 4 5 6 7 8; do ( while :; do :; done ) & done; echo BURNING; wait`)
		b.WaitLine(t, "BURNING", 30*time.Second)
		inst := e.R.WaitInstance(t, b.Exited)
		dirs := h.CgroupOf(t, inst.Pid)
		if q, p := cgFile(dirs, "cpu.cfs_quota_us"), cgFile(dirs, "cpu.cfs_period_us"); q != "" && p != "" {
			if h.ReadCgroupInt(t, q) != 50000 || h.ReadCgroupInt(t, p) != 100000 {
				t.Errorf("HOST: quota %d per %d µs, want 50000 per 100000", h.ReadCgroupInt(t, q), h.ReadCgroupInt(t, p))
			}
		} else if m := cgFile(dirs, "cpu.max"); m != "" {
			if b, _ := os.ReadFile(m); strings.TrimSpace(string(b)) != "50000 100000" {
				t.Errorf("HOST: cpu.max = %q", b)
			}
		} else {
			t.Fatalf("the sandbox has no cpu cgroup: %v", dirs)
		}
		usage := func() int64 {
			if f := cgFile(dirs, "cpuacct.usage"); f != "" {
				return h.ReadCgroupInt(t, f)
			}
			f := cgFile(dirs, "cpu.stat")
			b, _ := os.ReadFile(f)
			for _, l := range strings.Split(string(b), "\n") {
				if x, ok := strings.CutPrefix(l, "usage_usec "); ok {
					n, _ := strconv.ParseInt(x, 10, 64)
					return n * 1000
				}
			}
			t.Fatalf("no CPU usage in %v", dirs)
			return 0
		}
		// nr_throttled counts the periods in which the quota stopped the
		// cgroup (v1 cpu.stat, v2 cpu.stat): the kernel's own evidence.
		// (The cgroup2 mount of a hybrid host has a cpu.stat without it.)
		throttled := func() int64 {
			for _, d := range dirs {
				b, _ := os.ReadFile(d + "/cpu.stat")
				for _, l := range strings.Split(string(b), "\n") {
					if x, ok := strings.CutPrefix(l, "nr_throttled "); ok {
						n, _ := strconv.ParseInt(x, 10, 64)
						return n
					}
				}
			}
			return -1
		}
		u0, th0, t0 := usage(), throttled(), time.Now()
		time.Sleep(5 * time.Second)
		u1, th1, wall := usage(), throttled(), time.Since(t0)
		share := float64(u1-u0) / float64(wall.Nanoseconds())
		t.Logf("%s/%s: %.3f cores (%.2f s CPU in %.2f s), throttled in %d periods", e.R.Name, e.Policy, share, float64(u1-u0)/1e9, wall.Seconds(), th1-th0)
		if share > 0.5*1.1 {
			t.Errorf("HOST: eight busy loops under cpu = 0.5 used %.3f cores (%.2f s in %.2f s), want <= 0.55",
				share, float64(u1-u0)/1e9, wall.Seconds())
		}
		// The loops must have run, and wherever they reached the quota
		// the kernel must have throttled them. No lower bound on the
		// share: on a loaded 2-core host the loops may get less than the
		// quota (§4 sets only the upper bound).
		if u1 <= u0 {
			t.Errorf("HOST: the busy loops used no CPU: the case did not burn")
		}
		if share >= 0.45 && th0 >= 0 && th1 <= th0 {
			t.Errorf("HOST: %.3f cores used and never throttled: the quota did not act", share)
		}
		if res := e.R.Run(t, "", "kill", inst.ID, "KILL"); res.Code != 0 {
			t.Fatalf("nixbox kill: %s", res)
		}
		res := b.Wait(t)
		if res.Code != 137 {
			t.Errorf("killed burner: %s", res)
		}
		h.CgroupsGone(t, dirs)
	})
}
