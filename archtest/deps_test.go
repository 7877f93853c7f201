package archtest

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// purePackages must build without cgo and must never reach runc or
// libcontainer (style.md §3). Keep in step with PURE_PKGS in the Makefile.
var purePackages = []string{
	"profiles",
	"seccomp",
	"runtime/closure",
	"runtime/specgen",
	"runtime/hostenv",
	"runtime/rootfs",
	"runtime/appres",
	"runtime/hostfs",
	"runtime/cgroups",
}

// forbidden reports why a dependency of a pure package is not allowed, or
// "" if it is.
func forbidden(path string) string {
	switch {
	case path == "C":
		return "cgo"
	case path == "github.com/opencontainers/runc" || strings.HasPrefix(path, "github.com/opencontainers/runc/"):
		return "runc/libcontainer (only runtime/sandbox may import it)"
	case path == module+"/runtime/sandbox":
		return "runtime/sandbox (only cmd/nixbox may import it)"
	}
	return ""
}

// cgoException is a cgo package a pure package may reach in the release
// build (CGO_ENABLED=1 -tags seccomp), and the only packages of ours
// allowed to import it.
type cgoException struct {
	via    []string // packages of ours (relative) that may import it
	reason string
}

var cgoExceptions = map[string]cgoException{
	"github.com/seccomp/libseccomp-golang": {
		via: []string{"seccomp"},
		reason: "seccomp/bpf_linux.go (//go:build cgo && seccomp) dumps BPF with libseccomp; " +
			"bpf_other.go is the cgo-free twin (style.md §3). Everything importing seccomp, " +
			"such as runtime/specgen, links it in the release build.",
	},
	"github.com/mattn/go-sqlite3": {
		via: []string{"runtime/closure"},
		reason: "the closure query's SQLite driver, linked against the system libsqlite3 (-tags libsqlite3): " +
			"the pure-Go modernc.org/sqlite it replaced was a third of the binary libcontainer copies and " +
			"re-executes at every start (runtime/closure/resolve.go). Without cgo it builds as a stub whose " +
			"Open fails, and Resolve falls back to nix-store.",
	},
}

// TestPurePackagesWithoutCgo checks that each pure package and its tests
// build with CGO_ENABLED=0 (with the release tags too) and reach neither
// cgo nor runc. Any cgo-only file is then excluded, so a package whose
// code is all cgo shows up as a go list error.
func TestPurePackagesWithoutCgo(t *testing.T) {
	for _, tags := range []string{"", "seccomp"} {
		for _, p := range purePackages {
			t.Run(p+"/tags="+tags, func(t *testing.T) {
				t.Parallel()
				deps := goList(t, []string{"CGO_ENABLED=0"}, "-tags", tags, "-deps", "-test", "./"+p)
				for _, d := range deps {
					if d.Error != nil {
						t.Errorf("%s does not build without cgo: %s: %s", p, d.ImportPath, d.Error.Err)
					}
					if why := forbidden(d.ImportPath); why != "" {
						t.Errorf("%s depends on %s: %s", p, d.ImportPath, why)
					}
					if len(d.CgoFiles) > 0 {
						t.Errorf("%s depends on %s, which has cgo files %v with CGO_ENABLED=0", p, d.ImportPath, d.CgoFiles)
					}
					if slices.Contains(d.Imports, "C") {
						t.Errorf("%s depends on %s, which imports \"C\"", p, d.ImportPath)
					}
				}
			})
		}
	}
}

// TestPurePackagesReleaseBuild checks the pure packages as the release
// binary builds them (CGO_ENABLED=1 -tags seccomp): no cgo files of their
// own, no runc, and cgo dependencies outside the standard library only as
// listed in cgoExceptions.
func TestPurePackagesReleaseBuild(t *testing.T) {
	used := map[string]bool{}
	for _, p := range purePackages {
		deps := goList(t, []string{"CGO_ENABLED=1"}, "-tags", "seccomp", "-deps", "./"+p)
		importers := map[string][]string{}
		for _, d := range deps {
			for _, imp := range d.Imports {
				importers[imp] = append(importers[imp], d.ImportPath)
			}
		}
		for _, d := range deps {
			if why := forbidden(d.ImportPath); why != "" && d.ImportPath != "C" {
				t.Errorf("%s depends on %s: %s", p, d.ImportPath, why)
			}
			if ours(d.ImportPath) && (len(d.CgoFiles) > 0 || slices.Contains(d.Imports, "C")) {
				t.Errorf("%s: %s has cgo files %v; pure packages use no cgo (split into a build-tagged file that is not ours, or move it to runtime/sandbox)", p, d.ImportPath, d.CgoFiles)
			}
			if d.Standard || ours(d.ImportPath) || len(d.CgoFiles) == 0 {
				continue
			}
			ex, ok := cgoExceptions[d.ImportPath]
			if !ok {
				t.Errorf("%s depends on %s, which uses cgo; add it to cgoExceptions with a reason, or drop it", p, d.ImportPath)
				continue
			}
			used[d.ImportPath] = true
			for _, imp := range importers[d.ImportPath] {
				if !slices.Contains(ex.via, rel(imp)) {
					t.Errorf("%s imports %s, allowed only via %v (%s)", rel(imp), d.ImportPath, ex.via, ex.reason)
				}
			}
		}
	}
	for path := range cgoExceptions {
		if !used[path] {
			t.Errorf("cgoExceptions lists %s, but no pure package reaches it any more; remove the entry", path)
		}
	}
}

// importRule lists the packages of ours a package may import.
type importRule struct {
	any        bool        // the wiring package: may import anything of ours
	allowed    []string    // as documented in style.md §2 (relative paths)
	exceptions []exception // imports that break §2 as written, each with a reason
	// suite: the package is a test suite whose code is all in _test.go
	// files, so its test imports are checked too (otherwise its rule
	// could never fail).
	suite bool
}

// exception is an import the style guide does not show, kept knowingly.
type exception struct {
	pkg    string
	reason string
}

// importRules is style.md §2 as a table. Every package of the module must
// have an entry, so a new package forces a decision about its place.
var importRules = map[string]importRule{
	"cmd/nixbox":      {any: true}, // "only cmd/nixbox wires things together"
	"cmd/nixbox-init": {},          // static in-sandbox init, its own binary (§1)
	// The functional suite drives the built binaries through the shared
	// harness (runners, fixtures, running nixbox, skip-or-fail under CI),
	// as the escape suite does: one implementation for both.
	"integration": {allowed: []string{"integration/harness"}, suite: true},
	// The shared harness of both integration suites drives the built
	// binaries; it imports nothing of ours.
	"integration/harness": {},
	"integration/escape":  {allowed: []string{"integration/harness"}, suite: true},
	// make bench: runs the built binaries and peers, imports nothing of ours.
	"bench": {},
	// make bench's libcontainer floor: a benchmark-only program, not part
	// of nixbox's binaries. It imports libcontainer itself (not through
	// runtime/sandbox) because it measures libcontainer alone.
	"bench/lcfloor": {},
	"archtest":      {},
	"profiles":      {allowed: []string{"seccomp"}}, // syscall-name checks only
	"runtime/specgen": {
		allowed: []string{"profiles", "seccomp", "runtime/hostenv", "runtime/closure"},
		exceptions: []exception{{
			pkg: "runtime/rootfs",
			reason: "Plan.Rootfs is a []rootfs.Entry (the synthesized /etc files and store symlinks); " +
				"specgen uses the types only, cmd/nixbox calls rootfs.Write. Not in the §2 diagram.",
		}},
	},
	"runtime/appres": {
		// Not in the §2 diagram at all.
		exceptions: []exception{{
			pkg: "runtime/closure",
			reason: "appres calls closure.ParseStorePath, closure.StorePathOf and closure.ReadClosureInfo, " +
				"and Target.CheckIn takes a closure.Closure: a sideways call between lower packages, " +
				"which §2 otherwise forbids.",
		}},
	},
	// Leaves: import nothing of ours.
	"seccomp":         {},
	"runtime/closure": {},
	"runtime/hostenv": {},
	"runtime/hostfs":  {},
	"runtime/rootfs":  {},
	// The delegated parent cgroup and stats (containerd/cgroups/v3);
	// the sandbox's own cgroup belongs to libcontainer.
	"runtime/cgroups": {},
	// The shared spec invariant checker (style.md §8.4): imports nothing
	// of ours, so it is an oracle independent of profiles and specgen.
	"runtime/specgen/specinvariant": {},
	// Compiled seccomp filters on disk; takes the compiler as a function
	// value, so it needs no import of seccomp.
	"runtime/seccache": {},
	// Consumes a finished *specs.Spec; knows nothing about profiles.
	"runtime/sandbox": {},
}

// TestImportDirection checks every package's (non-test) imports of our own
// packages against importRules, and that only cmd/nixbox imports
// runtime/sandbox. For a test suite (importRule.suite: integration,
// integration/escape) the imports of its _test.go files are checked too.
func TestImportDirection(t *testing.T) {
	used := map[[2]string]bool{}
	seen := map[string]bool{}
	for _, p := range goList(t, nil, "-tags", "seccomp integration", "./...") {
		name := rel(p.ImportPath)
		seen[name] = true
		rule, ok := importRules[name]
		if !ok {
			t.Errorf("package %s is not in importRules; add it with the imports style.md §2 allows", name)
			continue
		}
		imports := p.Imports
		if rule.suite {
			imports = slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		}
		var bad []string
		for _, imp := range imports {
			if !ours(imp) {
				continue
			}
			r := rel(imp)
			if r == "runtime/sandbox" && name != "cmd/nixbox" {
				t.Errorf("%s imports runtime/sandbox; only cmd/nixbox may", name)
				continue
			}
			if rule.any || slices.Contains(rule.allowed, r) {
				continue
			}
			if i := slices.IndexFunc(rule.exceptions, func(e exception) bool { return e.pkg == r }); i >= 0 {
				used[[2]string{name, r}] = true
				t.Logf("%s -> %s: known exception: %s", name, r, rule.exceptions[i].reason)
				continue
			}
			bad = append(bad, r)
		}
		if len(bad) > 0 {
			t.Errorf("%s imports %v; allowed: %v (style.md §2)", name, bad, rule.allowed)
		}
	}
	var names []string
	for name := range importRules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !seen[name] {
			// Not a failure: a package may be added in one change and its
			// code land in another.
			t.Logf("importRules lists %s, which is not a package (yet, or any more)", name)
			continue
		}
		for _, e := range importRules[name].exceptions {
			if !used[[2]string{name, e.pkg}] {
				t.Errorf("%s no longer imports %s; remove the exception", name, e.pkg)
			}
		}
	}
}
