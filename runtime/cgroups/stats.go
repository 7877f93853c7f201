package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	cgroupsv3 "github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
)

// Stats are a sandbox cgroup's counters.
type Stats struct {
	// MemoryBytes is the memory in use now; MemoryPeakBytes the most
	// ever used (v1 max_usage_in_bytes, v2 memory.peak).
	MemoryBytes     uint64 `json:"memory_bytes"`
	MemoryPeakBytes uint64 `json:"memory_peak_bytes"`
	// MemoryLimitBytes is the limit in force (0: none known).
	MemoryLimitBytes uint64 `json:"memory_limit_bytes,omitempty"`
	// CPUNanos is the CPU time used by all tasks, in nanoseconds.
	CPUNanos uint64 `json:"cpu_ns"`
	// Pids is the number of processes and threads now.
	Pids uint64 `json:"pids"`
	// PidsLimit is the pids limit (0: none).
	PidsLimit uint64 `json:"pids_limit,omitempty"`
	// OOMKills counts processes killed by the OOM killer in the cgroup.
	OOMKills uint64 `json:"oom_kills"`
}

// ReadStats reads the counters of the sandbox cgroup at cgroupPath (the
// spec's linux.cgroupsPath) through containerd/cgroups/v3. It reads the
// running machine's cgroups (v1 via cgroup1.Load(StaticPath), v2 via
// cgroup2.Load); h only says where they are mounted.
func (h Host) ReadStats(cgroupPath string) (Stats, error) {
	var s Stats
	if cgroupsv3.Mode() == cgroupsv3.Unified {
		m, err := cgroup2.Load(cgroupPath)
		if err != nil {
			return s, err
		}
		st, err := m.Stat()
		if err != nil {
			return s, err
		}
		if mem := st.GetMemory(); mem != nil {
			s.MemoryBytes, s.MemoryPeakBytes = mem.GetUsage(), mem.GetMaxUsage()
			if mem.GetUsageLimit() < 1<<62 {
				s.MemoryLimitBytes = mem.GetUsageLimit()
			}
		}
		s.CPUNanos = st.GetCPU().GetUsageUsec() * 1000
		s.Pids, s.PidsLimit = st.GetPids().GetCurrent(), st.GetPids().GetLimit()
		s.OOMKills = st.GetMemoryEvents().GetOomKill()
		return s, nil
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(cgroupPath))
	if err != nil {
		return s, err
	}
	st, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return s, err
	}
	if mem := st.GetMemory(); mem != nil && mem.GetUsage() != nil {
		s.MemoryBytes, s.MemoryPeakBytes = mem.GetUsage().GetUsage(), mem.GetUsage().GetMax()
		if lim := mem.GetUsage().GetLimit(); lim < 1<<62 {
			s.MemoryLimitBytes = lim
		}
	}
	s.CPUNanos = st.GetCPU().GetUsage().GetTotal()
	s.Pids, s.PidsLimit = st.GetPids().GetCurrent(), st.GetPids().GetLimit()
	s.OOMKills = st.GetMemoryOomControl().GetOomKill()
	if s.OOMKills == 0 {
		// Older containerd/cgroups releases leave oom_control out;
		// read it directly.
		if l, err := h.Detect(); err == nil {
			if m, ok := l.hierarchy("memory"); ok {
				s.OOMKills = keyValue(filepath.Join(m.Dir, cgroupPath, "memory.oom_control"), "oom_kill")
			}
		}
	}
	return s, nil
}

// keyValue reads "key N" from a flat-keyed cgroup file; 0 if absent.
func keyValue(file, key string) uint64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// Verify checks that process pid is in the cgroup at cgroupPath for each
// of the controllers (v2 names; on v2 the single hierarchy): libcontainer
// ignores some cgroup failures in rootless mode (host-facts §4), so nixbox
// checks the result itself and never runs a sandbox without the limits
// its profile asks for.
func (h Host) Verify(pid int, cgroupPath string, controllers []string) error {
	l, err := h.Detect()
	if err != nil {
		return err
	}
	in, err := Host{SelfCgroup: fmt.Sprintf("/proc/%d/cgroup", pid)}.selfCgroups()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotInCgroup, err)
	}
	if l.Mode == Unified {
		if in[""] != cgroupPath {
			return &Error{Err: ErrNotInCgroup, Why: fmt.Sprintf("pid %d is in %q, not %q", pid, in[""], cgroupPath)}
		}
		avail := readList(filepath.Join(l.Unified, cgroupPath, "cgroup.controllers"))
		for _, c := range controllers {
			if !contains(avail, c) {
				return &Error{Err: ErrNotInCgroup, Why: fmt.Sprintf("controller %s is not enabled for %s", c, cgroupPath)}
			}
		}
		return nil
	}
	for _, c := range controllers {
		v1 := map[string][]string{"memory": {"memory"}, "pids": {"pids"}, "cpu": {"cpu"}, "io": {"blkio"}}[c]
		for _, x := range v1 {
			if in[x] != cgroupPath {
				return &Error{Err: ErrNotInCgroup, Why: fmt.Sprintf("pid %d is in %s:%q, not %q", pid, x, in[x], cgroupPath)}
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
