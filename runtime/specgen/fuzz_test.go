package specgen

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/specgen/specinvariant"
)

// fuzzEnvs are the fixed hosts FuzzProfileToSpec builds for: the golden
// tests' host, and one whose XDG variables point at places a sandbox must
// never see, so that checks made before expansion are tried again after.
func fuzzEnvs() []hostenv.Env {
	hostile := testEnv()
	hostile.Vars = map[string]string{
		"XDG_CONFIG_HOME": "/nix/var/nix", "XDG_DATA_HOME": "/", "XDG_CACHE_HOME": "/proc/self",
		"XDG_STATE_HOME": "/nix/store", "XDG_RUNTIME_DIR": "/run/user/1000", "XDG_DOWNLOAD_DIR": "/sys/fs/cgroup",
		"XDG_DOCUMENTS_DIR": "/dev", "XDG_MUSIC_DIR": "/etc", "XDG_PICTURES_DIR": "/.nixbox",
		"XDG_VIDEOS_DIR": "/nix", "XDG_DESKTOP_DIR": "/tmp", "TERM": "xterm", "DISPLAY": ":0",
	}
	return []hostenv.Env{testEnv(), hostile}
}

// protectedDirs are nixbox's own directories for env, as cmd/nixbox
// computes them.
func protectedDirs(env hostenv.Env) []string {
	dir := func(v, def string) string {
		if d := env.Vars[v]; d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "nixbox")
		}
		return filepath.Join(env.Home, def, "nixbox")
	}
	out := []string{dir("XDG_CONFIG_HOME", ".config"), dir("XDG_DATA_HOME", ".local/share"), dir("XDG_CACHE_HOME", ".cache")}
	if d := env.Vars["XDG_RUNTIME_DIR"]; d != "" {
		out = append(out, filepath.Join(d, "nixbox"))
	}
	return out
}

// fuzzSeeds are every profile the repository holds: the parser's
// testdata, the golden cases and the built-in library.
func fuzzSeeds(f *testing.F) (seeds [][]byte) {
	var files []string
	for _, g := range []string{"../../profiles/testdata/*.toml", "../../profiles/testdata/*.json", "testdata/*.toml", "../../profiles/builtin/*.toml"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) == 0 {
		f.Fatal("no seed profiles")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// FuzzProfileToSpec: for any profile text that parses and validates, on
// its own or with its `extends` resolved against the built-in library,
// ExpandBinds and Build either fail with a positioned or build error, or
// give a spec that passes the shared invariant checker (style.md §8.4-5).
func FuzzProfileToSpec(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false)
	}
	f.Add([]byte(`{"version": 1, "filesystem": {"ro": ["~/Music"]}}`), true)
	lib := fstest.MapFS{}
	builtins, err := fs.ReadDir(profiles.Builtins(), ".")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range builtins {
		data, err := fs.ReadFile(profiles.Builtins(), e.Name())
		if err != nil {
			f.Fatal(err)
		}
		lib[e.Name()] = &fstest.MapFile{Data: data}
	}
	envs := fuzzEnvs()
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		name := "fuzz.toml"
		if isJSON {
			name = "fuzz.json"
		}
		p, err := profiles.Parse(name, data)
		if p != nil && err != nil {
			t.Fatalf("Parse returned both a profile and %v", err)
		}
		if err != nil {
			return
		}
		if p.Validate() == nil {
			for _, env := range envs {
				buildAndCheck(t, p, env)
			}
		}
		if len(p.Extends) == 0 || isJSON {
			return
		}
		// The same text as a library profile, so that extends = ["cli"]
		// gives the merged, effective profile a run would use.
		l := maps(lib, "fuzzed.toml", data)
		eff, err := (&profiles.Loader{Builtin: l}).Load("fuzzed")
		if err != nil {
			return
		}
		for _, env := range envs {
			buildAndCheck(t, eff, env)
		}
	})
}

func maps(lib fstest.MapFS, name string, data []byte) fstest.MapFS {
	out := make(fstest.MapFS, len(lib)+1)
	for k, v := range lib {
		out[k] = v
	}
	out[name] = &fstest.MapFile{Data: data}
	return out
}

// buildAndCheck runs a validated profile through ExpandBinds and Build the
// way cmd/nixbox does (every bind's source taken to exist) and checks the
// result.
func buildAndCheck(t *testing.T, p *profiles.Profile, env hostenv.Env) {
	t.Helper()
	reqs, err := ExpandBinds(p, env)
	if err != nil {
		var pe *profiles.Error
		if !errors.As(err, &pe) || pe.Key == "" {
			t.Fatalf("ExpandBinds error is not a keyed *profiles.Error: %v", err)
		}
		return
	}
	var binds []Bind
	o := specinvariant.Options{UnsafeSources: map[string]bool{}, Protected: protectedDirs(env)}
	for _, r := range reqs {
		binds = append(binds, r.Bind)
		if r.Unsafe != "" {
			o.UnsafeSources[r.Source] = true
		}
	}
	in := Input{
		Profile: p, Env: env, Closure: testClosure(),
		Argv:       []string{app + "/bin/hello"},
		PathDirs:   []string{app + "/bin"},
		Binds:      binds,
		SeccompBPF: "/home/alice/.cache/nixbox/seccomp/0123abcd.bpf",
		Protected:  o.Protected,
	}
	if p.Home.Mode == profiles.HomePersistent {
		in.HomeSource = "/home/alice/.local/share/nixbox/" + p.Name + "/home"
	}
	if p.Network.Mode == profiles.NetworkHost {
		in.HostFiles = []string{"/etc/resolv.conf"}
	}
	plan, err := Build(in)
	if err != nil {
		var pe *profiles.Error
		if !errors.Is(err, ErrBuild) && !errors.As(err, &pe) {
			t.Fatalf("Build error is neither ErrBuild nor a *profiles.Error: %v", err)
		}
		return
	}
	if errs := specinvariant.CheckOptions(plan.Spec, plan.Seccomp, o); len(errs) != 0 {
		var b strings.Builder
		for _, e := range errs {
			b.WriteString("\n\t" + e.Error())
		}
		t.Fatalf("spec for %s (XDG_DATA_HOME=%q) breaks invariants:%s", p.Source, env.Vars["XDG_DATA_HOME"], b.String())
	}
	// Every loosening warns.
	warned := map[string]bool{}
	for _, w := range plan.Warnings {
		warned[w.Key] = true
	}
	for _, b := range binds {
		if (b.RW || b.Unsafe != "") && !warned[b.Key] {
			t.Fatalf("no warning for %s (%+v): %v", b.Key, b, plan.Warnings)
		}
	}
	if p.Network.Mode == profiles.NetworkHost && !warned["network.mode"] {
		t.Fatalf("no warning for network.mode = host: %v", plan.Warnings)
	}
	// Security suite case 53: a validated profile never has host
	// networking without an acknowledgement.
	if p.Network.Mode == profiles.NetworkHost && strings.TrimSpace(p.Network.Unsafe) == "" {
		t.Fatalf("network.mode = host without network.unsafe passed validation")
	}
}
