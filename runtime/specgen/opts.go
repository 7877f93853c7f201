package specgen

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Opt changes a spec. Every Opt is nil-safe: it creates the parts of the
// spec it needs.
type Opt func(*specs.Spec) error

// Compose applies opts in order and stops at the first error.
func Compose(s *specs.Spec, opts ...Opt) error {
	for _, o := range opts {
		if err := o(s); err != nil {
			return err
		}
	}
	return nil
}

func ensureProcess(s *specs.Spec) *specs.Process {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	return s.Process
}

func ensureLinux(s *specs.Spec) *specs.Linux {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	return s.Linux
}

// WithArgs sets the process arguments.
func WithArgs(args ...string) Opt {
	return func(s *specs.Spec) error {
		ensureProcess(s).Args = append([]string(nil), args...)
		return nil
	}
}

// WithEnv sets the process environment from a map, sorted by name so the
// output is deterministic.
func WithEnv(env map[string]string) Opt {
	return func(s *specs.Spec) error {
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		p := ensureProcess(s)
		p.Env = p.Env[:0]
		for _, k := range keys {
			p.Env = append(p.Env, k+"="+env[k])
		}
		return nil
	}
}

// WithIDMap maps the sandbox's uid and gid 0 to the invoking user's uid
// and gid, one id each, in a new user namespace (U1). libcontainer needs a
// mapped root: it owns the device nodes and the start fifo. nixbox-init
// runs there as that root without capabilities, and starts the app in a
// second, nested user namespace (U2) that maps uid and gid back to U1's 0,
// so the app runs as the invoking user's own uid and gid, never as root,
// and no other host id is ever mapped.
func WithIDMap(uid, gid int) Opt {
	return func(s *specs.Spec) error {
		l := ensureLinux(s)
		l.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(uid), Size: 1}}
		l.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(gid), Size: 1}}
		p := ensureProcess(s)
		p.User = specs.User{UID: 0, GID: 0}
		return nil
	}
}

// WithNamespaces sets the new namespaces of the sandbox.
func WithNamespaces(types ...specs.LinuxNamespaceType) Opt {
	return func(s *specs.Spec) error {
		l := ensureLinux(s)
		l.Namespaces = nil
		for _, t := range types {
			l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: t})
		}
		return nil
	}
}

// WithoutNamespace removes a namespace, sharing the host's.
func WithoutNamespace(t specs.LinuxNamespaceType) Opt {
	return func(s *specs.Spec) error {
		l := ensureLinux(s)
		out := l.Namespaces[:0]
		for _, ns := range l.Namespaces {
			if ns.Type != t {
				out = append(out, ns)
			}
		}
		l.Namespaces = out
		return nil
	}
}

// WithMounts appends mounts.
func WithMounts(ms ...specs.Mount) Opt {
	return func(s *specs.Spec) error {
		s.Mounts = append(s.Mounts, ms...)
		return nil
	}
}

// WithSeccomp sets the seccomp filter.
func WithSeccomp(sc *specs.LinuxSeccomp) Opt {
	return func(s *specs.Spec) error {
		ensureLinux(s).Seccomp = sc
		return nil
	}
}

// WithTerminal asks the runtime for a pty.
func WithTerminal(on bool) Opt {
	return func(s *specs.Spec) error {
		ensureProcess(s).Terminal = on
		return nil
	}
}

// WithCwd sets the working directory.
func WithCwd(dir string) Opt {
	return func(s *specs.Spec) error {
		ensureProcess(s).Cwd = dir
		return nil
	}
}

// WithRoot sets the root directory, always read-only.
func WithRoot(path string) Opt {
	return func(s *specs.Spec) error {
		s.Root = &specs.Root{Path: path, Readonly: true}
		return nil
	}
}

// withAnnotation records a fact about the sandbox in the spec.
func withAnnotation(k, v string) Opt {
	return func(s *specs.Spec) error {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
		return nil
	}
}
