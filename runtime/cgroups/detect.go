package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mode is how cgroups are mounted on the host.
type Mode string

const (
	// Legacy: only cgroup v1 hierarchies.
	Legacy Mode = "v1"
	// Hybrid: v1 hierarchies, plus a cgroup2 mount (usually
	// <root>/unified) that holds the controllers bound to no v1 hierarchy.
	Hybrid Mode = "hybrid"
	// Unified: one cgroup2 hierarchy at the root.
	Unified Mode = "v2"
)

// Host says where to read the cgroup file systems. The zero value is not
// usable; DefaultHost is the real machine, tests point the fields at a
// fake tree.
type Host struct {
	// Root is the directory the cgroup file systems are mounted in.
	Root string
	// Mountinfo is the calling thread's mount table
	// (/proc/thread-self/mountinfo).
	Mountinfo string
	// SelfCgroup is the process's cgroup membership (/proc/self/cgroup).
	SelfCgroup string
}

// DefaultHost is the running machine.
//
// The mount table is the calling thread's, never /proc/self's: /proc/self
// is the thread-group leader, and libcontainer creates mount sources in a
// locked goroutine that does unshare(CLONE_FS) + setns into the sandbox's
// mount namespace. When the Go scheduler runs that goroutine on the main
// thread, the runtime cannot end the thread, so the leader stays in the
// sandbox's mount namespace and /proc/self/mountinfo shows the sandbox's
// mounts (no /sys/fs/cgroup): Verify then refused every such run with
// "no cgroup file system mounted" (escape suite cases 56-58, about 1 run in
// 10 with limits). It failed closed, but a host check must never read the
// sandbox's view of the file system.
func DefaultHost() Host {
	return Host{Root: "/sys/fs/cgroup", Mountinfo: "/proc/thread-self/mountinfo", SelfCgroup: "/proc/self/cgroup"}
}

// Hierarchy is one mounted cgroup v1 hierarchy.
type Hierarchy struct {
	// Dir is the mount point, e.g. /sys/fs/cgroup/memory.
	Dir string
	// Controllers it carries ("memory"; "cpu", "cpuacct"; "name=systemd").
	Controllers []string
}

// Layout is what Detect found.
type Layout struct {
	Mode Mode
	// V1 are the v1 hierarchies, sorted by Dir (Legacy and Hybrid).
	V1 []Hierarchy
	// Unified is the cgroup2 mount point ("" in Legacy mode).
	Unified string
}

// Detect reads the mount table for cgroup file systems mounted at or below
// h.Root.
func (h Host) Detect() (Layout, error) {
	f, err := os.Open(h.Mountinfo)
	if err != nil {
		return Layout{}, fmt.Errorf("%w: %w", ErrNoCgroups, err)
	}
	defer f.Close()
	var l Layout
	root := filepath.Clean(h.Root)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 {
			continue
		}
		mnt := unescapeMount(a[4])
		if mnt != root && !strings.HasPrefix(mnt, root+"/") {
			continue
		}
		switch b[0] {
		case "cgroup2":
			if mnt == root {
				l.Mode = Unified
			}
			l.Unified = mnt
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(b[2], ",") {
				if o == "rw" || o == "ro" || o == "xattr" || o == "clone_children" || o == "noprefix" ||
					strings.HasPrefix(o, "release_agent=") || strings.HasPrefix(o, "cpuset_v2_mode") {
					continue
				}
				ctrls = append(ctrls, o)
			}
			l.V1 = append(l.V1, Hierarchy{Dir: mnt, Controllers: ctrls})
		}
	}
	if err := sc.Err(); err != nil {
		return Layout{}, fmt.Errorf("%w: reading %s: %w", ErrNoCgroups, h.Mountinfo, err)
	}
	sort.Slice(l.V1, func(i, j int) bool { return l.V1[i].Dir < l.V1[j].Dir })
	switch {
	case l.Mode == Unified:
		l.V1 = nil
	case len(l.V1) > 0 && l.Unified != "":
		l.Mode = Hybrid
	case len(l.V1) > 0:
		l.Mode = Legacy
	default:
		return Layout{}, &Error{Err: ErrNoCgroups, Why: "no cgroup or cgroup2 mount under " + root,
			Hint: "mount cgroup2 at /sys/fs/cgroup (or the v1 hierarchies under it)"}
	}
	return l, nil
}

// hierarchy returns the v1 hierarchy carrying controller c.
func (l Layout) hierarchy(c string) (Hierarchy, bool) {
	for _, h := range l.V1 {
		for _, x := range h.Controllers {
			if x == c {
				return h, true
			}
		}
	}
	return Hierarchy{}, false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var n int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &n); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// selfCgroups reads h.SelfCgroup: controller (or "" for v2) -> path.
func (h Host) selfCgroups() (map[string]string, error) {
	b, err := os.ReadFile(h.SelfCgroup)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}
