package seccomp

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// knobCase is one profile knob and exactly what it may change: the names
// whose outcome must change for some arguments (changed), and a predicate
// saying whether a given change of name(args) from base to knob is allowed.
type knobCase struct {
	name    string
	policy  string
	opts    Options
	changed []string
	// ok reports whether base -> got for name(args) is one of the knob's
	// changes. nil: any change of a name in changed is fine.
	ok func(name string, args [6]uint64, base, got outcome) bool
	// arches is the expected Architectures; nil: x86_64 only.
	arches []specs.Arch
	// anyName: the action knobs may change any name (ok decides);
	// changed then lists names that must change.
	anyName bool
}

func knobCases() []knobCase {
	toAllow := func(_ string, _ [6]uint64, _, got outcome) bool { return got == allowed }
	var cs []knobCase
	for _, p := range []string{PolicyStrict, PolicyCompat} {
		cs = append(cs,
			knobCase{name: "allow_ptrace", policy: p, opts: Options{AllowPtrace: true}, changed: ptraceNames, ok: toAllow},
			knobCase{name: "allow_perf", policy: p, opts: Options{AllowPerf: true}, changed: perfNames, ok: toAllow},
			knobCase{name: "allow_userns", policy: p, opts: Options{AllowUserns: true},
				changed: []string{"chroot", "clone", "unshare"},
				ok: func(n string, args [6]uint64, _, got outcome) bool {
					// clone changes only when a namespace flag is set.
					return got == allowed && (n != "clone" || args[0]&cloneNSFlags != 0)
				}},
			knobCase{name: "allow-keyctl-unsafe", policy: p, opts: Options{Allow: []string{"keyctl"}, Unsafe: true},
				changed: []string{"keyctl"}, ok: toAllow},
			knobCase{name: "deny-chmod", policy: p, opts: Options{Deny: []string{"chmod"}},
				changed: []string{"chmod"},
				ok:      func(_ string, _ [6]uint64, _, got outcome) bool { return got == errno(errEPERM) }},
			// Deny resets (CVE-2022-21682): a deny of ptrace beats
			// allow_ptrace; the rest of the family is still allowed.
			knobCase{name: "allow_ptrace-deny-ptrace", policy: p,
				opts:    Options{AllowPtrace: true, Deny: []string{"ptrace"}},
				changed: []string{"kcmp", "pidfd_getfd", "process_vm_readv", "process_vm_writev"}, ok: toAllow},
			knobCase{name: "action-kill", policy: p, opts: Options{Action: ActionKill}, anyName: true,
				changed: []string{"ptrace", "keyctl", "mount", "unshare", "ioctl", "clone", "personality"},
				ok: func(_ string, _ [6]uint64, base, got outcome) bool {
					return base == errno(errEPERM) && got.kill
				}},
			knobCase{name: "action-errno", policy: p, opts: Options{Action: ActionErrno}},
		)
	}
	cs = append(cs,
		// compat allows sysfs already: allowing it changes nothing there.
		knobCase{name: "allow-sysfs", policy: PolicyStrict, opts: Options{Allow: []string{"sysfs"}},
			changed: []string{"sysfs"}, ok: toAllow},
		knobCase{name: "allow-sysfs", policy: PolicyCompat, opts: Options{Allow: []string{"sysfs"}}},
		knobCase{name: "allow_multiarch", policy: PolicyStrict, opts: Options{AllowMultiarch: true},
			changed: []string{"modify_ldt", "personality"},
			arches:  []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			ok: func(n string, args [6]uint64, _, got outcome) bool {
				return got == allowed && (n != "personality" || args[0]&mask32 == perLinux32)
			}},
		// allow_multiarch and log together: the log action's personality
		// denies must leave PER_LINUX32 to the knob's allow rule.
		knobCase{name: "allow_multiarch-action-log", policy: PolicyStrict,
			opts: Options{AllowMultiarch: true, Action: ActionLog}, anyName: true,
			changed: []string{"modify_ldt", "personality", "sysfs"},
			arches:  []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			ok: func(n string, args [6]uint64, base, got outcome) bool {
				if got == allowed {
					return n == "modify_ldt" || n == "personality" && args[0]&mask32 == perLinux32
				}
				return base == errno(errEPERM) && got.log && !slices.Contains(neverAllow, n) && argFiltered[n] == ""
			}},
		knobCase{name: "action-log", policy: PolicyStrict, opts: Options{Action: ActionLog}, anyName: true,
			changed: []string{"sysfs", "ustat", "fanotify_init"},
			ok: func(n string, _ [6]uint64, base, got outcome) bool {
				// Only the default's EPERM becomes "log and allow"; the
				// explicit denies keep their errno.
				return base == errno(errEPERM) && got.log && !slices.Contains(neverAllow, n) && argFiltered[n] == ""
			}},
	)
	return cs
}

// argVectors returns argument vectors worth probing for name in a and b.
func argVectors(a, b *specs.LinuxSeccomp, name string, rnd *rand.Rand) [][6]uint64 {
	vals := map[uint64]bool{0: true, 1: true, perLinux32: true, 0xffffffff: true, ^uint64(0): true}
	var idx []uint
	for _, s := range []*specs.LinuxSeccomp{a, b} {
		for _, r := range s.Syscalls {
			if !slices.Contains(r.Names, name) {
				continue
			}
			for _, x := range r.Args {
				idx = append(idx, x.Index)
				for _, v := range []uint64{x.Value, x.ValueTwo} {
					vals[v], vals[v+1], vals[v-1], vals[v|hi], vals[^v&mask32] = true, true, true, true, true
				}
			}
		}
	}
	for i := 0; i < 8; i++ {
		vals[rnd.Uint64()&mask32] = true
	}
	out := [][6]uint64{{1, 1, 1, 1, 1, 1}, {}}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for v := range vals {
		for _, i := range idx {
			var args [6]uint64
			args[i] = v
			out = append(out, args)
		}
		if len(idx) > 1 {
			var args [6]uint64
			for _, i := range idx {
				args[i] = v
			}
			out = append(out, args)
		}
	}
	// socket: the families with the netlink-route protocol too.
	if name == "socket" {
		for f := uint64(0); f < 48; f++ {
			out = append(out, [6]uint64{f, 1, 0}, [6]uint64{f, 1, 9})
		}
	}
	return out
}

// TestKnobsChangeOnlyWhatTheyName builds each policy with and without each
// knob and evaluates every x86_64 system call with the interesting argument
// vectors: the outcomes differ exactly for the names the knob is
// documented to change, in the documented way, and nowhere else.
func TestKnobsChangeOnlyWhatTheyName(t *testing.T) {
	t.Parallel()
	names := make([]string, 0, len(sysnumX86_64))
	for n := range sysnumX86_64 {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, kc := range knobCases() {
		t.Run(kc.policy+"/"+kc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(5, 6))
			base := mustBuild(t, Options{Policy: kc.policy})
			o := kc.opts
			o.Policy = kc.policy
			got := mustBuild(t, o)
			wantArch := kc.arches
			if wantArch == nil {
				wantArch = []specs.Arch{specs.ArchX86_64}
			}
			if !slices.Equal(got.Architectures, wantArch) {
				t.Errorf("Architectures = %v, want %v", got.Architectures, wantArch)
			}
			changed := map[string]bool{}
			for _, n := range names {
				for _, args := range argVectors(base, got, n, rnd) {
					for _, skip := range []bool{true, false} {
						b, err1 := evaluate(base, n, args, skip)
						g, err2 := evaluate(got, n, args, skip)
						if err1 != nil || err2 != nil {
							t.Fatalf("conflicting rules: %v %v", err1, err2)
						}
						if b == g {
							continue
						}
						changed[n] = true
						if !kc.anyName && !slices.Contains(kc.changed, n) {
							t.Fatalf("%s%#x changed from %v to %v, but the knob does not name %s", n, args[:3], b, g, n)
						}
						if kc.ok != nil && !kc.ok(n, args, b, g) {
							t.Fatalf("%s%#x changed from %v to %v, which the knob does not do", n, args[:3], b, g)
						}
					}
				}
			}
			for _, n := range kc.changed {
				if !changed[n] {
					t.Errorf("%s: outcome unchanged by the knob", n)
				}
			}
			if kc.opts.Action == "" || kc.opts.Action == ActionErrno {
				if got.DefaultAction != base.DefaultAction {
					t.Errorf("default action %v, want %v", got.DefaultAction, base.DefaultAction)
				}
			}
		})
	}
}

// TestKnobDefaultActions: kill and log change the default action as
// documented, and kill keeps the fallback errnos.
func TestKnobDefaultActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    Options
		want specs.LinuxSeccompAction
	}{
		{Options{Policy: PolicyStrict, Action: ActionKill}, specs.ActKillProcess},
		{Options{Policy: PolicyStrict, Action: ActionLog}, specs.ActLog},
		{Options{Policy: PolicyStrict, Action: ActionErrno}, specs.ActErrno},
		{Options{Policy: PolicyCompat, Action: ActionKill}, specs.ActAllow},
	} {
		s := mustBuild(t, tc.o)
		if s.DefaultAction != tc.want {
			t.Errorf("%+v: default action %v, want %v", tc.o, s.DefaultAction, tc.want)
		}
		if tc.want != specs.ActErrno && s.DefaultErrnoRet != nil {
			t.Errorf("%+v: errnoRet set with default action %v", tc.o, s.DefaultAction)
		}
	}
	// kill keeps the fallback errnos: clone3 ENOSYS, exotic sockets
	// EAFNOSUPPORT.
	s := mustBuild(t, Options{Action: ActionKill})
	for _, c := range []call{c("clone3", 1, 88), c("io_uring_setup", 1, 1), c("socket", unix.AF_VSOCK, 1)} {
		o, err := evaluate(s, c.name, c.args, true)
		if err != nil || o.kill || o.allow {
			t.Errorf("kill: %s = %v, %v; want its errno", c.name, o, err)
		}
	}
}

// TestMultiarchI386Names: the i386-only names allow_multiarch adds are not
// x86_64 system calls, so they loosen nothing on x86_64, and socketcall is
// not among them.
func TestMultiarchI386Names(t *testing.T) {
	t.Parallel()
	for _, n := range i386Allow {
		if KnownSyscall(n) {
			t.Errorf("i386Allow has %q, an x86_64 system call", n)
		}
	}
	for _, n := range []string{"socketcall", "vm86", "vm86old"} {
		if slices.Contains(i386Allow, n) {
			t.Errorf("i386Allow has %q", n)
		}
	}
	base := mustBuild(t, Options{})
	got := mustBuild(t, Options{AllowMultiarch: true})
	extra := map[string]bool{}
	for _, r := range got.Syscalls {
		for _, n := range r.Names {
			extra[n] = true
		}
	}
	for _, r := range base.Syscalls {
		for _, n := range r.Names {
			delete(extra, n)
		}
	}
	for n := range extra {
		if !slices.Contains(i386Allow, n) {
			t.Errorf("allow_multiarch adds a rule for %q", n)
		}
	}
}

func TestKnobErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    Options
		want error
		text string
	}{
		{Options{Allow: []string{"nosuchcall"}}, ErrUnknownSyscall, `"nosuchcall"`},
		{Options{Deny: []string{"chmod32"}}, ErrUnknownSyscall, `"chmod32"`},
		{Options{Allow: []string{"clone3"}, Unsafe: true}, ErrNeverAllow, "ENOSYS"},
		{Options{Deny: []string{"clone3"}}, ErrNeverAllow, "ENOSYS"},
		{Options{Policy: PolicyCompat, Action: ActionLog}, ErrInvalidOptions, "log"},
		{Options{Policy: PolicyCompat, AllowMultiarch: true}, ErrInvalidOptions, "allow_multiarch"},
		{Options{Action: "trap"}, ErrInvalidOptions, "trap"},
		{Options{Action: "Kill"}, ErrInvalidOptions, "Kill"},
		{Options{Allow: []string{"ptrace"}}, ErrNeedsUnsafe, "allow_ptrace"},
		{Options{Allow: []string{"perf_event_open"}}, ErrNeedsUnsafe, "allow_perf"},
		{Options{Allow: []string{"unshare"}}, ErrNeedsUnsafe, "allow_userns"},
		{Options{Allow: []string{"ioctl"}}, ErrNeedsUnsafe, "TIOCSTI"},
	} {
		for _, p := range []string{PolicyStrict, PolicyCompat} {
			o := tc.o
			if o.Policy == "" {
				o.Policy = p
			}
			s, err := Build(o)
			if s != nil || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Build(%+v) = %v, %v; want %v mentioning %s", o, s != nil, err, tc.want, tc.text)
			}
		}
	}
	// Security suite §6.6: allowing a never-allow call needs unsafe.
	for _, n := range []string{"unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree",
		"move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "bpf", "keyctl", "add_key",
		"request_key", "ptrace", "process_vm_readv", "kcmp", "pidfd_getfd", "io_uring_setup", "io_uring_enter",
		"io_uring_register", "userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module",
		"delete_module", "perf_event_open", "modify_ldt", "open_by_handle_at", "ioctl", "clone", "socket",
		"socketpair", "personality", "reboot"} {
		if _, ok := NeedsUnsafe(n); !ok {
			t.Errorf("NeedsUnsafe(%q) = false", n)
		}
		if _, err := Build(Options{Allow: []string{n}}); !errors.Is(err, ErrNeedsUnsafe) {
			t.Errorf("allow %q without unsafe: %v", n, err)
		}
		if _, err := Build(Options{Allow: []string{n}, Unsafe: true}); err != nil {
			t.Errorf("allow %q with unsafe: %v", n, err)
		}
	}
	for _, n := range []string{"sysfs", "read", "ustat", "fanotify_init", "name_to_handle_at"} {
		if _, ok := NeedsUnsafe(n); ok {
			t.Errorf("NeedsUnsafe(%q) = true", n)
		}
	}
}

// TestAllowUnsafeArgFiltered: allowing an argument-filtered name with
// unsafe drops its filter entirely, with no conflicting rule left.
func TestAllowUnsafeArgFiltered(t *testing.T) {
	t.Parallel()
	for _, p := range []string{PolicyStrict, PolicyCompat} {
		s := mustBuild(t, Options{Policy: p, Allow: []string{"ioctl"}, Unsafe: true})
		for _, args := range [][6]uint64{{0, tiocsti}, {0, hi | tioclinux}, {0, unix.TCGETS}} {
			if o, err := evaluate(s, "ioctl", args, false); err != nil || o != allowed {
				t.Errorf("%s: ioctl%#x = %v, %v; want ALLOW", p, args[:2], o, err)
			}
		}
	}
}

// TestKnobsRulesNeverConflict runs the conflict and masked-ioctl checks of
// the plain policies over every knob combination used above.
func TestKnobsRulesNeverConflict(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, kc := range knobCases() {
		o := kc.opts
		o.Policy = kc.policy
		s := mustBuild(t, o)
		vals := interesting(s, rnd)
		for _, r := range s.Syscalls {
			for _, n := range r.Names {
				for _, v := range vals[:min(len(vals), 64)] {
					for _, args := range [][6]uint64{{v, v, 0}, {v, 0, v}, {0, v, v}} {
						if _, err := evaluate(s, n, args, false); err != nil {
							t.Fatalf("%s/%s: %v", kc.policy, kc.name, err)
						}
					}
				}
			}
			if slices.Contains(r.Names, "ioctl") {
				for _, a := range r.Args {
					if a.Op != specs.OpMaskedEqual || a.Value&^mask32 != 0 {
						t.Errorf("%s/%s: ioctl condition %+v is not a 32-bit masked compare", kc.policy, kc.name, a)
					}
				}
			}
		}
	}
}
