package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// RootParent is the parent cgroup of root's sandboxes (created by
// libcontainer on first use, left in place for the next run).
const RootParent = "/nixbox"

// SubtreeName is the per-user subtree `nixbox setup-cgroups --user NAME`
// creates in every hierarchy: nixbox-NAME.
func SubtreeName(user string) string { return "nixbox-" + user }

// Request describes the sandbox cgroup a run wants.
type Request struct {
	// UID and User are the invoking user's.
	UID  int
	User string
	// Name is the sandbox cgroup's own name: nixbox-<profile>-<instance>.
	Name string
	// Parent is a configured parent cgroup path (e.g. "/nixbox-alice",
	// or a systemd-delegated directory on cgroup v2); empty for the
	// default (see PrepareParent).
	Parent string
	// Controllers are the controllers the limits need, by their cgroup
	// v2 names: memory, pids, cpu, io. On v1 every hierarchy must be
	// delegated anyway (libcontainer joins all of them).
	Controllers []string
}

// Parent is a usable parent cgroup.
type Parent struct {
	Mode Mode
	// Dir is the parent's cgroup path, e.g. /nixbox-alice.
	Dir string
	// Path is the sandbox's linux.cgroupsPath: Dir/Name.
	Path string
}

// PrepareParent finds the cgroup the caller may create its sandbox's
// cgroup in, and returns the sandbox's cgroupsPath. It creates nothing
// except, on cgroup v2, enabling controllers in a delegated parent's
// cgroup.subtree_control (which the kernel allows only to its owner).
//
//   - root: Request.Parent, else /nixbox; libcontainer creates it.
//   - v1 and hybrid, unprivileged: Request.Parent, else /nixbox-USER, which
//     must exist in every v1 hierarchy (and in the cgroup2 mount of a
//     hybrid host) and be owned by the user: delegation pattern A of
//     host-facts §4, made by `nixbox setup-cgroups --user USER`.
//   - v2, unprivileged: Request.Parent, else /nixbox-USER when it exists,
//     else the parent of the caller's own cgroup (a systemd user scope
//     with Delegate=yes), owned by the user with the needed controllers
//     available.
//
// Any other case is an *Error wrapping ErrNoDelegation that names what is
// missing and how to fix it.
func (h Host) PrepareParent(req Request) (Parent, error) {
	if req.Name == "" || strings.ContainsAny(req.Name, "/\x00") || req.Name == "." || req.Name == ".." {
		return Parent{}, fmt.Errorf("%w: bad cgroup name %q", ErrNoDelegation, req.Name)
	}
	l, err := h.Detect()
	if err != nil {
		return Parent{}, err
	}
	dir := req.Parent
	if dir != "" {
		if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" {
			return Parent{}, &Error{Err: ErrNoDelegation, Why: fmt.Sprintf("configured parent cgroup %q is not a clean absolute cgroup path", dir),
				Hint: "give a path like /nixbox-" + req.User + " (relative to the cgroup mount)"}
		}
	}
	if req.UID == 0 {
		if dir == "" {
			dir = RootParent
		}
		return Parent{Mode: l.Mode, Dir: dir, Path: path.Join(dir, req.Name)}, nil
	}
	switch l.Mode {
	case Unified:
		return h.prepareV2(l, req, dir)
	default:
		return h.prepareV1(l, req, dir)
	}
}

func (h Host) prepareV1(l Layout, req Request, dir string) (Parent, error) {
	if dir == "" {
		dir = "/" + SubtreeName(req.User)
	}
	var bad []string
	roots := make([]string, 0, len(l.V1)+1)
	for _, x := range l.V1 {
		roots = append(roots, x.Dir)
	}
	if l.Unified != "" {
		// libcontainer joins the cgroup2 mount of a hybrid host too.
		roots = append(roots, l.Unified)
	}
	for _, r := range roots {
		d := filepath.Join(r, dir)
		if why := ownedBy(d, req.UID, "cgroup.procs"); why != "" {
			bad = append(bad, d+" ("+why+")")
		}
	}
	if cs, ok := l.hierarchy("cpuset"); ok && len(bad) == 0 {
		d := filepath.Join(cs.Dir, dir)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if b, err := os.ReadFile(filepath.Join(d, f)); err != nil || strings.TrimSpace(string(b)) == "" {
				bad = append(bad, filepath.Join(d, f)+" (empty: no task can join)")
			}
		}
	}
	if len(bad) > 0 {
		return Parent{}, &Error{Err: ErrNoDelegation,
			Why: fmt.Sprintf("cgroup %s: limits need %s delegated to %s in every hierarchy; missing or not usable: %s",
				l.Mode, dir, req.User, strings.Join(bad, ", ")),
			Hint: "run once as root: sudo nixbox setup-cgroups --user " + req.User + " (see docs/limits.md)"}
	}
	return Parent{Mode: l.Mode, Dir: dir, Path: path.Join(dir, req.Name)}, nil
}

// systemdHint is the fix on a cgroup v2 host with systemd.
func systemdHint(user string) string {
	return "with systemd: sudo mkdir -p /etc/systemd/system/user@.service.d && " +
		"printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && " +
		"sudo systemctl daemon-reload, log in again, and run nixbox in a delegated scope: " +
		"systemd-run --user --scope -p Delegate=yes nixbox run APP; " +
		"without systemd: sudo nixbox setup-cgroups --user " + user + " (see docs/limits.md)"
}

func (h Host) prepareV2(l Layout, req Request, dir string) (Parent, error) {
	self, err := h.selfCgroups()
	if err != nil {
		return Parent{}, &Error{Err: ErrNoDelegation, Why: "reading " + h.SelfCgroup + ": " + err.Error(), Hint: systemdHint(req.User)}
	}
	own := self[""]
	if dir == "" {
		if st, err := os.Stat(filepath.Join(l.Unified, SubtreeName(req.User))); err == nil && st.IsDir() {
			dir = "/" + SubtreeName(req.User)
		} else if own != "" && own != "/" {
			// The parent of our own cgroup, as libcontainer's fs2
			// driver does: our own cgroup holds processes, so no
			// controller can be enabled below it.
			dir = path.Dir(own)
		}
	}
	if dir == "" || dir == "/" {
		return Parent{}, &Error{Err: ErrNoDelegation, Why: fmt.Sprintf("cgroup v2: nixbox runs in %q, which has no delegated parent", own),
			Hint: systemdHint(req.User)}
	}
	d := filepath.Join(l.Unified, dir)
	var bad []string
	if why := ownedBy(d, req.UID, "cgroup.procs", "cgroup.subtree_control"); why != "" {
		bad = append(bad, d+" ("+why+")")
	} else {
		avail := readList(filepath.Join(d, "cgroup.controllers"))
		on := readList(filepath.Join(d, "cgroup.subtree_control"))
		var missing, enable []string
		for _, c := range req.Controllers {
			switch {
			case slices.Contains(on, c):
			case slices.Contains(avail, c):
				enable = append(enable, "+"+c)
			default:
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			bad = append(bad, fmt.Sprintf("%s: controllers %s not delegated (cgroup.controllers: %q)", d, strings.Join(missing, ", "), strings.Join(avail, " ")))
		} else if len(enable) > 0 {
			if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0); err != nil {
				bad = append(bad, fmt.Sprintf("%s: enabling %s in cgroup.subtree_control: %v", d, strings.Join(enable, " "), err))
			}
		}
	}
	// Moving a process between cgroups needs write access to
	// cgroup.procs of their common ancestor.
	if own != "" && len(bad) == 0 {
		anc := commonAncestor(own, path.Join(dir, req.Name))
		a := filepath.Join(l.Unified, anc)
		if why := ownedBy(a, req.UID, "cgroup.procs"); why != "" {
			bad = append(bad, fmt.Sprintf("%s, the common ancestor of nixbox's cgroup %s and %s (%s)", a, own, dir, why))
		}
	}
	if len(bad) > 0 {
		return Parent{}, &Error{Err: ErrNoDelegation,
			Why:  "cgroup v2: no delegated parent: " + strings.Join(bad, "; "),
			Hint: systemdHint(req.User)}
	}
	return Parent{Mode: l.Mode, Dir: dir, Path: path.Join(dir, req.Name)}, nil
}

// ownedBy returns "" when dir and each named file inside are owned by uid,
// else why not.
func ownedBy(dir string, uid int, files ...string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "missing"
		}
		return err.Error()
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "not a directory"
	}
	if int(st.Uid) != uid {
		return fmt.Sprintf("owned by uid %d", st.Uid)
	}
	for _, f := range files {
		if err := unix.Stat(filepath.Join(dir, f), &st); err != nil {
			return f + " missing"
		}
		if int(st.Uid) != uid {
			return fmt.Sprintf("%s owned by uid %d", f, st.Uid)
		}
	}
	return ""
}

func readList(p string) []string {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func commonAncestor(a, b string) string {
	as, bs := strings.Split(strings.Trim(a, "/"), "/"), strings.Split(strings.Trim(b, "/"), "/")
	var out []string
	for i := 0; i < len(as) && i < len(bs) && as[i] == bs[i] && as[i] != ""; i++ {
		out = append(out, as[i])
	}
	return "/" + strings.Join(out, "/")
}
