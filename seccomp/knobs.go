package seccomp

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Actions accepted by Options.Action.
const (
	// ActionErrno (the default, also spelled "") makes a denied call fail
	// with the policy's errno (EPERM).
	ActionErrno = "errno"
	// ActionKill kills the whole process (SCMP_ACT_KILL_PROCESS) instead of
	// returning EPERM. Stricter; the ENOSYS and EAFNOSUPPORT answers that
	// let libraries fall back are kept.
	ActionKill = "kill"
	// ActionLog is a learning mode for strict only: a call outside the
	// allowlist is logged by the kernel (SCMP_ACT_LOG) and ALLOWED. The
	// explicit denies (never-allow calls, argument filters, the profile's
	// deny list, ENOSYS) still fail.
	ActionLog = "log"
)

// Names each knob allows, in the order the reference documents them.
var (
	// ptraceNames are allowed by Options.AllowPtrace (security suite cases
	// 41 and 44). The app can only reach processes of its own user
	// namespace: nixbox-init lives in the parent one (see cmd/nixbox-init).
	ptraceNames = []string{"kcmp", "pidfd_getfd", "process_vm_readv", "process_vm_writev", "ptrace"}
	// perfNames are allowed by Options.AllowPerf (case 29).
	perfNames = []string{"perf_event_open"}
	// usernsNames are allowed unconditionally by Options.AllowUserns:
	// clone with any namespace flag, unshare with any flag, and chroot,
	// which Chromium's and Firefox's sandboxes call inside their new user
	// namespace. setns, mount, umount2, pivot_root, the mount API and
	// clone3 stay denied.
	usernsNames = []string{"chroot", "clone", "unshare"}
	// multiarchNames are allowed by Options.AllowMultiarch besides the
	// i386 architecture itself (case 38).
	multiarchNames = []string{"modify_ldt"}
)

// perLinux32 is the personality 32-bit code switches to (setarch linux32);
// allowed with Options.AllowMultiarch (security suite case 32).
const perLinux32 = 0x0008

// i386Allow are strict's allowlist names that exist for the i386 ABI only
// (moby's default.json lists them for all arches). They are added, with
// SCMP_ARCH_X86, by Options.AllowMultiarch; libseccomp resolves each per
// architecture, so they add nothing to x86_64. The multiplexers
// socketcall and ipc are not among them: the compiler gives each of their
// sub-calls the outcome of the direct call it stands for (see
// multiarchProgram in i386_linux.go, which also says why
// socketcall(SYS_SOCKET) cannot be family-filtered).
var i386Allow = []string{
	"_llseek", "_newselect", "chown32", "clock_getres_time64", "clock_gettime64",
	"clock_nanosleep_time64", "fadvise64_64", "fchown32", "fcntl64", "fstat64",
	"fstatat64", "fstatfs64", "ftruncate64", "futex_time64", "getegid32",
	"geteuid32", "getgid32", "getgroups32", "getresgid32", "getresuid32",
	"getuid32", "lchown32", "lstat64", "mmap2", "mq_timedreceive_time64",
	"mq_timedsend_time64", "ppoll_time64", "pselect6_time64", "recv",
	"recvmmsg_time64", "rt_sigtimedwait_time64", "sched_rr_get_interval_time64",
	"semtimedop_time64", "send", "sendfile64", "setfsgid32", "setfsuid32",
	"setgid32", "setgroups32", "setregid32", "setresgid32", "setresuid32",
	"setreuid32", "setuid32", "sigaction", "sigpending", "sigprocmask",
	"sigreturn", "sigsuspend", "stat64", "statfs64", "timer_gettime64",
	"timer_settime64", "timerfd_gettime64", "timerfd_settime64", "truncate64",
	"ugetrlimit", "utimensat_time64", "waitpid",
}

// argFiltered are the names strict allows only for some arguments.
// Allowing one outright would undo its filter, so it needs Unsafe.
var argFiltered = map[string]string{
	"ioctl":       "TIOCSTI/TIOCLINUX would reach the terminal (CVE-2017-5226, CVE-2023-28100)",
	"clone":       "namespace flags would be allowed; use allow_userns",
	"socket":      "every socket family would be allowed; use [network] mode for INET",
	"socketpair":  "every socket family would be allowed",
	"personality": "every persona would be allowed; allow_multiarch adds PER_LINUX32",
}

// NeverAllowed reports whether name can never be allowed, not even with
// Unsafe: clone3 must fail with ENOSYS, or glibc treats it as fatal
// instead of falling back to clone (security suite §6.6).
func NeverAllowed(name string) bool { return name == "clone3" }

// NeedsUnsafe reports whether allowing name by Options.Allow needs
// Options.Unsafe, and why: the policies deny it on purpose (the
// never-allow calls, the mount API and io_uring) or allow it only for some
// arguments. The reason names the knob to use instead when there is one.
func NeedsUnsafe(name string) (reason string, ok bool) {
	switch {
	case slices.Contains(ptraceNames, name):
		return "it reads or controls other processes; use allow_ptrace", true
	case slices.Contains(perfNames, name):
		return "it is a large kernel attack surface; use allow_perf", true
	case name == "unshare":
		return "it creates namespaces; use allow_userns", true
	case name == "chroot":
		return "it changes the root directory; use allow_userns", true
	case name == "modify_ldt":
		return "it is only needed by 32-bit code; use allow_multiarch", true
	}
	if r, ok := argFiltered[name]; ok {
		return r, true
	}
	if slices.Contains(neverAllow, name) || slices.Contains(enosys, name) {
		return "the policy never allows it (security suite §7)", true
	}
	return "", false
}

// check validates o before Build renders it.
func (o Options) check(policy string) error {
	switch o.Action {
	case "", ActionErrno, ActionKill:
	case ActionLog:
		if policy == PolicyCompat {
			return fmt.Errorf("seccomp action %q: %w: compat allows by default, so there is nothing to log", o.Action, ErrInvalidOptions)
		}
	default:
		return fmt.Errorf("seccomp action %q: %w (errno, kill or log)", o.Action, ErrInvalidOptions)
	}
	if o.AllowMultiarch && policy == PolicyCompat {
		return fmt.Errorf("allow_multiarch: %w: needs the strict policy (a denylist cannot filter i386's socketcall)", ErrInvalidOptions)
	}
	for _, n := range o.Allow {
		switch {
		case !KnownSyscall(n):
			return fmt.Errorf("seccomp allow %q: %w", n, ErrUnknownSyscall)
		case NeverAllowed(n):
			return fmt.Errorf("seccomp allow %q: %w: it must fail with ENOSYS so that libc falls back to clone", n, ErrNeverAllow)
		}
		if why, ok := NeedsUnsafe(n); ok && !o.Unsafe {
			return fmt.Errorf("seccomp allow %q: %w: %s", n, ErrNeedsUnsafe, why)
		}
	}
	for _, n := range o.Deny {
		switch {
		case !KnownSyscall(n):
			return fmt.Errorf("seccomp deny %q: %w", n, ErrUnknownSyscall)
		case NeverAllowed(n):
			return fmt.Errorf("seccomp deny %q: %w: it must fail with ENOSYS so that libc falls back to clone", n, ErrNeverAllow)
		}
	}
	return nil
}

// applyKnobs changes a rendered base policy as the knobs say, in this
// order: the knobs' and Allow's names are allowed (their other rules
// dropped), then Deny's names are denied (their other rules dropped, so a
// deny always wins), then the architectures, then the action.
func applyKnobs(s *specs.LinuxSeccomp, o Options) {
	strict := s.DefaultAction != specs.ActAllow
	var allowNames []string
	if o.AllowPtrace {
		allowNames = append(allowNames, ptraceNames...)
	}
	if o.AllowPerf {
		allowNames = append(allowNames, perfNames...)
	}
	if o.AllowUserns {
		allowNames = append(allowNames, usernsNames...)
	}
	if o.AllowMultiarch {
		allowNames = append(allowNames, multiarchNames...)
	}
	allowNames = append(allowNames, o.Allow...)
	slices.Sort(allowNames)
	allowNames = slices.Compact(allowNames)
	denyNames := slices.Clone(o.Deny)
	slices.Sort(denyNames)
	denyNames = slices.Compact(denyNames)

	for _, n := range allowNames {
		if slices.Contains(denyNames, n) || (strict && slices.Contains(strictAllow, n)) {
			continue
		}
		s.Syscalls = dropName(s.Syscalls, n)
		if strict {
			s.Syscalls = append(s.Syscalls, allow(n))
		}
	}
	if o.AllowMultiarch {
		s.Architectures = append(s.Architectures, specs.ArchX86)
		s.Syscalls = append(s.Syscalls, allow(i386Allow...))
		if !slices.Contains(allowNames, "personality") || slices.Contains(denyNames, "personality") {
			s.Syscalls = append(s.Syscalls, withArgs(allow("personality"), arg(0, mask32, perLinux32)))
		}
	}
	for _, n := range denyNames {
		s.Syscalls = append(dropName(s.Syscalls, n), deny(errEPERM, n))
	}

	switch o.Action {
	case ActionKill:
		isEPERM := func(a specs.LinuxSeccompAction, e *uint) bool {
			return a == specs.ActErrno && (e == nil || *e == errEPERM)
		}
		if isEPERM(s.DefaultAction, s.DefaultErrnoRet) {
			s.DefaultAction, s.DefaultErrnoRet = specs.ActKillProcess, nil
		}
		for i := range s.Syscalls {
			if isEPERM(s.Syscalls[i].Action, s.Syscalls[i].ErrnoRet) {
				s.Syscalls[i].Action, s.Syscalls[i].ErrnoRet = specs.ActKillProcess, nil
			}
		}
	case ActionLog:
		// strict only (check refuses compat): the default, not the
		// explicit denies, becomes "log and allow". Strict denies the
		// other personalities by its default, so they get explicit
		// rules first, unless the profile decided personality itself.
		if !slices.Contains(allowNames, "personality") && !slices.Contains(denyNames, "personality") {
			var also []uint64
			if o.AllowMultiarch {
				also = []uint64{perLinux32}
			}
			s.Syscalls = append(s.Syscalls, personalityDenies(also...)...)
		}
		s.DefaultAction, s.DefaultErrnoRet = specs.ActLog, nil
	}
}

// personalityDenies deny personality for every value whose low 32 bits are
// neither PER_LINUX (0) nor the query (0xffffffff) nor one of also, each
// rule a single masked compare: such a value has two adjacent bits that
// differ, so one rule per pair and order (compat's 62 rules). A rule that
// would match a value of also is replaced by one rule per other bit,
// requiring that bit to differ from the value's, so no deny overlaps the
// allow rule for it (PER_LINUX32 with allow_multiarch).
func personalityDenies(also ...uint64) []specs.LinuxSyscall {
	var cover []maskedValue
	for i := 0; i < 31; i++ {
		m := uint64(3) << i
		cover = append(cover, maskedValue{m, 1 << i}, maskedValue{m, 2 << i})
	}
	for _, a := range also {
		var next []maskedValue
		for _, c := range cover {
			if a&c.mask != c.datum {
				next = append(next, c)
				continue
			}
			for j := 0; j < 32; j++ {
				bit := uint64(1) << j
				if c.mask&bit == 0 {
					next = append(next, maskedValue{c.mask | bit, c.datum | ^a&bit})
				}
			}
		}
		cover = next
	}
	r := make([]specs.LinuxSyscall, 0, len(cover))
	for _, c := range cover {
		r = append(r, withArgs(deny(errEPERM, "personality"), arg(0, c.mask, c.datum)))
	}
	return r
}

// dropName removes name from every rule, and rules left without names.
func dropName(rules []specs.LinuxSyscall, name string) []specs.LinuxSyscall {
	out := rules[:0:0]
	for _, r := range rules {
		if !slices.Contains(r.Names, name) {
			out = append(out, r)
			continue
		}
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return n == name })
		if len(r.Names) > 0 {
			out = append(out, r)
		}
	}
	return out
}
