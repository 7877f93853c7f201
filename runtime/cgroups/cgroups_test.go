package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHost builds a fake cgroupfs tree in a temporary directory: a
// mountinfo file naming the hierarchies, their directories, and a
// /proc/self/cgroup file.
type fakeHost struct {
	Host
	t *testing.T
}

func newFake(t *testing.T, mode Mode, self string) fakeHost {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "sys", "fs", "cgroup")
	var mi strings.Builder
	add := func(mnt, fstype, opts string) {
		fmt.Fprintf(&mi, "40 30 0:37 / %s rw,relatime - %s %s rw%s\n", mnt, fstype, fstype, opts)
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(&mi, "30 22 0:27 / %s rw - tmpfs tmpfs rw\n", root)
	fmt.Fprintf(&mi, "22 1 0:5 / /proc rw - proc proc rw\n")
	switch mode {
	case Unified:
		add(root, "cgroup2", "")
		write(t, filepath.Join(root, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids")
		write(t, filepath.Join(root, "cgroup.subtree_control"), "")
	default:
		for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"} {
			add(filepath.Join(root, c), "cgroup", ","+c)
		}
		add(filepath.Join(root, "systemd"), "cgroup", ",xattr,name=systemd")
		write(t, filepath.Join(root, "cpuset", "cpuset.cpus"), "0-1\n")
		write(t, filepath.Join(root, "cpuset", "cpuset.mems"), "0\n")
		if mode == Hybrid {
			add(filepath.Join(root, "unified"), "cgroup2", "")
		}
	}
	h := Host{Root: root, Mountinfo: filepath.Join(dir, "mountinfo"), SelfCgroup: filepath.Join(dir, "self-cgroup")}
	write(t, h.Mountinfo, mi.String())
	write(t, h.SelfCgroup, self)
	return fakeHost{Host: h, t: t}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cgdir makes a cgroup directory with its interface files.
func cgdir(t *testing.T, dir string, files ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{"cgroup.procs"}, files...) {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			write(t, filepath.Join(dir, f), "")
		}
	}
}

func TestDetect(t *testing.T) {
	for _, mode := range []Mode{Legacy, Hybrid, Unified} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFake(t, mode, "0::/\n")
			l, err := f.Detect()
			if err != nil {
				t.Fatal(err)
			}
			if l.Mode != mode {
				t.Fatalf("mode %s, want %s", l.Mode, mode)
			}
			if mode == Unified && (len(l.V1) != 0 || l.Unified != f.Root) {
				t.Fatalf("unified layout: %+v", l)
			}
			if mode != Unified {
				if len(l.V1) != 9 {
					t.Fatalf("%d v1 hierarchies, want 9: %+v", len(l.V1), l.V1)
				}
				if h, ok := l.hierarchy("name=systemd"); !ok || filepath.Base(h.Dir) != "systemd" {
					t.Fatalf("systemd hierarchy: %+v %v", h, ok)
				}
			}
		})
	}
	// Nothing mounted.
	dir := t.TempDir()
	write(t, filepath.Join(dir, "mi"), "22 1 0:5 / /proc rw - proc proc rw\n")
	if _, err := (Host{Root: "/sys/fs/cgroup", Mountinfo: filepath.Join(dir, "mi")}).Detect(); !errors.Is(err, ErrNoCgroups) {
		t.Fatalf("no cgroups: %v", err)
	}
}

func TestPrepareParentRoot(t *testing.T) {
	f := newFake(t, Hybrid, "")
	p, err := f.PrepareParent(Request{UID: 0, User: "root", Name: "nixbox-jq-1"})
	if err != nil || p.Path != "/nixbox/nixbox-jq-1" {
		t.Fatalf("root: %+v, %v", p, err)
	}
	if _, err := f.PrepareParent(Request{UID: 0, Name: "a/b"}); err == nil {
		t.Fatal("a name with a slash was accepted")
	}
}

func TestPrepareParentV1(t *testing.T) {
	uid := os.Getuid()
	for _, mode := range []Mode{Legacy, Hybrid} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFake(t, mode, "")
			req := Request{UID: uid, User: "alice", Name: "nixbox-jq-1"}
			if uid == 0 {
				req.UID = 4242 // a user that owns nothing in the fake tree
			}
			_, err := f.PrepareParent(req)
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrNoDelegation) {
				t.Fatalf("nothing delegated: %v", err)
			}
			if !strings.Contains(ce.Hint, "sudo nixbox setup-cgroups --user alice") || !strings.Contains(ce.Why, "memory/nixbox-alice (missing)") {
				t.Fatalf("error does not name the fix: %v / %s", err, ce.Hint)
			}
			if uid != 0 {
				t.Skip("the rest needs root (chown)")
			}
			var logs []string
			if err := f.Delegate("alice", 4242, 4242, func(s string) { logs = append(logs, s) }); err != nil {
				t.Fatal(err)
			}
			if got := readList(filepath.Join(f.Root, "cpuset", "nixbox-alice", "cpuset.cpus")); len(got) != 1 || got[0] != "0-1" {
				t.Fatalf("cpuset.cpus not initialised: %v", got)
			}
			// The fake tree has no kernel: give every dir its files,
			// then delegate again (idempotent, chowns the new files).
			l, _ := f.Detect()
			for _, h := range l.V1 {
				cgdir(t, filepath.Join(h.Dir, "nixbox-alice"))
			}
			if l.Unified != "" {
				cgdir(t, filepath.Join(l.Unified, "nixbox-alice"))
			}
			if err := f.Delegate("alice", 4242, 4242, func(string) {}); err != nil {
				t.Fatal(err)
			}
			p, err := f.PrepareParent(req)
			if err != nil || p.Path != "/nixbox-alice/nixbox-jq-1" || p.Mode != mode {
				t.Fatalf("delegated: %+v, %v\n%s", p, err, strings.Join(logs, "\n"))
			}
			// One hierarchy not delegated: refused, and named.
			if err := os.Chown(filepath.Join(f.Root, "pids", "nixbox-alice"), 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.PrepareParent(req); !errors.Is(err, ErrNoDelegation) || !strings.Contains(err.Error(), "pids/nixbox-alice (owned by uid 0)") {
				t.Fatalf("pids not delegated: %v", err)
			}
			// A configured parent that is not clean is refused.
			req.Parent = "../x"
			if _, err := f.PrepareParent(req); !errors.Is(err, ErrNoDelegation) {
				t.Fatalf("bad configured parent: %v", err)
			}
		})
	}
}

func TestPrepareParentV2(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown the fake tree")
	}
	const uid = 4242
	own := "/user.slice/user-4242.slice/user@4242.service/app.slice/run-1.scope"
	f := newFake(t, Unified, "0::"+own+"\n")
	parent := filepath.Join(f.Root, "user.slice/user-4242.slice/user@4242.service/app.slice")
	req := Request{UID: uid, User: "alice", Name: "nixbox-jq-1", Controllers: []string{"memory", "pids"}}

	// The user's scope exists but belongs to root: no delegation.
	cgdir(t, parent, "cgroup.subtree_control", "cgroup.controllers")
	cgdir(t, filepath.Join(f.Root, own))
	_, err := f.PrepareParent(req)
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrNoDelegation) || !strings.Contains(ce.Hint, "Delegate=") || !strings.Contains(ce.Why, "owned by uid 0") {
		t.Fatalf("not delegated: %v (hint %q)", err, hintOf(err))
	}

	// Delegated (systemd Delegate=yes): owned by the user from
	// user@4242.service down, but the memory controller is not available.
	cgdir(t, filepath.Join(f.Root, "user.slice/user-4242.slice/user@4242.service"), "cgroup.subtree_control", "cgroup.controllers")
	write(t, filepath.Join(parent, "cgroup.controllers"), "cpu pids")
	chownAll(t, filepath.Join(f.Root, "user.slice/user-4242.slice/user@4242.service"), uid)
	if _, err := f.PrepareParent(req); !errors.Is(err, ErrNoDelegation) || !strings.Contains(err.Error(), "controllers memory not delegated") {
		t.Fatalf("memory not delegated: %v", err)
	}

	// Available: PrepareParent enables them in subtree_control.
	write(t, filepath.Join(parent, "cgroup.controllers"), "cpu memory pids")
	chownAll(t, filepath.Join(f.Root, "user.slice/user-4242.slice/user@4242.service"), uid)
	p, err := f.PrepareParent(req)
	if err != nil || p.Path != "/user.slice/user-4242.slice/user@4242.service/app.slice/nixbox-jq-1" || p.Mode != Unified {
		t.Fatalf("delegated: %+v, %v", p, err)
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control")); string(b) != "+memory +pids" {
		t.Fatalf("subtree_control = %q", b)
	}

	// A configured parent elsewhere: the common ancestor (the root) is
	// not the user's, so a process could not be moved there.
	cgdir(t, filepath.Join(f.Root, "elsewhere"), "cgroup.subtree_control", "cgroup.controllers")
	write(t, filepath.Join(f.Root, "elsewhere", "cgroup.subtree_control"), "memory pids")
	chownAll(t, filepath.Join(f.Root, "elsewhere"), uid)
	req.Parent = "/elsewhere"
	if _, err := f.PrepareParent(req); !errors.Is(err, ErrNoDelegation) || !strings.Contains(err.Error(), "common ancestor") {
		t.Fatalf("foreign common ancestor: %v", err)
	}

	// nixbox setup-cgroups on a v2 host without systemd.
	if err := f.Delegate("alice", uid, uid, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.Root, "cgroup.subtree_control")); !strings.Contains(string(b), "+memory") {
		t.Fatalf("root subtree_control = %q", b)
	}
}

func hintOf(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Hint
	}
	return ""
}

func chownAll(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommonAncestor(t *testing.T) {
	for _, c := range [][3]string{
		{"/a/b/c", "/a/b/d", "/a/b"},
		{"/a/b", "/x", "/"},
		{"/", "/a", "/"},
		{"/a/b", "/a/b/c", "/a/b"},
	} {
		if got := commonAncestor(c[0], c[1]); got != c[2] {
			t.Errorf("commonAncestor(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/a\040b`); got != "/a b" {
		t.Fatalf("got %q", got)
	}
}
