package specinvariant_test

import (
	"errors"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/closure"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/specgen"
	"github.com/nixbox/nixbox/runtime/specgen/specinvariant"
)

const app = "/nix/store/1a2b3c4d5f6g7h8i9j0k1l2m3n4p5q6r-hello-1.0"

// baseline is a spec specgen builds from a profile with one ro bind, one
// rw bind and a tmpfs; it passes every invariant.
func baseline(t *testing.T) *specgen.Plan {
	t.Helper()
	p, err := profiles.Parse("b.toml", []byte("version = 1\n[filesystem]\nro = [\"/etc/fonts\"]\nrw = [\"~/work\"]\ntmpfs = [{ dest = \"/var/tmp\" }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := hostenv.Env{UID: 1000, GID: 100, User: "u", Group: "g", Home: "/home/u", InitPath: "/usr/lib/nixbox-init"}
	reqs, err := specgen.ExpandBinds(p, env)
	if err != nil {
		t.Fatal(err)
	}
	var binds []specgen.Bind
	for _, r := range reqs {
		binds = append(binds, r.Bind)
	}
	plan, err := specgen.Build(specgen.Input{Profile: p, Env: env, Binds: binds,
		Closure: closure.Closure{Roots: []string{app}, Paths: []string{app}},
		Argv:    []string{app + "/bin/hello"}, SeccompBPF: "/c/x.bpf"})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func mount(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	panic("no mount at " + dest)
}

func drop(opts []string, o string) []string {
	return slices.DeleteFunc(slices.Clone(opts), func(x string) bool { return x == o })
}

func bind(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Source: src, Type: "bind", Options: append([]string{"rbind"}, opts...)}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	if errs := specinvariant.Check(baseline(t).Spec, baseline(t).Seccomp); len(errs) != 0 {
		t.Fatalf("baseline: %v", errs)
	}
	tests := []struct {
		name   string
		mutate func(*specs.Spec, *specs.LinuxSeccomp)
		want   error
	}{
		{"no user namespace", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		}, specinvariant.ErrNamespaces},
		{"user namespace joined", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Linux.Namespaces[0].Path = "/proc/1/ns/user"
		}, specinvariant.ErrNamespaces},
		{"CAP_SYS_PTRACE", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_SYS_PTRACE")
		}, specinvariant.ErrCaps},
		{"CAP_SYS_ADMIN without the staging bind", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == specinvariant.StagingPath })
		}, specinvariant.ErrCaps},
		{"ambient", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Process.Capabilities.Ambient = []string{"CAP_SETFCAP"}
		}, specinvariant.ErrCaps},
		{"no capabilities section", func(s *specs.Spec, _ *specs.LinuxSeccomp) { s.Process.Capabilities = nil }, specinvariant.ErrCaps},
		{"no_new_privs off", func(s *specs.Spec, _ *specs.LinuxSeccomp) { s.Process.NoNewPrivileges = false }, specinvariant.ErrNoNewPrivs},
		{"writable root", func(s *specs.Spec, _ *specs.LinuxSeccomp) { s.Root.Readonly = false }, specinvariant.ErrRootRW},
		{"uid range", func(s *specs.Spec, _ *specs.LinuxSeccomp) { s.Linux.UIDMappings[0].Size = 65536 }, specinvariant.ErrIDMap},
		{"two gid maps", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Linux.GIDMappings = append(s.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: 0, Size: 1})
		}, specinvariant.ErrIDMap},
		{"app runs without init", func(s *specs.Spec, _ *specs.LinuxSeccomp) { s.Process.Args = s.Process.Args[6:] }, specinvariant.ErrInit},
		{"unknown init flag", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Process.Args = slices.Insert(s.Process.Args, 5, "--no-cap")
		}, specinvariant.ErrInit},
		{"allow-userns without the separator", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Process.Args[5] = "--allow-userns"
		}, specinvariant.ErrInit},
		{"init writable", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, specinvariant.InitPath)
			m.Options = append(drop(m.Options, "ro"), "rw")
		}, specinvariant.ErrInit},
		{"no filter", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			mount(s, specinvariant.SeccompPath).Destination = "/opt/seccomp.bpf"
		}, specinvariant.ErrSeccompFile},
		{"filter writable", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, specinvariant.SeccompPath)
			m.Options = drop(m.Options, "ro")
		}, specinvariant.ErrSeccompFile},
		{"ioctl EQ", func(_ *specs.Spec, sc *specs.LinuxSeccomp) {
			sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0x5412, Op: specs.OpEqualTo}}})
		}, specinvariant.ErrPolicy},
		{"no policy", func(_ *specs.Spec, sc *specs.LinuxSeccomp) { sc.DefaultAction = "" }, specinvariant.ErrPolicy},
		{"store path writable", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind(app, app, "rw", "nosuid", "nodev"))
		}, specinvariant.ErrStore},
		{"store path suid", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind(app, app, "ro", "nodev"))
		}, specinvariant.ErrStore},
		{"store path from elsewhere", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/home/u/fake-store", app, "ro", "nosuid", "nodev"))
		}, specinvariant.ErrStore},
		{"store tmpfs suid", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, "/nix/store")
			m.Options = drop(m.Options, "nosuid")
		}, specinvariant.ErrStore},
		{"store tmpfs without the staging bind", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == specinvariant.StagingPath })
		}, specinvariant.ErrStore},
		{"staging writable", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, specinvariant.StagingPath)
			m.Options = append(drop(m.Options, "ro"), "rw")
		}, specinvariant.ErrStore},
		{"staging recursive", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, specinvariant.StagingPath)
			m.Options = append(drop(m.Options, "bind"), "rbind")
		}, specinvariant.ErrStore},
		{"staging not private", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, specinvariant.StagingPath)
			m.Options = drop(m.Options, "private")
		}, specinvariant.ErrStore},
		{"staging without nodev", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, specinvariant.StagingPath)
			m.Options = drop(m.Options, "nodev")
		}, specinvariant.ErrStore},
		{"staging of /nix", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			mount(s, specinvariant.StagingPath).Source = "/nix"
		}, specinvariant.ErrStore},
		{"staging of a home dir", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			mount(s, specinvariant.StagingPath).Source = "/home/u/fake-store"
		}, specinvariant.ErrStore},
		{"second staging bind", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, *mount(s, specinvariant.StagingPath))
		}, specinvariant.ErrStore},
		{"staging without nixbox-init", func(s *specs.Spec, _ *specs.LinuxSeccomp) { s.Process.Args = s.Process.Args[6:] }, specinvariant.ErrStore},
		{"staging below the reserved path", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			mount(s, specinvariant.StagingPath).Destination = specinvariant.StagingPath + "/x"
		}, specinvariant.ErrStore},
		{"whole store at /nix/store", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/nix/store", "/nix/store", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrStore},
		{"whole store elsewhere", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/nix/store", "/store", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrStore},
		{"tmpfs on /nix", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/nix", Type: "tmpfs", Source: "tmpfs"})
		}, specinvariant.ErrStore},
		{"daemon socket", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/nix/var/nix/daemon-socket/socket", "/run/sock", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrNixState},
		{"host root", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/", "/host", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrNixState},
		{"sysfs", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs"})
		}, specinvariant.ErrSysfs},
		{"cgroupfs elsewhere", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/cg", Type: "cgroup2", Source: "cgroup"})
		}, specinvariant.ErrSysfs},
		{"bind without nodev", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			m := mount(s, "/etc/fonts")
			m.Options = drop(m.Options, "nodev")
		}, specinvariant.ErrBindFlags},
		{"bind over /proc/sys", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/home/u/x", "/proc/sys", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrReserved},
		{"tmpfs over /etc", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs"})
		}, specinvariant.ErrReserved},
		{"second /tmp", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
		}, specinvariant.ErrReserved},
		{"unclean destination", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			mount(s, "/etc/fonts").Destination = "/opt/../nix/var"
		}, specinvariant.ErrPath},
		{"proc source", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/proc/1/root", "/x", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrPseudo},
		{"store link farm", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/nix/store/.links", "/links", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrHidden},
		{"parent of secrets", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, bind("/run", "/hostrun", "ro", "nosuid", "nodev"))
		}, specinvariant.ErrHidden},
		{"tmpfs without size", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}})
		}, specinvariant.ErrTmpfsLimit},
		{"tmpfs size=0k", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=0k"}})
		}, specinvariant.ErrTmpfsLimit},
		{"tmpfs nr_inodes=0", func(s *specs.Spec, _ *specs.LinuxSeccomp) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=64m", "nr_inodes=0"}})
		}, specinvariant.ErrTmpfsLimit},
		{"shared propagation", func(s *specs.Spec, _ *specs.LinuxSeccomp) { s.Linux.RootfsPropagation = "rshared" }, specinvariant.ErrPropagation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := baseline(t)
			tc.mutate(plan.Spec, plan.Seccomp)
			errs := specinvariant.Check(plan.Spec, plan.Seccomp)
			if !slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, tc.want) }) {
				t.Fatalf("Check = %v, want %v", errs, tc.want)
			}
		})
	}
}

// TestAllowUserns: nixbox-init's --allow-userns (seccomp.allow_userns),
// between the ids and "--", is a valid start.
func TestAllowUserns(t *testing.T) {
	t.Parallel()
	plan := baseline(t)
	plan.Spec.Process.Args = slices.Insert(plan.Spec.Process.Args, 5, "--allow-userns")
	if errs := specinvariant.Check(plan.Spec, plan.Seccomp); len(errs) != 0 {
		t.Fatalf("Check = %v, want none", errs)
	}
}

// TestUnsafeSources: an acknowledged unsafe source loosens only the source
// checks of that bind.
func TestUnsafeSources(t *testing.T) {
	t.Parallel()
	plan := baseline(t)
	plan.Spec.Mounts = append(plan.Spec.Mounts, bind("/", "/host", "ro", "nosuid", "nodev"))
	o := specinvariant.Options{UnsafeSources: map[string]bool{"/": true}}
	if errs := specinvariant.CheckOptions(plan.Spec, plan.Seccomp, o); len(errs) != 0 {
		t.Fatalf("CheckOptions = %v, want none", errs)
	}
	plan.Spec.Mounts = append(plan.Spec.Mounts, bind("/", "/nix/var", "ro", "nosuid", "nodev"))
	errs := specinvariant.CheckOptions(plan.Spec, plan.Seccomp, o)
	if !slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, specinvariant.ErrNixState) }) {
		t.Fatalf("CheckOptions = %v, want %v", errs, specinvariant.ErrNixState)
	}
}

// TestProtectedMasked: a bind exposing nixbox's own directory needs a
// read-only tmpfs over it, after every mount above it.
func TestProtectedMasked(t *testing.T) {
	t.Parallel()
	mask := specs.Mount{Destination: "/cfg/nixbox", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "nosuid", "nodev"}}
	o := specinvariant.Options{UnsafeSources: map[string]bool{"/home/u/.config": true},
		Protected: []string{"/home/u/.config/nixbox", "/home/u/.cache/nixbox"}}
	for _, tc := range []struct {
		name   string
		mounts []specs.Mount
		ok     bool
	}{
		{"masked", []specs.Mount{bind("/home/u/.config", "/cfg", "rw", "nosuid", "nodev"), mask}, true},
		{"unmasked", []specs.Mount{bind("/home/u/.config", "/cfg", "rw", "nosuid", "nodev")}, false},
		{"mask first", []specs.Mount{mask, bind("/home/u/.config", "/cfg", "rw", "nosuid", "nodev")}, false},
		{"mask hidden", []specs.Mount{bind("/home/u/.config", "/cfg", "rw", "nosuid", "nodev"), mask,
			specs.Mount{Destination: "/cfg", Type: "tmpfs", Source: "tmpfs"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := baseline(t)
			plan.Spec.Mounts = append(plan.Spec.Mounts, tc.mounts...)
			errs := specinvariant.CheckOptions(plan.Spec, plan.Seccomp, o)
			got := !slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, specinvariant.ErrUnmasked) })
			if got != tc.ok || tc.ok && len(errs) != 0 {
				t.Fatalf("CheckOptions = %v, want ok=%v", errs, tc.ok)
			}
		})
	}
}
