package cgroups

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Delegate makes /nixbox-USER in every cgroup hierarchy and gives it to
// uid:gid, so that user's sandboxes can have limits (host-facts §4,
// pattern A): on v1 and hybrid hosts in every v1 hierarchy and in the
// cgroup2 mount; on v2 at the root, with the cpu, io, memory and pids
// controllers enabled for it. In the cpuset hierarchy cpuset.cpus and
// cpuset.mems are copied from the parent, or no task could join. It is
// idempotent and reports every step through say. The caller must be
// root; Delegate does not check.
func (h Host) Delegate(user string, uid, gid int, say func(string)) error {
	if user == "" || strings.ContainsAny(user, "/\x00") || user == "." || user == ".." {
		return fmt.Errorf("bad user name %q", user)
	}
	l, err := h.Detect()
	if err != nil {
		return err
	}
	name := SubtreeName(user)
	var roots []string
	for _, x := range l.V1 {
		roots = append(roots, x.Dir)
	}
	if l.Unified != "" {
		roots = append(roots, l.Unified)
	}
	say(fmt.Sprintf("cgroup mode %s: delegating /%s to %s (uid %d, gid %d) in %d hierarchies", l.Mode, name, user, uid, gid, len(roots)))
	if l.Mode == Unified {
		var want []string
		avail := readList(filepath.Join(l.Unified, "cgroup.controllers"))
		on := readList(filepath.Join(l.Unified, "cgroup.subtree_control"))
		for _, c := range []string{"cpu", "io", "memory", "pids"} {
			if slices.Contains(avail, c) && !slices.Contains(on, c) {
				want = append(want, "+"+c)
			}
		}
		if len(want) > 0 {
			if err := os.WriteFile(filepath.Join(l.Unified, "cgroup.subtree_control"), []byte(strings.Join(want, " ")), 0); err != nil {
				return fmt.Errorf("enabling %s in %s/cgroup.subtree_control: %w", strings.Join(want, " "), l.Unified, err)
			}
			say(fmt.Sprintf("enabled %s in %s/cgroup.subtree_control", strings.Join(want, " "), l.Unified))
		}
	}
	for _, r := range roots {
		d := filepath.Join(r, name)
		switch err := os.Mkdir(d, 0o755); {
		case err == nil:
			say("created " + d)
		case os.IsExist(err):
			say("exists  " + d)
		default:
			return fmt.Errorf("creating %s: %w", d, err)
		}
		if filepath.Base(r) == "cpuset" || isCpuset(l, r) {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				cur, _ := os.ReadFile(filepath.Join(d, f))
				if strings.TrimSpace(string(cur)) != "" {
					continue
				}
				v, err := os.ReadFile(filepath.Join(r, f))
				if err != nil {
					return fmt.Errorf("reading %s: %w", filepath.Join(r, f), err)
				}
				if err := os.WriteFile(filepath.Join(d, f), v, 0); err != nil {
					return fmt.Errorf("initialising %s: %w", filepath.Join(d, f), err)
				}
				say(fmt.Sprintf("set %s to %s", filepath.Join(d, f), strings.TrimSpace(string(v))))
			}
		}
		n := 0
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			if int(st.Uid) == uid && int(st.Gid) == gid {
				return nil
			}
			n++
			return unix.Lchown(p, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("chown -R %s: %w", d, err)
		}
		if n > 0 {
			say(fmt.Sprintf("chown -R %d:%d %s (%d entries)", uid, gid, d, n))
		}
	}
	if l.Mode == Unified {
		say("note: on cgroup v2 the user's processes must also run below a cgroup they own " +
			"(moving a process needs the common ancestor's cgroup.procs); with systemd use Delegate=yes instead (docs/limits.md)")
	}
	say("done: " + user + "'s sandboxes can now have limits")
	return nil
}

func isCpuset(l Layout, dir string) bool {
	h, ok := l.hierarchy("cpuset")
	return ok && h.Dir == dir
}
