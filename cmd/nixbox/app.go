package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/appres"
	"github.com/nixbox/nixbox/runtime/closure"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/hostfs"
	"github.com/nixbox/nixbox/runtime/seccache"
	"github.com/nixbox/nixbox/runtime/specgen"
	"github.com/nixbox/nixbox/seccomp"
)

// prepared is everything known about a run before anything is created.
type prepared struct {
	profile  *profiles.Profile
	env      hostenv.Env
	target   appres.Target
	closure  closure.Closure
	input    specgen.Input
	requests []specgen.BindRequest
	homeDir  string // persistent home path ("" for ephemeral)
}

// xdgDir returns $NAME if absolute, else home/fallback.
func xdgDir(env hostenv.Env, name, fallback string) string {
	if v := env.Vars[name]; filepath.IsAbs(v) {
		return filepath.Clean(v)
	}
	return filepath.Join(env.Home, fallback)
}

func profileLoader(env hostenv.Env) *profiles.Loader {
	return &profiles.Loader{
		Dirs: []string{
			filepath.Join(xdgDir(env, "XDG_CONFIG_HOME", ".config"), "nixbox", "profiles"),
			"/etc/nixbox/profiles",
		},
		UID: env.UID,
	}
}

// storeRoot returns /nix/store/<hash-name> of a path inside the store.
func storeRoot(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/nix/store/")
	if !ok || rest == "" {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return "/nix/store/" + name, true
}

// prepare loads the profile, resolves the app and its closure and expands
// the binds. It creates nothing.
func prepare(ctx context.Context, f *appFlags) (*prepared, error) {
	env, err := hostenv.Detect()
	if err != nil {
		return nil, err
	}
	pr := &prepared{env: env}
	trace("prepare: host detected")

	profName := f.app
	var program string
	if strings.HasPrefix(f.app, "/nix/store/") {
		program = f.app
		profName = "default"
		if f.profile.set {
			profName = f.profile.v
		}
	} else if f.profile.set {
		return nil, usageErr("--profile goes with a store path: nixbox run --profile P /nix/store/…/bin/x",
			"--profile given, but %q is not a store path", f.app)
	}
	p, err := profileLoader(env).Load(profName)
	if err != nil {
		return nil, err
	}
	pr.profile = p
	trace("prepare: profile loaded")

	if program != "" {
		root, ok := storeRoot(program)
		if !ok {
			return nil, fmt.Errorf("%w: %q", closure.ErrPathInvalid, program)
		}
		if strings.HasSuffix(root, ".drv") {
			return nil, fmt.Errorf("%w: %s is a derivation, not a package: build it first (nix-store -r)", closure.ErrPathInvalid, root)
		}
		pr.target, err = appres.Resolve(root, program, p.Name, env.Vars["PATH"])
	} else {
		if p.App.Package == "" {
			return nil, usageErr("set app.package in the profile, or run a store path with --profile "+p.Name,
				"profile %q names no app (app.package is empty)", p.Name)
		}
		pr.target, err = appres.Resolve(p.App.Package, p.App.Command, p.Name, env.Vars["PATH"])
	}
	if err != nil {
		return nil, err
	}

	// Check the binds before anything is resolved or cached: bad input
	// fails before any side effect.
	pr.requests, err = specgen.ExpandBinds(p, env)
	if err != nil {
		return nil, err
	}
	if err := pr.checkBinds(false); err != nil {
		return nil, err
	}

	roots := []string{pr.target.Root}
	pathDirs := []string{filepath.Join(pr.target.Root, "bin")}
	for _, extra := range p.App.Packages {
		t, err := appres.Resolve(extra, "", "", env.Vars["PATH"])
		if err != nil {
			// A package without a program is fine: only its root counts.
			root, ok := storeRoot(extra)
			if !ok {
				return nil, fmt.Errorf("app.packages: %w", err)
			}
			t.Root = root
		}
		roots = append(roots, t.Root)
		pathDirs = append(pathDirs, filepath.Join(t.Root, "bin"))
	}
	pr.closure, err = closure.Resolve(ctx, roots, closure.Options{
		CacheDir: filepath.Join(xdgDir(env, "XDG_CACHE_HOME", ".cache"), "nixbox", "closures"),
		IsRoot:   env.UID == 0,
	})
	if err != nil {
		return nil, err
	}
	if err := pr.target.CheckIn(pr.closure); err != nil {
		return nil, err
	}
	trace("prepare: closure resolved")

	if p.Home.Mode == profiles.HomePersistent {
		pr.homeDir = filepath.Join(xdgDir(env, "XDG_DATA_HOME", ".local/share"), "nixbox", p.Name, "home")
	}
	var hostFiles []string
	if p.Network.Mode == profiles.NetworkHost {
		for _, hf := range []string{"/etc/resolv.conf", "/etc/ssl/certs"} {
			if _, err := os.Stat(hf); err == nil {
				hostFiles = append(hostFiles, hf)
			}
		}
	}
	policy, err := specgen.SeccompPolicy(p)
	if err != nil {
		return nil, err
	}
	bpf, err := seccache.Get(filepath.Join(xdgDir(env, "XDG_CACHE_HOME", ".cache"), "nixbox", "seccomp"),
		env.UID, policy, seccomp.CompilerID(), seccomp.Compile)
	if err != nil {
		return nil, fmt.Errorf("compiling the seccomp filter: %w", err)
	}
	trace("prepare: seccomp filter")
	argv := append([]string{pr.target.Exec}, p.App.Args...)
	argv = append(argv, f.args...)
	pr.input = specgen.Input{
		Profile:    p,
		Env:        env,
		Closure:    pr.closure,
		Argv:       argv,
		PathDirs:   pathDirs,
		HomeSource: pr.homeDir,
		HostFiles:  hostFiles,
		SeccompBPF: bpf,
		Protected: []string{
			filepath.Join(xdgDir(env, "XDG_CONFIG_HOME", ".config"), "nixbox"),
			filepath.Join(xdgDir(env, "XDG_DATA_HOME", ".local/share"), "nixbox"),
			filepath.Join(xdgDir(env, "XDG_CACHE_HOME", ".cache"), "nixbox"),
			stateDir(env),
		},
	}
	if len(specgen.CgroupControllers(p)) > 0 {
		// Shown by spec and explain; a run finds the real one.
		pr.input.CgroupsPath = nominalCgroup(env, p.Name)
	}
	return pr, nil
}

// checkBinds runs the host checks on the binds. With create, missing
// sources marked create = true are made, and the persistent home too.
func (pr *prepared) checkBinds(create bool) error {
	pr.input.Binds = nil
	for _, r := range pr.requests {
		err := hostfs.CheckSource(r.Source, r.Create && create)
		if err != nil {
			if r.Optional || (r.Create && !create) {
				continue
			}
			pos := pr.profile.Pos[r.Key]
			hint := ""
			if errors.Is(err, hostfs.ErrSourceMissing) {
				hint = "create it, or mark the bind optional = true or create = true"
			}
			return &profiles.Error{File: pos.File, Line: pos.Line, Col: pos.Col, Key: r.Key,
				Msg: err.Error(), Err: err, Hint: hint}
		}
		// The profile rules are lexical; a bind follows symlinks. Check
		// where the source really is (~/notes -> ~/.ssh).
		if r.Unsafe == "" {
			if real, err := filepath.EvalSymlinks(r.Source); err == nil && real != r.Source {
				if bad, why := specgen.EscapeEquivalent(real, pr.env.Home); bad {
					pos := pr.profile.Pos[r.Key]
					return &profiles.Error{File: pos.File, Line: pos.Line, Col: pos.Col, Key: r.Key,
						Msg:  fmt.Sprintf("source %q resolves to %q, which is sandbox-escape-equivalent (%s)", r.Source, real, why),
						Hint: "bind the real target with unsafe = \"<reason>\" if you mean it"}
				}
			}
		}
		// A bind destination under another mount whose host directory the
		// app may write (the persistent home, a rw bind) must not pass
		// through a symlink the app planted there: the mount would land
		// elsewhere (CVE-2024-42472; security suite case 8).
		if err := pr.checkDestPath(r.Bind); err != nil {
			pos := pr.profile.Pos[r.Key]
			return &profiles.Error{File: pos.File, Line: pos.Line, Col: pos.Col, Key: r.Key,
				Msg: err.Error(), Err: err, Hint: "an earlier run may have planted it; inspect and remove the symlink"}
		}
		pr.input.Binds = append(pr.input.Binds, r.Bind)
	}
	if pr.homeDir != "" && create {
		dir, err := hostfs.EnsureAppHome(xdgDir(pr.env, "XDG_DATA_HOME", ".local/share"), pr.profile.Name, pr.env.UID)
		if err != nil {
			return err
		}
		pr.input.HomeSource = dir
	}
	return nil
}

// stateDir is where sandbox.StateRoot keeps run state, without creating it.
func stateDir(env hostenv.Env) string {
	if d := env.Vars["XDG_RUNTIME_DIR"]; filepath.IsAbs(d) {
		return filepath.Join(filepath.Clean(d), "nixbox")
	}
	tmp := env.Vars["TMPDIR"]
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return filepath.Join(filepath.Clean(tmp), fmt.Sprintf("nixbox-%d", env.UID))
}

// checkDestPath refuses a bind whose destination lies under the persistent
// home or under another bind's destination and, seen on the host through
// that mount's source, passes through a symlink.
func (pr *prepared) checkDestPath(b specgen.Bind) error {
	type cover struct{ dest, source string }
	var covers []cover
	if pr.homeDir != "" {
		covers = append(covers, cover{pr.env.Home, pr.homeDir})
	}
	for _, r := range pr.requests {
		if r.Bind != b {
			covers = append(covers, cover{r.Dest, r.Source})
		}
	}
	for _, c := range covers {
		rel, ok := strings.CutPrefix(b.Dest, strings.TrimSuffix(c.dest, "/")+"/")
		if !ok {
			continue
		}
		if err := hostfs.CheckNoSymlinks(c.source, rel); err != nil {
			return err
		}
	}
	return nil
}

// preparePlan is prepare plus the read-only host checks and the plan, for
// the subcommands that show a run without making one (spec, explain): they
// write nothing but nixbox's caches, and show what run would enforce.
func preparePlan(f *appFlags) (*prepared, *specgen.Plan, error) {
	pr, err := prepare(context.Background(), f)
	if err != nil {
		return nil, nil, err
	}
	if err := pr.checkBinds(false); err != nil {
		return nil, nil, err
	}
	pr.input.Rootfs = "rootfs"
	plan, err := specgen.Build(pr.input)
	if err != nil {
		return nil, nil, err
	}
	return pr, plan, nil
}
