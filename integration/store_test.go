//go:build integration

package integration

import (
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
)

// addFileToStore adds an executable regular file (a bash script) as a
// top-level store path (nix-store --add, as root): the stand-in for the
// writeScript-style outputs that are files, not directories.
func addFileToStore(t *testing.T, body string) string {
	t.Helper()
	if os.Getuid() != 0 {
		h.SkipOrFail(t, "adding a file store path needs root (single-user store)")
	}
	p := filepath.Join(t.TempDir(), "nbx-store-file")
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nix-store", "--add", p).Output()
	if err != nil {
		h.SkipOrFail(t, "nix-store --add: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	dev, root, point, opts, fstype string
}

func parseMounts(s string) []mountEntry {
	var ms []mountEntry
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) < 10 {
			continue
		}
		m := mountEntry{dev: f[2], root: f[3], point: f[4], opts: "," + f[5] + ","}
		for i := 6; i < len(f)-1; i++ {
			if f[i] == "-" {
				m.fstype = f[i+1]
				break
			}
		}
		ms = append(ms, m)
	}
	return ms
}

// storeProblems lists what is wrong with the store view in a sandbox's
// mountinfo: a mount at the staging path, a mount exposing the whole
// store (its root is the store directory, or above it, on the store's
// device), a store mount without ro, nosuid or nodev, a /nix/store that is
// not one tmpfs, a mounted path outside members, or a member not mounted.
func storeProblems(mountinfo string, members []string) []string {
	var bad []string
	ms := parseMounts(mountinfo)
	// Where the store lives in its file system, from the store-path mounts.
	storeDev, storeRoot := "", ""
	for _, m := range ms {
		if strings.HasPrefix(m.point, "/nix/store/") && path.Base(m.root) == path.Base(m.point) {
			storeDev, storeRoot = m.dev, path.Dir(m.root)
			break
		}
	}
	if storeDev == "" {
		return []string{"no store-path mount at all"}
	}
	want := map[string]bool{}
	for _, p := range members {
		want[p] = true
	}
	tmpfs := 0
	for _, m := range ms {
		if m.point == "/.nixbox/store" || strings.HasPrefix(m.point, "/.nixbox/store/") {
			bad = append(bad, "the staging bind is still mounted: "+m.point)
		}
		if m.dev == storeDev && (m.root == storeRoot || m.root == "/" || strings.HasPrefix(storeRoot, m.root+"/")) {
			bad = append(bad, "a mount exposes the whole store: "+m.point+" (root "+m.root+")")
		}
		if m.point != "/nix/store" && !strings.HasPrefix(m.point, "/nix/store/") {
			continue
		}
		for _, o := range []string{"ro", "nosuid", "nodev"} {
			if !strings.Contains(m.opts, ","+o+",") {
				bad = append(bad, m.point+" lacks "+o+": "+m.opts)
			}
		}
		switch {
		case m.point == "/nix/store":
			tmpfs++
			if m.fstype != "tmpfs" {
				bad = append(bad, "/nix/store is "+m.fstype+", not a tmpfs")
			}
		case want[m.point]:
			delete(want, m.point)
		default:
			bad = append(bad, "mounted but not a closure member: "+m.point)
		}
	}
	if tmpfs != 1 {
		bad = append(bad, "want one mount at /nix/store")
	}
	for p := range want {
		bad = append(bad, "closure member not mounted: "+p)
	}
	sort.Strings(bad)
	return bad
}

// TestStoreAssembled: nixbox-init assembles the closure from the staging
// bind and detaches it. Inside: /.nixbox/store is absent or an empty
// directory, and no mount; no mount exposes the whole store; /nix/store is one tmpfs and
// it and every store mount on it are ro,nosuid,nodev; every member that
// is not a symlink is mounted, and nothing else; a member that is a
// regular file is there and runs; /nix/store cannot be written.
func TestStoreAssembled(t *testing.T) {
	bash := h.Bin(t, "BASH", "bash")
	file := addFileToStore(t, "#!"+bash+"\necho file-member-ok\n")
	prof := h.WriteProfile(t, "storefile", "version = 1\nextends = \"default\"\n[app]\npackages = [\""+file+"\"]\n")
	var members []string
	for _, p := range append(closureOf(t, h.Fixture(t, "BASH")), closureOf(t, file)...) {
		members = append(members, "/nix/store/"+p)
	}
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", prof, bash, "-c",
			`read -r -d '' mi < /proc/self/mountinfo; printf '%s\n=====\n' "$mi"; `+
				`shopt -s nullglob dotglob; s=(/.nixbox/store/*); echo "staging:${#s[@]}"; `+
				`[ -f `+file+` ] && [ ! -L `+file+` ] && echo file-is-file; `+file+`; `+
				`mkdir /nix/store/x 2>/dev/null || echo store-ro`)
		if res.Code != 0 {
			t.Fatalf("run: %s", res)
		}
		mi, rest, ok := strings.Cut(res.Stdout, "\n=====\n")
		if !ok {
			t.Fatalf("no mountinfo: %s", res)
		}
		for _, p := range storeProblems(mi, members) {
			t.Error(p)
		}
		for _, w := range []string{"staging:0", "file-is-file", "file-member-ok", "store-ro"} {
			if !strings.Contains(rest, w+"\n") {
				t.Errorf("want %q in the output: %q", w, rest)
			}
		}
	})
}

// TestStoreOf500Paths: an app with a closure of 500 store paths runs, and
// sees exactly its closure (plus that of the listing tool).
func TestStoreOf500Paths(t *testing.T) {
	app500 := h.Fixture(t, "APP500")
	want := map[string]bool{}
	for _, p := range append(closureOf(t, app500), closureOf(t, h.Fixture(t, "COREUTILS"))...) {
		want[p] = true
	}
	if len(want) < 500 {
		t.Fatalf("APP500's closure has %d paths: the case proves nothing", len(want))
	}
	prof := h.WriteProfile(t, "app500", "version = 1\nextends = \"default\"\n[app]\npackages = [\""+app500+"\"]\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		res := r.Run(t, "", "run", "--profile", "default", h.Bin(t, "APP500", "app500"))
		if res.Code != 0 {
			t.Fatalf("app500: %s", res)
		}
		res = r.Run(t, "", "run", "--profile", prof, h.Bin(t, "COREUTILS", "ls"), "-A", "/nix/store")
		if res.Code != 0 {
			t.Fatalf("ls: %s", res)
		}
		got := strings.Fields(res.Stdout)
		if len(got) != len(want) {
			t.Errorf("/nix/store inside has %d entries, want %d", len(got), len(want))
		}
		for _, g := range got {
			if !want[g] {
				t.Errorf("/nix/store inside holds %s, not in the closure", g)
			}
		}
	})
}

// TestStoreMemberMissing: a member the Nix database lists as valid but
// that was deleted from disk behind Nix's back stops the sandbox with exit
// 125 and a message naming it, before the app runs, whether the closure
// comes from the database (first run: nixbox no longer looks at members
// on disk, nixbox-init does, issue 6) or from the cache (second run). The
// member is a store path added for the test, removed, and put back as it
// was (same bytes, mode and mtime: the store is consistent again).
func TestStoreMemberMissing(t *testing.T) {
	bash := h.Bin(t, "BASH", "bash")
	gone := addFileToStore(t, "#!"+bash+"\necho missing-member-"+strconv.FormatInt(time.Now().UnixNano(), 10)+"\n")
	fi, err := os.Lstat(gone)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(gone)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		h.SkipOrFail(t, "deleting %s from the store: %v", gone, err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(gone, body, fi.Mode().Perm()|0o200); err != nil {
			t.Errorf("restoring %s: %v", gone, err)
			return
		}
		_ = os.Chmod(gone, fi.Mode().Perm())
		_ = os.Chtimes(gone, fi.ModTime(), fi.ModTime())
	})
	prof := h.WriteProfile(t, "gonemember", "version = 1\nextends = \"default\"\n[app]\npackages = [\""+gone+"\"]\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		for _, run := range []string{"uncached", "cached"} {
			res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "COREUTILS", "echo"), "app-ran")
			if res.Code != 125 || strings.Contains(res.Stdout, "app-ran") ||
				!strings.Contains(res.Stderr, gone+": a member of the app's closure is missing from the host's store") ||
				!strings.Contains(res.Stderr, "nix-store --repair-path "+gone) {
				t.Fatalf("%s run with %s deleted: %s", run, gone, res)
			}
		}
		entries, _ := filepath.Glob(filepath.Join(r.Home, ".cache", "nixbox", "closures", "*.closure"))
		if len(entries) == 0 {
			t.Errorf("no closure was cached: the second run was not a cached one")
		}
	})
}

// TestStoreAssemblyFailsClosed: a closure list nixbox-init cannot honour
// (a name that is no store path's, a member missing from the store, a
// line of the old format) stops the sandbox with exit 125 before the app
// runs. Run under Debian's runc from a bundle whose list is edited, as
// nixbox itself never writes such a list.
func TestStoreAssemblyFailsClosed(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		h.SkipOrFail(t, "runc not installed (make setup installs it)")
	}
	coreutils := filepath.Base(h.Fixture(t, "COREUTILS"))
	for _, tc := range []struct{ name, line string }{
		{"link farm", ".links"},
		{"dot-dot", ".."},
		{"missing member", "00000000000000000000000000000000-missing"},
		{"a path, not a name", "/nix/store/" + coreutils},
		{"version 1 line", "p " + coreutils},
		{"version 1 symlink line", "s " + coreutils + " /etc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.ForEach(t, func(t *testing.T, r *h.Runner) {
				dir := filepath.Join(r.Tmp, "bundle-"+strconv.Itoa(int(time.Now().UnixNano())))
				res := r.Run(t, "", "spec", "--bundle", dir, "--profile", "default", h.Bin(t, "COREUTILS", "echo"), "app-ran")
				if res.Code != 0 {
					t.Fatalf("spec --bundle: %s", res)
				}
				list := filepath.Join(dir, "rootfs", ".nixbox", "store.list")
				b, err := os.ReadFile(list)
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
				var out []string
				for _, l := range lines {
					if !strings.Contains(l, coreutils) {
						out = append(out, l)
					}
				}
				out = append(out, tc.line)
				// The list is read-only; its directory belongs to the runner.
				if err := os.Remove(list); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(list, []byte(strings.Join(out, "\n")+"\n"), 0o444); err != nil {
					t.Fatal(err)
				}
				_ = os.Chown(list, r.UID, r.GID)
				ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
				defer cancel()
				c := exec.CommandContext(ctx, runc, "--root", filepath.Join(r.Tmp, "runc-state"), "run", "--bundle", dir,
					"nixbox-it-"+r.Name+"-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(int(time.Now().UnixNano())))
				c.Env = r.Env("XDG_RUNTIME_DIR=" + r.Tmp)
				c.SysProcAttr = r.Cred()
				got, err := c.CombinedOutput()
				ee, ok := err.(*exec.ExitError)
				if !ok || ee.ExitCode() != 125 || strings.Contains(string(got), "app-ran") ||
					!strings.Contains(string(got), "nixbox-init: assembling the store") {
					t.Fatalf("runc run with %q in the list: %v\n%s", tc.line, err, got)
				}
			})
		})
	}
}
