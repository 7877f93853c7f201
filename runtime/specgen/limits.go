package specgen

import (
	"fmt"
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nixbox/nixbox/profiles"
)

// cpuPeriod is the CFS period of limits.cpu, in microseconds.
const cpuPeriod = 100000

// CgroupControllers returns the cgroup controllers (cgroup v2 names) the
// profile's limits need, in a fixed order. Empty means the sandbox needs no
// cgroup of its own: no cgroupsPath and no resources beyond the defaults,
// so nothing is paid for cgroups when nothing is asked (nofile and core
// are rlimits and need no cgroup).
func CgroupControllers(p *profiles.Profile) []string {
	l := p.Limits
	var c []string
	if l.CPU != nil || l.CPUWeight != nil {
		c = append(c, "cpu")
	}
	if l.IOWeight != nil {
		c = append(c, "io")
	}
	if l.Memory != "" || l.MemorySwap != "" {
		c = append(c, "memory")
	}
	if l.Pids != nil {
		c = append(c, "pids")
	}
	return c
}

// limitOpts turns [limits] into options. A profile with a cgroup limit and
// no cgroupsPath is an error: the runtime would otherwise put the sandbox
// wherever it likes, or nowhere (host-facts §4).
func limitOpts(p *profiles.Profile, cgroupsPath string) ([]Opt, error) {
	l := p.Limits
	var opts []Opt
	if l.Nofile != nil {
		opts = append(opts, WithRlimit("RLIMIT_NOFILE", uint64(*l.Nofile)))
	}
	if l.Core != nil {
		opts = append(opts, WithRlimit("RLIMIT_CORE", uint64(*l.Core)))
	}
	if len(CgroupControllers(p)) == 0 {
		return opts, nil
	}
	if cgroupsPath == "" {
		return nil, fmt.Errorf("%w: limits need a cgroup, and none was given", ErrBuild)
	}
	r := &specs.LinuxResources{}
	if l.Memory != "" {
		n, err := profiles.ParseMemory(l.Memory)
		if err != nil {
			return nil, keyErr(p, "limits.memory", err)
		}
		r.Memory = &specs.LinuxMemory{Limit: &n}
	}
	if l.MemorySwap != "" {
		n, err := profiles.ParseMemory(l.MemorySwap)
		if err != nil {
			return nil, keyErr(p, "limits.memory_swap", err)
		}
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		r.Memory.Swap = &n
	}
	if l.CPU != nil || l.CPUWeight != nil {
		r.CPU = &specs.LinuxCPU{}
		if l.CPU != nil {
			q := int64(math.Round(*l.CPU * cpuPeriod))
			per := uint64(cpuPeriod)
			r.CPU.Quota, r.CPU.Period = &q, &per
		}
		if l.CPUWeight != nil {
			// runc turns shares into cpu.weight on v2 with
			// 1 + (shares-2)*9999/262142; this is its inverse, rounded
			// up so that it maps back to the same weight.
			sh := uint64(2 + ((*l.CPUWeight-1)*262142+9998)/9999)
			r.CPU.Shares = &sh
		}
	}
	if l.Pids != nil {
		n := *l.Pids
		r.Pids = &specs.LinuxPids{Limit: &n}
	}
	if l.IOWeight != nil {
		// runc: io.weight = 1 + (blkio-10)*9999/990; inverse, rounded up.
		w := uint16(10 + ((*l.IOWeight-1)*990+9998)/9999)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	opts = append(opts, WithResources(r), WithCgroupsPath(cgroupsPath))
	return opts, nil
}

// WithRlimit sets a process rlimit, soft and hard, replacing one of the
// same type.
func WithRlimit(typ string, n uint64) Opt {
	return func(s *specs.Spec) error {
		p := ensureProcess(s)
		for i := range p.Rlimits {
			if p.Rlimits[i].Type == typ {
				p.Rlimits[i].Soft, p.Rlimits[i].Hard = n, n
				return nil
			}
		}
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: typ, Soft: n, Hard: n})
		return nil
	}
}

// WithResources sets the memory, cpu, pids and blockIO limits, keeping the
// device rules.
func WithResources(r *specs.LinuxResources) Opt {
	return func(s *specs.Spec) error {
		l := ensureLinux(s)
		if l.Resources == nil {
			l.Resources = &specs.LinuxResources{}
		}
		l.Resources.Memory, l.Resources.CPU, l.Resources.Pids, l.Resources.BlockIO = r.Memory, r.CPU, r.Pids, r.BlockIO
		return nil
	}
}

// WithCgroupsPath sets the sandbox's cgroup (see runtime/cgroups).
func WithCgroupsPath(p string) Opt {
	return func(s *specs.Spec) error {
		ensureLinux(s).CgroupsPath = p
		return nil
	}
}
