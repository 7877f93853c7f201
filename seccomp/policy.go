package seccomp

import (
	"fmt"
	"math/bits"
	"reflect"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Policy names accepted by Options.Policy.
const (
	// PolicyStrict is the default allowlist policy: Docker's unconditional
	// allowlist minus the introspection/kernel-attack-surface calls, with
	// Flatpak's argument denies on top. Default action EPERM.
	PolicyStrict = "strict"
	// PolicyCompat is the blocklist policy: Flatpak's denylist extended with
	// bpf, userfaultfd, io_uring_*, kexec_*, *_module, process_vm_*, kcmp,
	// pidfd_getfd, open_by_handle_at and the other host-admin calls.
	// Default action ALLOW.
	PolicyCompat = "compat"
)

// Options selects the policy Build renders.
type Options struct {
	// Policy is "strict" (the default when empty) or "compat". Any other
	// value makes Build fail with ErrUnknownPolicy.
	Policy string
	// Network allows socket(2) with AF_INET and AF_INET6. When false those
	// families fail with EAFNOSUPPORT, exactly like the exotic families.
	// It loosens isolation only together with a network-on backend; the
	// spec's network namespace is decided elsewhere.
	Network bool

	// The knobs below change the policy as documented in docs/profiles.md
	// ([seccomp]). Precedence: Deny > Allow and the allow_* knobs > the
	// policy. A name in Deny replaces every rule for that name with an
	// unconditional deny, whatever allowed it ("deny resets",
	// CVE-2022-21682).

	// Allow lists system calls to allow unconditionally (strict: an ALLOW
	// rule; compat: the policy's denies of the name are dropped). Names
	// must be KnownSyscall; clone3 is refused (NeverAllowed), and names for
	// which NeedsUnsafe is true need Unsafe.
	Allow []string
	// Deny lists system calls that fail with EPERM (or Action) for any
	// arguments. clone3 is refused.
	Deny []string
	// Unsafe acknowledges Allow names for which NeedsUnsafe is true.
	Unsafe bool
	// AllowPtrace allows ptrace, process_vm_readv, process_vm_writev, kcmp
	// and pidfd_getfd.
	AllowPtrace bool
	// AllowPerf allows perf_event_open.
	AllowPerf bool
	// AllowUserns allows clone and unshare with any namespace flag, and
	// chroot. setns, the mount calls and clone3 stay denied.
	AllowUserns bool
	// AllowMultiarch adds SCMP_ARCH_X86 (i386) with the same rules plus the
	// i386-only names of Docker's allowlist, and allows modify_ldt and
	// personality(PER_LINUX32) on both ABIs. Strict only. Compile gives
	// the sub-calls of i386's socketcall and ipc their direct call's
	// outcome; socketcall(SYS_SOCKET) cannot be family-filtered, because
	// the family is in memory (see muxStandIn in i386_linux.go).
	AllowMultiarch bool
	// Action is what a denied call does: "errno" (or ""), "kill" or "log"
	// (strict only). See ActionErrno, ActionKill and ActionLog.
	Action string
}

// Errno values the policies return (Linux numbering, spelled out so the data
// part builds for any GOOS). uint because that is the type of
// specs.LinuxSeccomp{,Syscall}.ErrnoRet.
const (
	errEPERM           uint = 1
	errENOSYS          uint = 38
	errEPROTONOSUPPORT uint = 93
	errEAFNOSUPPORT    uint = 97
)

// Linux clone(2) namespace flags.
const (
	cloneNEWNS     = 0x00020000
	cloneNEWCGROUP = 0x02000000
	cloneNEWUTS    = 0x04000000
	cloneNEWIPC    = 0x08000000
	cloneNEWUSER   = 0x10000000
	cloneNEWPID    = 0x20000000
	cloneNEWNET    = 0x40000000
)

// ioctl commands that must never reach a tty. The kernel truncates the ioctl
// cmd to 32 bits while libseccomp compares 64, so every rule on them is a
// SCMP_CMP_MASKED_EQ with mask 0xffffffff (CVE-2019-10063).
const (
	tiocsti   = 0x5412 // CVE-2017-5226: push keystrokes into the user's shell
	tioclinux = 0x541C // CVE-2023-28100: VT copy/paste works like TIOCSTI
	mask32    = 0xffffffff
)

// cloneNSFlags is Docker's clone mask: CLONE_NEWNS|CLONE_NEWCGROUP|
// CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET.
// CLONE_NEWTIME (0x80) overlaps CSIGNAL and can only be used through clone3
// and unshare, both of which are denied outright.
const cloneNSFlags = cloneNEWNS | cloneNEWCGROUP | cloneNEWUTS |
	cloneNEWIPC | cloneNEWUSER | cloneNEWPID | cloneNEWNET // 0x7E020000

// Personality values a sandboxed app may set: PER_LINUX, and 0xffffffff,
// which only queries the current persona. Docker also allows PER_LINUX32
// (0x8), UNAME26 (0x20000) and their union; nixbox does not (security suite
// §4 case 32, §7): PER_LINUX32 is allowed only by Options.AllowMultiarch,
// and UNAME26 lies about the kernel version.
var allowedPersonalities = []uint64{0x0, 0xffffffff}

// strictAllow is the unconditional allowlist of the strict policy: the
// unconditional "SCMP_ACT_ALLOW" group of moby's profiles/seccomp/default.json
// (361 names for all arches, 300 of them x86_64 syscalls), kept in moby's
// order so a refresh is a plain diff, with these changes:
//   - dropped: adjtimex and clock_adjtime. They are in Docker's list but
//     can set the clock (modes != 0) and seccomp cannot see inside struct
//     timex; security suite §7 wants time setting to be EPERM. Cost: glibc's
//     ntp_gettime/ntp_adjtime queries fail with EPERM.
//   - moved to argument rules below: ioctl (TIOCSTI/TIOCLINUX), socketpair
//     (AF_UNIX only), and Docker's conditional clone, socket and
//     personality rules.
//   - added: arch_prctl (Docker allows it for amd64/x32 only; every x86_64
//     libc needs ARCH_SET_FS for TLS).
//   - not taken from Docker's conditional groups: ptrace, process_vm_*
//     (minKernel 4.8 group), modify_ldt (amd64 group), and everything gated
//     on a capability.
//
// Names Docker lists for other ABIs only (chown32, socketcall, mmap2, ...)
// are left out: they have no x86_64 number, and i386/x32 are killed by the
// bad-arch action (Options.AllowMultiarch adds the i386 ones, i386Allow). A few names are newer than Debian 12's libseccomp
// 2.5.4 (statmount, listmount, mseal, *xattrat, uretprobe): runc silently
// drops names libseccomp cannot resolve, so on such hosts these calls fail
// with ENOSYS (number above the stub's maximum) or EPERM; they start working
// once libseccomp learns them.
var strictAllow = []string{
	"accept", "accept4", "access", "alarm", "bind", "brk",
	"cachestat", // page-cache residency of an fd the app already holds
	"capget", "capset", "chdir", "chmod", "chown",
	"clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range",
	"connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
	"epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_ctl_old", // unimplemented on x86_64 (ENOSYS); harmless, kept for parity
	"epoll_pwait", "epoll_pwait2", "epoll_wait",
	"epoll_wait_old", // unimplemented on x86_64 (ENOSYS); harmless, kept for parity
	"eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fallocate",
	"fanotify_mark", // useless without fanotify_init, which stays denied (CAP_SYS_ADMIN in Docker)
	"fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat",
	"fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
	"fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate",
	"futex", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake",
	"futimesat",
	"getcpu", // used by some versions of the Go runtime and by glibc's sched_getcpu
	"getcwd", "getdents", "getdents64", "getegid", "geteuid", "getgid",
	"getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
	"getppid", "getpriority", "getrandom", "getresgid", "getresuid",
	"getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
	"getsockopt",
	"get_thread_area", // x86 TLS descriptors for 32-bit segments; Docker allows
	"gettid", "gettimeofday", "getuid", "getxattr", "getxattrat",
	"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
	// Legacy Linux AIO (io_*), not io_uring: no seccomp bypass, used by
	// databases and QEMU.
	"io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
	"ioprio_get", "ioprio_set", "io_setup", "io_submit",
	"kill", // scoped by the sandbox's PID namespace
	// Landlock lets an app sandbox itself further; it can only drop rights.
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
	"lchown", "lgetxattr", "link", "linkat", "listen",
	"listmount", // lists mounts of the sandbox's own mount namespace
	"listxattr", "listxattrat", "llistxattr", "lremovexattr", "lseek",
	"lsetxattr", "lstat", "madvise",
	"map_shadow_stack", // x86 CET user shadow stacks (glibc 2.39+)
	"membarrier", "memfd_create",
	"memfd_secret", // secret memory for the app's own keys; Docker allows
	"mincore", "mkdir", "mkdirat",
	"mknod", "mknodat", // FIFOs/sockets only: device nodes need CAP_MKNOD in the initial userns
	"mlock", "mlock2", "mlockall", // bounded by RLIMIT_MEMLOCK
	"mmap", "mprotect",
	"mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedsend", "mq_unlink", // POSIX mqueues of the sandbox's IPC namespace
	"mremap", "mseal",
	"msgctl", "msgget", "msgrcv", "msgsnd", // SysV IPC, sandbox IPC namespace
	"msync", "munlock", "munlockall", "munmap",
	"name_to_handle_at", // harmless without open_by_handle_at, which is denied
	"nanosleep", "newfstatat", "open", "openat", "openat2", "pause",
	"pidfd_open", "pidfd_send_signal", // pidfd_getfd is denied
	"pipe", "pipe2",
	"pkey_alloc", "pkey_free", "pkey_mprotect", // x86 memory protection keys (Chromium, V8)
	"poll", "ppoll",
	"prctl", // Docker allows all options; the dangerous ones need capabilities
	"pread64", "preadv", "preadv2", "prlimit64",
	"process_mrelease", // reap a killed process's memory; same rights as kill
	"pselect6", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
	"readlink", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg",
	"remap_file_pages", // deprecated, emulated with mmap in the kernel
	"removexattr", "removexattrat", "rename", "renameat", "renameat2",
	"restart_syscall", "rmdir",
	"rseq", // glibc 2.35+ registers rseq for every thread
	"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
	"rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
	"sched_getaffinity", "sched_getattr", "sched_getparam",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
	"sched_rr_get_interval", "sched_setaffinity", "sched_setattr",
	"sched_setparam", "sched_setscheduler", "sched_yield",
	"seccomp", // only adds filters; needed by Chromium/Firefox content sandboxes
	"select",
	"semctl", "semget", "semop", "semtimedop", // SysV IPC, sandbox IPC namespace
	"sendfile", "sendmmsg", "sendmsg", "sendto",
	// Identity changes are confined to the sandbox's user namespace mapping.
	"setfsgid", "setfsuid", "setgid", "setgroups",
	"setitimer", "setpgid", "setpriority",
	"setregid", "setresgid", "setresuid", "setreuid",
	"setrlimit", "set_robust_list", "setsid", "setsockopt",
	"set_thread_area", // x86 TLS descriptors for 32-bit segments; Docker allows
	"set_tid_address", "setuid", "setxattr", "setxattrat",
	"shmat", "shmctl", "shmdt", "shmget", // SysV shm (X11 MIT-SHM), sandbox IPC namespace
	"shutdown", "sigaltstack", "signalfd", "signalfd4",
	"splice", "stat", "statfs", "statmount", "statx", "symlink", "symlinkat",
	"sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
	"timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
	"times", "tkill", "truncate", "umask", "uname", "unlink", "unlinkat",
	"uretprobe", // called only from the kernel's uretprobe trampoline
	"utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4", "waitid",
	"write", "writev",
	"arch_prctl", // x86_64 TLS (ARCH_SET_FS); Docker's amd64-only group
}

// neverAllow are denied with EPERM by both policies. In strict they are
// already denied by the default action; listing them makes the decision
// visible in the rendered spec and testable (libcontainer drops a rule whose
// action equals the default action, so they cost nothing in the BPF).
//
// Entries are grouped by security suite §7 row.
var neverAllow = []string{
	// Case 41/44: debugging and cross-process memory access.
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	// Case 27: the kernel keyring (Docker never allows; Flatpak denies).
	"keyctl", "add_key", "request_key",
	// Cases 28-30: big kernel attack surface; userfaultfd is a classic
	// exploitation primitive for kernel races.
	"bpf", "perf_event_open", "userfaultfd",
	// Case 33: host-global administration.
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"reboot", "swapon", "swapoff", "acct", "syslog",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"iopl", "ioperm", "quotactl", "quotactl_fd",
	"open_by_handle_at", // "shocker": opens any inode on a bind-mounted fs
	"lookup_dcookie", "uselib", "vhangup",
	"nfsservctl", // removed in Linux 3.1; kept so a sweep sees EPERM
	// Case 33: NUMA policy (Flatpak: "scary VM/NUMA ops").
	"mbind", "set_mempolicy", "get_mempolicy", "set_mempolicy_home_node",
	"migrate_pages", "move_pages",
	// Case 38: 16-bit segments; only needed by 32-bit code (Wine), so
	// allowed only by Options.AllowMultiarch.
	"modify_ldt",
	// Cases 21, 22, 24: no new namespaces, no joining others', no mounts.
	"unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
}

// enosys are denied with ENOSYS by both policies, so that libc and language
// runtimes fall back to an older interface instead of failing hard.
var enosys = []string{
	// Case 23: seccomp cannot look inside struct clone_args, so clone3 could
	// create namespaces; glibc falls back to clone (CVE-2021-41133).
	"clone3",
	// Case 25: the new mount API (CVE-2021-41133). open_tree_attr (Linux
	// 6.15) is unknown to libseccomp 2.5.4: under strict its number is above
	// the ENOSYS stub's maximum, under compat it is silently not filtered
	// (see the XXX in compatRules).
	"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
	"mount_setattr", "open_tree_attr",
	// Case 31 (pinned, security suite §8.1): io_uring operations bypass
	// seccomp argument filters; ENOSYS lets libraries fall back to epoll.
	"io_uring_setup", "io_uring_enter", "io_uring_register",
}

// Build renders the policy named by o.Policy as OCI seccomp data.
//
// The result lists exactly one architecture, SCMP_ARCH_X86_64 (with
// o.AllowMultiarch also SCMP_ARCH_X86, which Compile renders itself, see
// multiarchProgram; runc could not load it). How runc's
// libcontainer v1.5.2 (libcontainer/seccomp/seccomp_linux.go and
// seccomp/patchbpf/enosys_linux.go) turns that into a filter:
//   - libseccomp's filter starts with an arch check. Any other audit arch,
//     notably i386 (`int $0x80`, AUDIT_ARCH_I386), and any x86_64 syscall
//     number with bit 30 set (the x32 ABI, 0x40000000|nr) get the filter's
//     bad-arch action. libcontainer never changes it, so it is libseccomp's
//     default, SCMP_ACT_KILL (= KILL_THREAD): the calling thread dies with
//     SIGSYS, which kills a single-threaded process (exit status 159).
//   - When the default action is not an allow action (strict), patchbpf
//     prepends a stub: for AUDIT_ARCH_X86_64 and numbers without bit 30, a
//     number greater than the largest number of *any* name in the spec
//     that libseccomp resolves for x86_64 returns ENOSYS. The comparison is
//     unsigned, so numbers with bit 31 set also get ENOSYS. With Debian 12's
//     libseccomp 2.5.4 that largest known name is futex_requeue (456), so
//     457 and up (statmount, mseal, open_tree_attr, listns, ...) get ENOSYS.
//     x32 numbers jump over the stub to the bad-arch check; i386 calls are
//     not in the stub's arch table and fall through to it too.
//   - compat's default is ALLOW, so there is no stub: a syscall newer than
//     the denylist is allowed (security suite §7, case 35).
//   - A rule whose action equals the default action is dropped, and a name
//     libseccomp cannot resolve is dropped with a debug log. Strict's
//     explicit EPERM rules are therefore documentation only; compat's deny
//     rules for names unknown to libseccomp fail open.
//
// Flags is left nil, so libcontainer applies its default
// SECCOMP_FILTER_FLAG_SPEC_ALLOW (no forced SSBD mitigation), as runc and
// Docker do. Rules are emitted in a fixed order, so output is deterministic.
// Every rule has at most one condition per argument index, and rules with
// different outcomes never match the same arguments, so the result does not
// depend on how a runtime combines conditions or orders rules.
//
// The knobs of o (Allow, Deny, AllowPtrace, ...) are applied on top of the
// policy by applyKnobs; with none set the result is the policy itself.
func Build(o Options) (*specs.LinuxSeccomp, error) {
	if PolicyTestingAllowAll != "" && o.Policy == PolicyTestingAllowAll {
		// Only in nixbox_testing builds (testing_on.go): allows every
		// call. Knobs are refused so the test build stays what its name
		// says.
		if !reflect.DeepEqual(o, Options{Policy: o.Policy, Network: o.Network}) {
			return nil, fmt.Errorf("seccomp policy %q: %w: takes no knobs", o.Policy, ErrInvalidOptions)
		}
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64},
		}, nil
	}
	var s *specs.LinuxSeccomp
	switch o.Policy {
	case "", PolicyStrict:
		eperm := errEPERM
		s = &specs.LinuxSeccomp{
			DefaultAction:   specs.ActErrno,
			DefaultErrnoRet: &eperm,
			Architectures:   []specs.Arch{specs.ArchX86_64},
			Syscalls:        strictRules(o.Network, cloneNSFlags),
		}
	case PolicyCompat:
		s = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls:      compatRules(o.Network, cloneNSFlags),
		}
	default:
		return nil, fmt.Errorf("seccomp policy %q: %w", o.Policy, ErrUnknownPolicy)
	}
	if err := o.check(o.Policy); err != nil {
		return nil, err
	}
	applyKnobs(s, o)
	return s, nil
}

func strictRules(network bool, cloneFlags uint64) []specs.LinuxSyscall {
	var r []specs.LinuxSyscall
	r = append(r, allow(sorted(strictAllow)...))
	// ioctl: anything but TIOCSTI/TIOCLINUX. With a default of EPERM an
	// explicit EPERM rule would be dropped by libcontainer, so the allowed
	// set is spelled out as masked compares covering every 32-bit cmd except
	// those two (the high 32 bits are ignored, as the kernel ignores them).
	for _, c := range complementCover32([]uint64{tiocsti, tioclinux}) {
		r = append(r, withArgs(allow("ioctl"), arg(1, c.mask, c.datum)))
	}
	// clone: only without namespace flags (Docker's rule; flags are arg 0
	// on x86_64).
	r = append(r, withArgs(allow("clone"), arg(0, cloneFlags, 0)))
	// personality: PER_LINUX and the query. The kernel takes an unsigned
	// int, so compare the low 32 bits only.
	for _, p := range allowedPersonalities {
		r = append(r, withArgs(allow("personality"), arg(0, mask32, p)))
	}
	r = append(r, socketRules(network, true)...)
	// Explicit denies. The EPERM ones repeat the default on purpose (see
	// neverAllow); the argument denies below document what the allow
	// rules above leave out and are checked for disjointness by the tests.
	r = append(r, deny(errEPERM, neverAllow...))
	r = append(r, ioctlDenies()...)
	r = append(r, cloneDenies(cloneFlags)...)
	r = append(r, deny(errENOSYS, enosys...))
	return r
}

func compatRules(network bool, cloneFlags uint64) []specs.LinuxSyscall {
	var r []specs.LinuxSyscall
	// XXX(seccomp): names unknown to the host's libseccomp are dropped by
	// libcontainer, so under compat they are allowed. With libseccomp 2.5.4
	// that affects open_tree_attr (Linux 6.15); it still needs
	// CAP_SYS_ADMIN over the mount namespace, which the sandbox lacks. The
	// seccomp-tagged test lists every such name. Strict is not affected.
	r = append(r, deny(errEPERM, neverAllow...))
	r = append(r, ioctlDenies()...)
	r = append(r, cloneDenies(cloneFlags)...)
	// personality ∉ {PER_LINUX, query}: the low 32 bits are not all equal
	// iff some pair of adjacent bits differs. One masked compare per pair
	// and order, 62 rules, each with a single condition, so no runtime can
	// AND them together by mistake (runc ORs same-index conditions, the OCI
	// spec says nothing).
	for i := 0; i < 31; i++ {
		m := uint64(3) << i
		r = append(r,
			withArgs(deny(errEPERM, "personality"), arg(0, m, 1<<i)),
			withArgs(deny(errEPERM, "personality"), arg(0, m, 2<<i)))
	}
	r = append(r, socketRules(network, false)...)
	r = append(r, deny(errENOSYS, enosys...))
	return r
}

// ioctlDenies are the Flatpak tty denies, as 32-bit masked compares.
func ioctlDenies() []specs.LinuxSyscall {
	return []specs.LinuxSyscall{
		withArgs(deny(errEPERM, "ioctl"), arg(1, mask32, tiocsti)),
		withArgs(deny(errEPERM, "ioctl"), arg(1, mask32, tioclinux)),
	}
}

// cloneDenies deny clone with any namespace flag: one rule per flag bit.
func cloneDenies(flags uint64) []specs.LinuxSyscall {
	var r []specs.LinuxSyscall
	for bit := uint64(1); bit != 0 && bit <= flags; bit <<= 1 {
		if flags&bit != 0 {
			r = append(r, withArgs(deny(errEPERM, "clone"), arg(0, bit, bit)))
		}
	}
	return r
}

// Socket families (see <sys/socket.h>) and the one netlink protocol allowed.
const (
	afUNIX       = 1
	afINET       = 2
	afINET6      = 10
	afNETLINK    = 16
	netlinkROUTE = 0
)

// socketRules implements the socket-family allowlist (security suite case
// 34) the way Flatpak does: an EQ rule per disallowed family below the
// highest allowed one, and GE for everything above. Any value with high bits
// set is >= the bound, so it fails closed with EAFNOSUPPORT even though the
// kernel would only look at the low 32 bits. AF_UNSPEC (0) is denied here
// too: the kernel would reject it with the same EAFNOSUPPORT, but only
// after trying to autoload a "net-pf-0" module.
//
// AF_NETLINK is limited to NETLINK_ROUTE (protocol 0), which glibc needs for
// getifaddrs and getaddrinfo(AI_ADDRCONFIG). Other netlink protocols
// (sock_diag, audit, uevent, netfilter, generic) are host-facing attack
// surface; they fail with EPROTONOSUPPORT, which is what the kernel returns
// for an unavailable protocol, so libudev/libaudit degrade quietly.
//
// socketpair only works for AF_UNIX; others fail with EAFNOSUPPORT.
//
// withAllow adds the ALLOW rules (strict); under compat allowing is the
// default and the rules would be dropped, so they are omitted.
func socketRules(network, withAllow bool) []specs.LinuxSyscall {
	allowed := []uint64{afUNIX, afNETLINK}
	if network {
		allowed = []uint64{afUNIX, afINET, afINET6, afNETLINK}
	}
	var r []specs.LinuxSyscall
	if withAllow {
		for _, f := range allowed {
			if f == afNETLINK {
				r = append(r, withArgs(allow("socket"), eq(0, f), eq(2, netlinkROUTE)))
				continue
			}
			r = append(r, withArgs(allow("socket"), eq(0, f)))
		}
		r = append(r, withArgs(allow("socketpair"), eq(0, afUNIX)))
	}
	r = append(r, withArgs(deny(errEPROTONOSUPPORT, "socket"), eq(0, afNETLINK), ne(2, netlinkROUTE)))
	next := uint64(0)
	for _, f := range allowed {
		for ; next < f; next++ {
			r = append(r, withArgs(deny(errEAFNOSUPPORT, "socket"), eq(0, next)))
		}
		next = f + 1
	}
	r = append(r, withArgs(deny(errEAFNOSUPPORT, "socket"), ge(0, next)))
	r = append(r, withArgs(deny(errEAFNOSUPPORT, "socketpair"), ne(0, afUNIX)))
	return r
}

// maskedValue is one SCMP_CMP_MASKED_EQ test: arg & mask == datum.
type maskedValue struct{ mask, datum uint64 }

// complementCover32 returns masked compares whose union is exactly the set
// of 64-bit values whose low 32 bits are not in excluded (high bits are
// ignored). Bits on which all excluded values agree get one rule each
// ("differs from all of them here"); the remaining bits are enumerated
// (2^k patterns, k = number of differing bits; k = 3 for TIOCSTI/TIOCLINUX).
// It panics if k > 8: that is a programming error in the policy table.
func complementCover32(excluded []uint64) []maskedValue {
	var common uint64 = mask32
	for _, e := range excluded[1:] {
		common &^= (e ^ excluded[0]) & mask32
	}
	var out []maskedValue
	for i := 0; i < 32; i++ {
		bit := uint64(1) << i
		if common&bit != 0 {
			out = append(out, maskedValue{bit, ^excluded[0] & bit})
		}
	}
	diff := mask32 &^ common
	if bits.OnesCount64(diff) > 8 {
		panic("complementCover32: excluded values differ in too many bits")
	}
	// Enumerate every pattern over the diff bits (subsets of diff).
	for p := uint64(0); ; p = (p - diff) & diff {
		taken := false
		for _, e := range excluded {
			if e&diff == p {
				taken = true
			}
		}
		if !taken {
			out = append(out, maskedValue{diff, p})
		}
		if p == diff {
			break
		}
	}
	return out
}

// KnownSyscall reports whether name is an x86_64 syscall name known to
// nixbox's syscall table (Linux up to 6.19, from golang.org/x/sys). It does
// not say whether the host's libseccomp or kernel knows it. Names of other
// ABIs (socketcall, stime, chown32) are not known.
func KnownSyscall(name string) bool {
	_, ok := sysnumX86_64[name]
	return ok
}

// Names returns the sorted x86_64 syscall names that policy allows for at
// least some arguments, with Options.Network false (the network toggle only
// changes socket's arguments, not the name set). For "strict" that is the
// allowlist plus the argument-filtered ioctl, clone, socket, socketpair and
// personality; for "compat" it is every known name except the ones denied
// unconditionally. It returns nil for an unknown policy.
func Names(policy string) []string {
	s, err := Build(Options{Policy: policy})
	if err != nil {
		return nil
	}
	var out []string
	if s.DefaultAction == specs.ActAllow {
		denied := map[string]bool{}
		for _, r := range s.Syscalls {
			if r.Action != specs.ActAllow && len(r.Args) == 0 {
				for _, n := range r.Names {
					denied[n] = true
				}
			}
		}
		for n := range sysnumX86_64 {
			if !denied[n] {
				out = append(out, n)
			}
		}
	} else {
		for _, r := range s.Syscalls {
			if r.Action == specs.ActAllow {
				out = append(out, r.Names...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// rule construction helpers.

func allow(names ...string) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: names, Action: specs.ActAllow}
}

func deny(errno uint, names ...string) specs.LinuxSyscall {
	e := errno
	return specs.LinuxSyscall{Names: slices.Clone(names), Action: specs.ActErrno, ErrnoRet: &e}
}

func withArgs(s specs.LinuxSyscall, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
	s.Args = args
	return s
}

// arg is the OCI spelling of a masked compare: Value is the MASK and
// ValueTwo the datum (security suite §2 item 9).
func arg(index uint, mask, datum uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Value: mask, ValueTwo: datum, Op: specs.OpMaskedEqual}
}

func eq(index uint, v uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Value: v, Op: specs.OpEqualTo}
}

func ne(index uint, v uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Value: v, Op: specs.OpNotEqual}
}

func ge(index uint, v uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Value: v, Op: specs.OpGreaterEqual}
}

func sorted(names []string) []string {
	s := slices.Clone(names)
	slices.Sort(s)
	return s
}
