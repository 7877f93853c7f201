package specgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/closure"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/specgen/specinvariant"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	glibc = "/nix/store/0c2dx1nqm2i6cv0l4cd8gbmr4qwm8b5m-glibc-2.36-host"
	app   = "/nix/store/1a2b3c4d5f6g7h8i9j0k1l2m3n4p5q6r-hello-1.0"
	evil  = "/nix/store/9z8y7x6w5v4s3r2q1p0n9m8l7k6j5i4h-evil-symlink"
)

// testEnv is a fixed host: the same input always gives the same spec.
func testEnv() hostenv.Env {
	return hostenv.Env{
		UID: 1000, GID: 100, User: "alice", Group: "users", Home: "/home/alice",
		Vars: map[string]string{
			"TERM": "xterm-256color", "LANG": "C.UTF-8", "SECRET_TOKEN": "hunter2",
			"XDG_RUNTIME_DIR": "/run/user/1000",
		},
		InitPath: "/usr/libexec/nixbox/nixbox-init",
	}
}

func testClosure() closure.Closure {
	return closure.Closure{
		Roots: []string{app},
		Paths: []string{glibc, app, evil},
	}
}

// buildCase builds the plan for testdata/NAME.toml.
func buildCase(t *testing.T, name string) *Plan {
	t.Helper()
	file := filepath.Join("testdata", name+".toml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Parse(file, data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	p.Name = name
	env := testEnv()
	reqs, err := ExpandBinds(p, env)
	if err != nil {
		t.Fatalf("ExpandBinds: %v", err)
	}
	var binds []Bind
	for _, r := range reqs {
		binds = append(binds, r.Bind)
	}
	in := Input{
		Profile: p, Env: env, Closure: testClosure(),
		Argv:     []string{app + "/bin/hello", "--greeting", "hi"},
		PathDirs: []string{app + "/bin"},
		Binds:    binds,
		// A fixed path: the cache is host state.
		SeccompBPF: "/home/alice/.cache/nixbox/seccomp/0123abcd.bpf",
	}
	if p.Home.Mode == profiles.HomePersistent {
		in.HomeSource = "/home/alice/.local/share/nixbox/" + name + "/home"
	}
	if p.Network.Mode == profiles.NetworkHost {
		in.HostFiles = []string{"/etc/resolv.conf"}
	}
	plan, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return plan
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGolden compares each testdata/*.toml's plan with its golden file.
// `go test ./runtime/specgen -update` rewrites them.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.toml")
	if len(files) == 0 {
		t.Fatal("no golden cases")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		t.Run(name, func(t *testing.T) {
			plan := buildCase(t, name)
			checkInvariants(t, plan)
			got := marshal(t, plan)
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				_ = os.WriteFile(filepath.Join("testdata", name+".got.json"), got, 0o644)
				t.Fatalf("plan differs from %s (-want +got):\n%s", golden, cmp.Diff(string(want), string(got)))
			}
			// Idempotence: the golden read back and re-marshalled is
			// byte-identical.
			var back Plan
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatal(err)
			}
			if again := marshal(t, &back); !bytes.Equal(again, want) {
				t.Fatalf("golden does not round-trip:\n%s", cmp.Diff(string(want), string(again)))
			}
			// Determinism: a second build gives the same bytes.
			if again := marshal(t, buildCase(t, name)); !bytes.Equal(again, got) {
				t.Fatalf("Build is not deterministic")
			}
		})
	}
}

// checkInvariants applies the shared invariant checker (style.md §8.4) that
// the fuzz targets use too.
func checkInvariants(t *testing.T, plan *Plan) {
	t.Helper()
	for _, err := range specinvariant.Check(plan.Spec, plan.Seccomp) {
		t.Error(err)
	}
}

// TestInvariantPaths: the checker knows the paths specgen uses.
func TestInvariantPaths(t *testing.T) {
	if InitPath != specinvariant.InitPath || SeccompPath != specinvariant.SeccompPath {
		t.Fatalf("specgen paths %s, %s; specinvariant %s, %s",
			InitPath, SeccompPath, specinvariant.InitPath, specinvariant.SeccompPath)
	}
}

func has(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// TestSymlinkMemberNotBound: a symlink closure member is listed for
// nixbox-init by its name alone, like any member, and nothing binds it (a
// bind would follow it to the host's /etc); nixbox-init recreates it.
func TestSymlinkMemberNotBound(t *testing.T) {
	plan := buildCase(t, "default")
	for _, m := range plan.Spec.Mounts {
		if m.Destination == evil || m.Source == evil {
			t.Fatalf("symlink member mounted: %+v", m)
		}
	}
	var list string
	for _, e := range plan.Rootfs {
		if e.Path == strings.TrimPrefix(StoreListPath, "/") && e.Kind == "file" {
			list = e.Data
		}
	}
	// Listed by name only: nixbox-init finds out it is a symlink, from
	// the member itself (no target in the list to trust or to check).
	if !strings.HasSuffix(list, "\n"+strings.TrimPrefix(evil, "/nix/store/")+"\n") {
		t.Fatalf("symlink member not listed by its name alone: %q", list)
	}
}

// TestStoreList: the closure list nixbox-init reads, and the members it
// cannot carry.
func TestStoreList(t *testing.T) {
	t.Parallel()
	got, err := StoreList(testClosure())
	if err != nil {
		t.Fatal(err)
	}
	want := "nixbox-store 2\n" +
		"0c2dx1nqm2i6cv0l4cd8gbmr4qwm8b5m-glibc-2.36-host\n" +
		"1a2b3c4d5f6g7h8i9j0k1l2m3n4p5q6r-hello-1.0\n" +
		"9z8y7x6w5v4s3r2q1p0n9m8l7k6j5i4h-evil-symlink\n"
	if got != want {
		t.Fatalf("StoreList = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		name string
		cl   closure.Closure
	}{
		{"outside the store", closure.Closure{Paths: []string{"/opt/x"}}},
		{"below a store path", closure.Closure{Paths: []string{app + "/bin"}}},
		{"link farm", closure.Closure{Paths: []string{"/nix/store/.links"}}},
		{"dot-dot", closure.Closure{Paths: []string{"/nix/store/.."}}},
		{"newline in a name", closure.Closure{Paths: []string{evil + "\n" + glibc}}},
		{"space in a name", closure.Closure{Paths: []string{evil + " /etc"}}},
		{"empty", closure.Closure{Paths: []string{""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := StoreList(tc.cl); !errors.Is(err, ErrBuild) {
				t.Fatalf("StoreList = %v, want %v", err, ErrBuild)
			}
		})
	}
}

// TestEnvIsClean: no host variable reaches the app unless passed.
func TestEnvIsClean(t *testing.T) {
	plan := buildCase(t, "default")
	for _, e := range plan.Spec.Process.Env {
		if strings.HasPrefix(e, "SECRET_TOKEN=") || strings.HasPrefix(e, "LANG=") {
			t.Fatalf("host variable leaked: %s", e)
		}
	}
}

// TestWarnings: every loosening gives a warning; the default gives none.
func TestWarnings(t *testing.T) {
	if w := buildCase(t, "default").Warnings; len(w) != 0 {
		t.Fatalf("default profile warns: %v", w)
	}
	w := buildCase(t, "loose").Warnings
	keys := map[string]bool{}
	for _, x := range w {
		keys[x.Key] = true
	}
	for _, k := range []string{"network.mode", "filesystem.rw[0]", "filesystem.bind[0].source"} {
		if !keys[k] {
			t.Errorf("no warning for %s in %v", k, w)
		}
	}
	// Security suite case 59: every rw host directory (rw binds and the
	// persistent home) warns that nixbox sets no quota on it; nothing
	// else does.
	quota := 0
	for _, x := range w {
		q := strings.HasSuffix(x.Msg, "can fill the host file system through it; nixbox sets no quota")
		switch x.Key {
		case "filesystem.rw[0]", "filesystem.bind[0].source", "home.mode":
			if !q {
				t.Errorf("%s warning %q does not say that nixbox sets no quota", x.Key, x.Msg)
			}
			quota++
		default:
			if q {
				t.Errorf("%s warns about the quota: %q", x.Key, x.Msg)
			}
		}
	}
	if quota != 3 {
		t.Errorf("%d quota warnings in %v, want 3 (filesystem.rw[0], filesystem.bind[0].source, home.mode)", quota, w)
	}
	// A private tmpfs, limited or not, is no loosening.
	if w := buildCase(t, "tmpfs").Warnings; len(w) != 0 {
		t.Errorf("tmpfs case warns: %v", w)
	}
	// The host network warning quotes the profile's acknowledgement.
	for _, x := range w {
		if x.Key == "network.mode" && !strings.HasSuffix(x.Msg, "(unsafe acknowledged: the golden case of every loosening)") {
			t.Errorf("network.mode warning %q does not quote network.unsafe", x.Msg)
		}
	}
}

// TestSeccompWarnings: each [seccomp] loosening gives one warning naming
// its key, and the policy built is the one the knobs ask for.
func TestSeccompWarnings(t *testing.T) {
	plan := buildCase(t, "seccomp-knobs")
	keys := map[string]int{}
	for _, x := range plan.Warnings {
		keys[x.Key]++
	}
	for _, k := range []string{"seccomp.allow", "seccomp.allow_ptrace", "seccomp.allow_perf", "seccomp.allow_userns", "seccomp.allow_multiarch", "seccomp.action"} {
		if keys[k] != 1 {
			t.Errorf("%d warnings for %s in %v, want 1", keys[k], k, plan.Warnings)
		}
	}
	if keys["seccomp.deny"] != 0 {
		t.Errorf("deny only tightens, but warns: %v", plan.Warnings)
	}
	if plan.Seccomp.DefaultAction != specs.ActLog {
		t.Errorf("default action %v, want SCMP_ACT_LOG", plan.Seccomp.DefaultAction)
	}
	var allowed, denied []string
	for _, r := range plan.Seccomp.Syscalls {
		if len(r.Args) > 0 {
			continue
		}
		if r.Action == specs.ActAllow {
			allowed = append(allowed, r.Names...)
		} else {
			denied = append(denied, r.Names...)
		}
	}
	for _, n := range []string{"sysfs", "keyctl", "process_vm_readv", "perf_event_open", "unshare", "clone"} {
		if !has(allowed, n) {
			t.Errorf("%s not allowed", n)
		}
	}
	// deny beats allow_ptrace.
	for _, n := range []string{"chmod", "ptrace"} {
		if !has(denied, n) || has(allowed, n) {
			t.Errorf("%s not denied", n)
		}
	}
}

// TestOptsNilSafe runs every option against an empty spec.
func TestOptsNilSafe(t *testing.T) {
	opts := map[string]Opt{
		"WithArgs":         WithArgs("/x"),
		"WithEnv":          WithEnv(map[string]string{"A": "1"}),
		"WithIDMap":        WithIDMap(1, 1),
		"WithNamespaces":   WithNamespaces(specs.PIDNamespace),
		"WithoutNamespace": WithoutNamespace(specs.NetworkNamespace),
		"WithMounts":       WithMounts(specs.Mount{Destination: "/x"}),
		"WithSeccomp":      WithSeccomp(&specs.LinuxSeccomp{}),
		"WithTerminal":     WithTerminal(true),
		"WithCwd":          WithCwd("/"),
		"WithRoot":         WithRoot("rootfs"),
		"WithStore":        WithStore(),
	}
	for name, o := range opts {
		t.Run(name, func(t *testing.T) {
			if err := o(&specs.Spec{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestExpandedPathsRechecked: a home path written out in full, or a
// variable expanding onto a reserved place, is caught after expansion.
func TestExpandedPathsRechecked(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"full-home-ssh", "version = 1\n[filesystem]\nro = [\"/home/alice/.ssh\"]\n"},
		{"full-home-whole", "version = 1\n[filesystem]\nrw = [\"/home/alice\"]\n"},
		{"xdg-onto-proc", "version = 1\n[filesystem]\nro = [\"$XDG_DOWNLOAD_DIR\"]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := profiles.Parse("x.toml", []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			env := testEnv()
			env.Vars = map[string]string{"XDG_DOWNLOAD_DIR": "/proc/self"}
			_, err = ExpandBinds(p, env)
			var pe *profiles.Error
			if !errors.As(err, &pe) || pe.Key == "" || pe.Line == 0 {
				t.Fatalf("ExpandBinds = %v, want a positioned *profiles.Error", err)
			}
		})
	}
}

// TestProtectedDirsMasked: a bind that exposes nixbox's own directories
// (allowed only with unsafe) gets them masked by an empty read-only tmpfs.
func TestProtectedDirsMasked(t *testing.T) {
	p, err := profiles.Parse("x.toml", []byte("version = 1\n[[filesystem.bind]]\nsource = \"~/.config\"\ndest = \"/cfg\"\nmode = \"rw\"\nunsafe = \"test\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv()
	reqs, err := ExpandBinds(p, env)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Profile: p, Env: env, Closure: testClosure(), Argv: []string{app + "/bin/hello"},
		Binds: []Bind{reqs[0].Bind}, SeccompBPF: "/x.bpf",
		Protected: []string{"/home/alice/.config/nixbox", "/home/alice/.cache/nixbox"}}
	plan, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var masked []string
	for _, m := range plan.Spec.Mounts {
		if m.Type == "tmpfs" && has(m.Options, "ro") {
			masked = append(masked, m.Destination)
		}
	}
	if len(masked) != 1 || masked[0] != "/cfg/nixbox" {
		t.Fatalf("masks = %v, want [/cfg/nixbox]", masked)
	}
}

// TestChildDenyBeatsParentAllow: "deny resets" (CVE-2022-21682): a child
// profile's deny takes back a call its parent allowed, and a child's allow
// cannot undo a parent's deny.
func TestChildDenyBeatsParentAllow(t *testing.T) {
	parse := func(src string) *profiles.Profile {
		p, err := profiles.Parse("x.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ parent, child string }{
		{"version = 1\n[seccomp]\nallow_ptrace = true\n", "version = 1\n[seccomp]\ndeny = [\"ptrace\"]\n"},
		{"version = 1\n[seccomp]\ndeny = [\"ptrace\"]\n", "version = 1\n[seccomp]\nallow_ptrace = true\n"},
		{"version = 1\n[seccomp]\nallow = [\"ptrace\"]\nunsafe = \"x\"\n", "version = 1\n[seccomp]\ndeny = [\"ptrace\"]\n"},
	} {
		m := profiles.Merge(parse(tc.parent), parse(tc.child))
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		sc, err := SeccompPolicy(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range sc.Syscalls {
			if has(r.Names, "ptrace") && r.Action == specs.ActAllow {
				t.Errorf("parent %q, child %q: ptrace allowed", tc.parent, tc.child)
			}
		}
	}
}

// TestHomeNrInodes: home.nr_inodes becomes the home tmpfs's nr_inodes=
// option (the tmpfs golden case); a persistent home is a bind, which has
// no such option, so there the key is validated but not used, like
// home.size.
func TestHomeNrInodes(t *testing.T) {
	homeOpts := func(plan *Plan) []string {
		t.Helper()
		for _, m := range plan.Spec.Mounts {
			if m.Destination == "/home/alice" {
				return m.Options
			}
		}
		t.Fatalf("no home mount in %+v", plan.Spec.Mounts)
		return nil
	}
	if o := homeOpts(buildCase(t, "tmpfs")); !has(o, "nr_inodes=8192") || !has(o, "size=128m") {
		t.Errorf("ephemeral home options %v lack nr_inodes=8192 and size=128m", o)
	}
	if o := homeOpts(buildCase(t, "default")); strings.Contains(strings.Join(o, ","), "nr_inodes") {
		t.Errorf("home without nr_inodes has options %v", o)
	}
	p, err := profiles.Parse("x.toml", []byte("version = 1\n[home]\nmode = \"persistent\"\nsize = \"1G\"\nnr_inodes = 4096\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	plan, err := Build(Input{Profile: p, Env: testEnv(), Closure: testClosure(), Argv: []string{app + "/bin/hello"},
		SeccompBPF: "/x.bpf", HomeSource: "/home/alice/.local/share/nixbox/x/home"})
	if err != nil {
		t.Fatal(err)
	}
	if o := homeOpts(plan); strings.Contains(strings.Join(o, ","), "nr_inodes") || strings.Contains(strings.Join(o, ","), "size=") {
		t.Errorf("persistent home bind has tmpfs options: %v", o)
	}
}
