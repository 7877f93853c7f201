package main

import (
	"fmt"
	"strconv"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/cgroups"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/specgen"
)

// cgroupParentVar names a parent cgroup to use instead of the default
// (/nixbox-USER, or on cgroup v2 the parent of nixbox's own cgroup): a
// cgroup v2 directory delegated some other way, or, in the integration
// tests, a parent that is not delegated, to check that nixbox refuses.
const cgroupParentVar = "NIXBOX_CGROUP_PARENT"

// nominalCgroup is the cgroupsPath `nixbox spec` and `explain` show for a
// profile with limits; a run finds the real one with prepareCgroup.
func nominalCgroup(env hostenv.Env, profile string) string {
	if env.UID == 0 {
		return cgroups.RootParent + "/nixbox-" + profile
	}
	return "/" + cgroups.SubtreeName(env.User) + "/nixbox-" + profile
}

// prepareCgroup finds the delegated parent for instance id and returns the
// sandbox's cgroupsPath, or "" when the profile's limits need no cgroup.
// Fail closed: with limits and no delegated cgroup the run stops here,
// before anything is created (exit 125, the fix in the hint).
func prepareCgroup(env hostenv.Env, p *profiles.Profile, id string) (string, []string, error) {
	ctrls := specgen.CgroupControllers(p)
	if len(ctrls) == 0 {
		return "", nil, nil
	}
	par, err := cgroups.DefaultHost().PrepareParent(cgroups.Request{
		UID: env.UID, User: env.User, Name: "nixbox-" + id,
		Parent: env.Vars[cgroupParentVar], Controllers: ctrls,
	})
	if err != nil {
		return "", nil, fmt.Errorf("profile %q sets limits: %w", p.Name, err)
	}
	return par.Path, ctrls, nil
}

// recordLimits is the [limits] table as kept in the instance record.
type recordLimits struct {
	Memory     string   `json:"memory,omitempty"`
	MemorySwap string   `json:"memory_swap,omitempty"`
	CPU        *float64 `json:"cpu,omitempty"`
	CPUWeight  *int64   `json:"cpu_weight,omitempty"`
	Pids       *int64   `json:"pids,omitempty"`
	IOWeight   *int64   `json:"io_weight,omitempty"`
	Nofile     *int64   `json:"nofile,omitempty"`
	Core       *int64   `json:"core,omitempty"`
}

func limitsOf(p *profiles.Profile) *recordLimits {
	l := p.Limits
	r := recordLimits{Memory: l.Memory, MemorySwap: l.MemorySwap, CPU: l.CPU, CPUWeight: l.CPUWeight,
		Pids: l.Pids, IOWeight: l.IOWeight, Nofile: l.Nofile, Core: l.Core}
	if r == (recordLimits{}) {
		return nil
	}
	return &r
}

// controllers are the cgroup controllers the recorded limits need (as
// specgen.CgroupControllers gives them for the profile).
func (r *recordLimits) controllers() []string {
	if r == nil {
		return nil
	}
	return specgen.CgroupControllers(&profiles.Profile{Limits: profiles.Limits{Memory: r.Memory, MemorySwap: r.MemorySwap,
		CPU: r.CPU, CPUWeight: r.CPUWeight, Pids: r.Pids, IOWeight: r.IOWeight}})
}

// oomKilled is returned by run when the kernel killed the app for
// memory; exitcode.go prints it and exits with the app's status (137).
type oomKilled struct {
	profile string
	limit   string // limits.memory as written ("" when unset)
	code    int
}

func (e *oomKilled) Error() string {
	msg := e.profile + " was killed: out of memory"
	if e.limit != "" && e.limit != "max" {
		if n, err := profiles.ParseMemory(e.limit); err == nil {
			msg += " (limit " + humanBytes(uint64(n)) + ")"
		}
	}
	return msg
}

// humanBytes prints a size in binary units: 2 GiB, 64 MiB, 1.5 KiB.
func humanBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if f == float64(int64(f)) || i == 0 {
		s = strconv.FormatInt(int64(f), 10)
	}
	return s + " " + units[i]
}
