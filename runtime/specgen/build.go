package specgen

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/closure"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/rootfs"
	"github.com/nixbox/nixbox/seccomp"
)

// InitPath is where nixbox-init appears inside every sandbox.
const InitPath = "/.nixbox/init"

// SeccompPath is where the compiled seccomp filter appears inside every
// sandbox; nixbox-init loads it right before the app's execve.
const SeccompPath = "/.nixbox/seccomp.bpf"

// Bind is a host path made visible in the sandbox, after expansion and the
// host-side checks done by the caller.
type Bind struct {
	Source string
	Dest   string
	RW     bool
	// Key is the profile key it came from, for warnings.
	Key string
	// Unsafe is the profile's reason for an escape-equivalent source.
	Unsafe string
}

// Input is everything Build needs. It holds no host handles: the same Input
// always gives the same spec.
type Input struct {
	Profile *profiles.Profile
	Env     hostenv.Env
	Closure closure.Closure
	// Argv is the program (an absolute path inside the closure) and its
	// arguments.
	Argv []string
	// PathDirs become $PATH, in order.
	PathDirs []string
	// Rootfs is root.path of the spec: "rootfs" for a bundle, an absolute
	// per-instance directory for a run.
	Rootfs string
	// HomeSource is the host directory bound at $HOME for a persistent
	// home; empty for an ephemeral one.
	HomeSource string
	// Binds are the profile's binds, expanded and checked (ExpandBinds).
	Binds []Bind
	// HostFiles lists host files that exist among those bound for network
	// host mode (/etc/resolv.conf, CA certificates).
	HostFiles []string
	// Protected are nixbox's own host directories (profiles, per-app
	// homes, caches, run state). Where a bind exposes one of them (only
	// possible with unsafe), an empty read-only tmpfs masks it, even when
	// it does not exist yet (Firejail #7154).
	Protected []string
	// SeccompBPF is the host path of the filter compiled from
	// SeccompPolicy(Profile) (see runtime/seccache). Mandatory: without it
	// there is no sandbox.
	SeccompBPF string
	// CgroupsPath is the sandbox's own cgroup (linux.cgroupsPath), below
	// the delegated parent cmd/nixbox found with cgroups.PrepareParent.
	// Mandatory when the profile sets a cgroup limit (CgroupControllers),
	// and unused otherwise.
	CgroupsPath string
}

// Warning is a loosening of the default isolation that a user should see.
type Warning struct {
	Key string
	Msg string
}

func (w Warning) String() string { return w.Key + ": " + w.Msg }

// Plan is the result of Build: the spec, the root directory skeleton that
// must exist before the spec runs, and the warnings.
type Plan struct {
	Spec   *specs.Spec
	Rootfs []rootfs.Entry
	// Seccomp is the policy the app runs under, as OCI data. The spec
	// itself carries it compiled (SeccompBPF, loaded by nixbox-init), not
	// as linux.seccomp, so no runtime compiles it again at every start.
	Seccomp  *specs.LinuxSeccomp
	Warnings []Warning
}

// SeccompPolicy returns the seccomp policy a profile asks for, with its
// [seccomp] knobs applied.
func SeccompPolicy(p *profiles.Profile) (*specs.LinuxSeccomp, error) {
	s := p.Seccomp
	sc, err := seccomp.Build(seccomp.Options{
		Policy:         s.Policy,
		Network:        p.Network.Mode == profiles.NetworkHost,
		Allow:          s.Allow,
		Deny:           s.Deny,
		Unsafe:         s.Unsafe != "",
		AllowPtrace:    isTrue(s.AllowPtrace),
		AllowPerf:      isTrue(s.AllowPerf),
		AllowUserns:    isTrue(s.AllowUserns),
		AllowMultiarch: isTrue(s.AllowMultiarch),
		Action:         s.Action,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: seccomp: %w", ErrBuild, err)
	}
	return sc, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// seccompWarnings are the loosenings of the profile's [seccomp] knobs, one
// per key, for `nixbox explain`. deny and action "kill" only tighten.
func seccompWarnings(p *profiles.Profile) []Warning {
	s := p.Seccomp
	var w []Warning
	if len(s.Allow) > 0 {
		msg := "allowed with any arguments: " + strings.Join(s.Allow, ", ")
		if s.Unsafe != "" {
			msg += " (unsafe acknowledged: " + s.Unsafe + ")"
		}
		w = append(w, Warning{Key: "seccomp.allow", Msg: msg})
	}
	if isTrue(s.AllowPtrace) {
		w = append(w, Warning{Key: "seccomp.allow_ptrace",
			Msg: "ptrace, process_vm_readv/writev, kcmp and pidfd_getfd allowed: the app can read and control its own processes (not nixbox-init's or the host's)"})
	}
	if isTrue(s.AllowPerf) {
		w = append(w, Warning{Key: "seccomp.allow_perf",
			Msg: "perf_event_open allowed: a large kernel attack surface (kernel.perf_event_paranoid still applies)"})
	}
	if isTrue(s.AllowUserns) {
		w = append(w, Warning{Key: "seccomp.allow_userns",
			Msg: "the app can create user and other namespaces (clone/unshare) and chroot: kernel attack surface of unprivileged namespaces"})
	}
	if isTrue(s.AllowMultiarch) {
		w = append(w, Warning{Key: "seccomp.allow_multiarch",
			Msg: "i386 (32-bit) system calls allowed with the same rules, and modify_ldt and personality(PER_LINUX32); " +
				"32-bit code that opens sockets through socketcall (as 32-bit glibc does) is NOT family-filtered: " +
				"it can open any socket family the kernel offers (the family is in memory, where seccomp cannot look)"})
	}
	if s.Action == "log" {
		w = append(w, Warning{Key: "seccomp.action",
			Msg: "LEARNING MODE: system calls outside the strict allowlist are ALLOWED and only logged by the kernel; the never-allow calls and argument filters still fail"})
	}
	return w
}

// ErrBuild is returned when a profile cannot be turned into a spec.
var ErrBuild = errors.New("cannot build the sandbox spec")

// Default returns the base spec every sandbox starts from: a read-only
// root, new user/mount/pid/ipc/uts/net/cgroup namespaces, no capabilities,
// no_new_privs, masked and read-only /proc paths, a minimal /dev and a
// private /tmp.
func Default(root string) *specs.Spec {
	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: "nixbox",
		Process: &specs.Process{
			// nixbox-init alone holds CAP_SETFCAP, permitted but not
			// effective, in the sandbox's user namespace: the kernel asks
			// for it to map that namespace's uid 0 (the invoking user) into
			// the app's nested namespace. The stage that makes that
			// namespace clears every set, bounding included, and the app
			// runs with no capability at all. Inheritable and ambient
			// stay empty (CVE-2022-29162). WithStore adds what the store
			// assembly needs, which nixbox-init drops right after it.
			Capabilities: &specs.LinuxCapabilities{
				Bounding: []string{"CAP_SETFCAP"}, Effective: []string{},
				Permitted: []string{"CAP_SETFCAP"}, Inheritable: []string{}, Ambient: []string{},
			},
			NoNewPrivileges: true,
			Cwd:             "/",
		},
		Root: &specs.Root{Path: root, Readonly: true},
		Linux: &specs.Linux{
			// Propagation private: nothing mounted inside leaks out, and
			// nothing mounted on the host later appears inside (runc #4417).
			RootfsPropagation: "rprivate",
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
				"/proc/timer_stats",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
	}
	_ = Compose(s, WithNamespaces(
		specs.UserNamespace, specs.MountNamespace, specs.PIDNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.NetworkNamespace, specs.CgroupNamespace))
	s.Mounts = defaultMounts()
	return s
}

// defaultMounts are /proc, a minimal /dev and a private /tmp. There is no
// /sys at all: it exposes host devices, and a writable cgroupfs is
// CVE-2023-25809.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "noexec", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "mode=1777", "size=1g"}},
	}
}

// Build turns the input into a plan.
func Build(in Input) (*Plan, error) {
	p := in.Profile
	if p == nil {
		return nil, fmt.Errorf("%w: no profile", ErrBuild)
	}
	env := in.Env
	if len(in.Argv) == 0 || !path.IsAbs(in.Argv[0]) {
		return nil, fmt.Errorf("%w: the program must be an absolute path", ErrBuild)
	}
	if env.InitPath == "" {
		return nil, fmt.Errorf("%w: nixbox-init not found (install it next to nixbox or set NIXBOX_INIT)", ErrBuild)
	}
	if env.Home == "" || !path.IsAbs(env.Home) || path.Clean(env.Home) != env.Home {
		return nil, fmt.Errorf("%w: home directory %q is not a clean absolute path", ErrBuild, env.Home)
	}
	// $HOME becomes a mount: it must not cover a place nixbox provides.
	if profiles.IsReservedDest(env.Home) || profiles.IsPseudoSource(env.Home) || env.Home == "/nix/var" ||
		strings.HasPrefix(env.Home, "/nix/") {
		return nil, fmt.Errorf("%w: home directory %q is a path nixbox reserves; set HOME to your home directory", ErrBuild, env.Home)
	}
	if in.Rootfs == "" {
		in.Rootfs = "rootfs"
	}
	plan := &Plan{}
	s := Default(in.Rootfs)

	network := p.Network.Mode == profiles.NetworkHost
	sc, err := SeccompPolicy(p)
	if err != nil {
		return nil, err
	}
	plan.Seccomp = sc
	if policyName(p) != seccomp.PolicyStrict {
		plan.Warnings = append(plan.Warnings, Warning{Key: "seccomp.policy",
			Msg: fmt.Sprintf("%q is a denylist: system calls it does not name, including ones newer than nixbox, are allowed", policyName(p))})
	}
	plan.Warnings = append(plan.Warnings, seccompWarnings(p)...)
	// Fail closed: every sandbox runs under the compiled filter.
	if in.SeccompBPF == "" {
		return nil, fmt.Errorf("%w: no compiled seccomp filter", ErrBuild)
	}

	initArgs := []string{InitPath, "--uid", strconv.Itoa(env.UID), "--gid", strconv.Itoa(env.GID)}
	if isTrue(p.Seccomp.AllowUserns) {
		// Security suite case 21: by default nixbox-init sets
		// user.max_user_namespaces to 0 in the app's user namespace, so
		// the app cannot create one even without the seccomp filter
		// (cmd/nixbox-init/sysctl.go). allow_userns exists for apps that
		// must (browsers' own sandboxes): the filter allows the calls,
		// and the cap must go too. The knob is warned (seccompWarnings).
		initArgs = append(initArgs, "--allow-userns")
	}
	opts := []Opt{
		WithArgs(append(append(initArgs, "--"), in.Argv...)...),
		WithIDMap(env.UID, env.GID),
		WithTerminal(env.Terminal),
		WithCwd(env.Home),
		// The policy is compiled once per policy hash and loaded by
		// nixbox-init in the app's namespace right before execve: the app
		// never runs unfiltered, and no runtime recompiles it (15-35 ms
		// per start, host-facts §6).
		withAnnotation("org.nixbox.seccomp.policy", policyName(p)),
	}

	limits, err := limitOpts(p, in.CgroupsPath)
	if err != nil {
		return nil, err
	}
	opts = append(opts, limits...)

	// The store: nixbox-init assembles the closure on an empty tmpfs from
	// one staging bind of the host's store (see WithStore and store.go).
	list, err := StoreList(in.Closure)
	if err != nil {
		return nil, err
	}
	plan.Rootfs = append(plan.Rootfs, rootfs.Entry{Path: strings.TrimPrefix(StoreListPath, "/"),
		Kind: rootfs.File, Mode: 0o444, Data: list})

	// $HOME: an empty tmpfs, or the per-profile persistent directory.
	// The real home is never visible.
	if in.HomeSource != "" {
		opts = append(opts, WithMounts(specs.Mount{Destination: env.Home, Type: "bind", Source: in.HomeSource,
			Options: []string{"rbind", "rw", "nosuid", "nodev"}}))
		// A rw host directory without a quota (security suite case 59).
		plan.Warnings = append(plan.Warnings, Warning{Key: "home.mode",
			Msg: fmt.Sprintf("persistent home in %s: the app can fill the host file system through it; nixbox sets no quota", in.HomeSource)})
	} else {
		size := p.Home.Size
		if size == "" {
			size = "256M"
		}
		// Owned by the sandbox's root, which is the invoking user.
		hopts := []string{"nosuid", "nodev", "mode=700", "size=" + strings.ToLower(size)}
		if n := p.Home.NrInodes; n != nil && *n > 0 {
			// Validated to 1..profiles.MaxTmpfsInodes; unset keeps the
			// kernel's default, never "unlimited" (security suite case 59).
			hopts = append(hopts, "nr_inodes="+strconv.FormatInt(*n, 10))
		}
		opts = append(opts, WithMounts(specs.Mount{Destination: env.Home, Type: "tmpfs", Source: "tmpfs", Options: hopts}))
	}

	// Profile binds and tmpfs, parents before children.
	var extra []specs.Mount
	for _, b := range in.Binds {
		if b.Unsafe != "" {
			plan.Warnings = append(plan.Warnings, Warning{Key: b.Key,
				Msg: fmt.Sprintf("unsafe bind of %s acknowledged: %s", b.Source, b.Unsafe)})
		}
		mode := "ro"
		if b.RW {
			mode = "rw"
			plan.Warnings = append(plan.Warnings, Warning{Key: b.Key,
				Msg: fmt.Sprintf("the app can change host files in %s and can fill the host file system through it; nixbox sets no quota", b.Source)})
		}
		extra = append(extra, specs.Mount{Destination: b.Dest, Type: "bind", Source: b.Source,
			Options: []string{"rbind", mode, "nosuid", "nodev"}})
	}
	for i, t := range p.Filesystem.Tmpfs {
		key := fmt.Sprintf("filesystem.tmpfs[%d].dest", i)
		dest, err := profiles.ExpandPath(t.Dest, env.Vars, env.Home)
		if err != nil {
			return nil, keyErr(p, key, err)
		}
		if profiles.IsReservedDest(dest) {
			return nil, keyErr(p, key, fmt.Errorf("destination %q is reserved by nixbox", dest))
		}
		size := t.Size
		if size == "" {
			size = "64M"
		}
		mopts := []string{"nosuid", "nodev", "mode=755", "size=" + strings.ToLower(size)}
		if t.NrInodes > 0 {
			// Validated to 1..profiles.MaxTmpfsInodes; 0 (unset) keeps the
			// kernel's default, never "unlimited".
			mopts = append(mopts, "nr_inodes="+strconv.FormatInt(t.NrInodes, 10))
		}
		extra = append(extra, specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: mopts})
	}
	if network {
		msg := "host network: the app can reach the network, local services and abstract unix sockets (X11, D-Bus)"
		if p.Network.Unsafe != "" {
			msg += " (unsafe acknowledged: " + p.Network.Unsafe + ")"
		}
		plan.Warnings = append(plan.Warnings, Warning{Key: "network.mode", Msg: msg})
		opts = append(opts, WithoutNamespace(specs.NetworkNamespace))
		for _, f := range in.HostFiles {
			extra = append(extra, specs.Mount{Destination: f, Type: "bind", Source: f,
				Options: []string{"rbind", "ro", "nosuid", "nodev"}})
		}
	}
	extra = append(extra, masks(in.Binds, in.Protected)...)
	sort.SliceStable(extra, func(i, j int) bool { return depth(extra[i].Destination) < depth(extra[j].Destination) })
	opts = append(opts, WithMounts(extra...))
	// nixbox's own files and the store go last, on top of everything: even
	// a profile bind whose destination a planted symlink redirected
	// (security suite case 8) cannot shadow the init, the filter it loads
	// or the store it assembles.
	opts = append(opts, WithStore(), WithMounts(
		specs.Mount{Destination: InitPath, Type: "bind", Source: env.InitPath,
			Options: []string{"bind", "ro", "nosuid", "nodev"}},
		specs.Mount{Destination: SeccompPath, Type: "bind", Source: in.SeccompBPF,
			Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}}))

	envMap, warns, err := buildEnv(in)
	if err != nil {
		return nil, err
	}
	plan.Warnings = append(plan.Warnings, warns...)
	opts = append(opts, WithEnv(envMap))

	if err := Compose(s, opts...); err != nil {
		return nil, err
	}
	plan.Spec = s
	plan.Rootfs = append(etcFiles(env), plan.Rootfs...)
	return plan, nil
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// keyErr wraps an expansion error with the profile position of key.
func keyErr(p *profiles.Profile, key string, err error) error {
	pos := p.Pos[key]
	return &profiles.Error{File: pos.File, Line: pos.Line, Col: pos.Col, Key: key, Msg: err.Error()}
}

// buildEnv makes the app's environment: a clean base, then the passed host
// variables, then the profile's values. Nothing of the launcher's own
// environment leaks in (CVE-2021-21261).
func buildEnv(in Input) (map[string]string, []Warning, error) {
	env := in.Env
	p := in.Profile
	m := map[string]string{
		"HOME":    env.Home,
		"USER":    env.User,
		"LOGNAME": env.User,
		"TMPDIR":  "/tmp",
		"PATH":    strings.Join(in.PathDirs, ":"),
	}
	if m["PATH"] == "" {
		m["PATH"] = "/.nixbox/no-path"
	}
	if env.Terminal {
		if t := env.Vars["TERM"]; t != "" {
			m["TERM"] = t
		}
	}
	var warns []Warning
	for _, name := range p.Env.Pass {
		if v, ok := env.Vars[name]; ok {
			m[name] = v
		}
	}
	keys := make([]string, 0, len(p.Env.Set))
	for k := range p.Env.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m[k] = p.Env.Set[k]
	}
	return m, warns, nil
}

// etcFiles synthesizes /etc with only the invoking user and group.
func etcFiles(env hostenv.Env) []rootfs.Entry {
	uid, gid := strconv.Itoa(env.UID), strconv.Itoa(env.GID)
	passwd := env.User + ":x:" + uid + ":" + gid + "::" + env.Home + ":/.nixbox/no-shell\n"
	group := env.Group + ":x:" + gid + ":\n"
	if env.UID != 65534 {
		passwd += "nobody:x:65534:65534::/nonexistent:/.nixbox/no-shell\n"
	}
	if env.GID != 65534 {
		group += "nogroup:x:65534:\n"
	}
	es := []rootfs.Entry{
		{Path: "etc", Kind: rootfs.Dir, Mode: 0o755},
		{Path: "etc/passwd", Kind: rootfs.File, Mode: 0o644, Data: passwd},
		{Path: "etc/group", Kind: rootfs.File, Mode: 0o644, Data: group},
		{Path: "etc/hostname", Kind: rootfs.File, Mode: 0o644, Data: "nixbox\n"},
		{Path: "etc/hosts", Kind: rootfs.File, Mode: 0o644, Data: "127.0.0.1 localhost nixbox\n::1 localhost nixbox\n"},
		{Path: "etc/nsswitch.conf", Kind: rootfs.File, Mode: 0o644, Data: "passwd: files\ngroup: files\nhosts: files dns\n"},
		{Path: "nix/store", Kind: rootfs.Dir, Mode: 0o755},
	}
	return es
}

func policyName(p *profiles.Profile) string {
	if p.Seccomp.Policy == "" {
		return seccomp.PolicyStrict
	}
	return p.Seccomp.Policy
}

// masks returns a read-only, empty tmpfs for every protected directory a
// bind makes visible, at the place it appears inside.
func masks(binds []Bind, protected []string) []specs.Mount {
	var out []specs.Mount
	seen := map[string]bool{}
	for _, b := range binds {
		for _, d := range protected {
			prefix := strings.TrimSuffix(b.Source, "/") + "/"
			rel, ok := strings.CutPrefix(d, prefix)
			if !ok && d != b.Source {
				continue
			}
			dest := b.Dest
			if ok {
				dest = path.Join(b.Dest, rel)
			}
			if seen[dest] {
				continue
			}
			seen[dest] = true
			out = append(out, specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs",
				Options: []string{"ro", "nosuid", "nodev", "noexec", "mode=000", "size=4k"}})
		}
	}
	return out
}
