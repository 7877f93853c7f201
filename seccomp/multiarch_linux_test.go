//go:build cgo && seccomp

package seccomp

import (
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The i386 part of a multiarch filter cannot be run on every kernel (this
// project's CI kernel faults on `int $0x80` before any filter), so these
// tests run the compiled program in runBPF against seccomp_data inputs for
// both ABIs. TestFilterInChild validates runBPF against the kernel.

const (
	auditX86_64 = unix.AUDIT_ARCH_X86_64
	auditI386   = unix.AUDIT_ARCH_I386
	x32Bit      = 0x40000000
	killThread  = verdict(unix.SECCOMP_RET_KILL_THREAD) // libseccomp's bad-arch action
)

// i386Numbers maps every name libseccomp knows for i386 to its direct
// number (the multiplexed-only calls, such as accept and send, have none).
func i386Numbers(t *testing.T) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	for nr := 0; nr < 1024; nr++ {
		if n, err := libseccomp.ScmpSyscall(nr).GetNameByArch(libseccomp.ArchX86); err == nil && n != "" {
			out[n] = uint32(nr)
		}
	}
	if out["socket"] != i386Socket || out["socketpair"] != i386Socketpair || out["socketcall"] != i386Socketcall || out["ipc"] != i386IPC {
		t.Fatalf("libseccomp's i386 table disagrees with nixbox's numbers: %v %v %v %v",
			out["socket"], out["socketpair"], out["socketcall"], out["ipc"])
	}
	return out
}

func compileOrFail(t *testing.T, o Options) []byte {
	t.Helper()
	prog, err := Compile(mustBuild(t, o))
	if err != nil {
		t.Fatalf("Compile(%+v): %v", o, err)
	}
	return prog
}

func run(t *testing.T, prog []byte, arch, nr uint32, args [6]uint64) verdict {
	t.Helper()
	v, err := runBPF(prog, seccompData{nr: nr, arch: arch, args: args})
	if err != nil {
		t.Fatalf("runBPF(nr %d, arch %#x): %v", nr, arch, err)
	}
	return verdict(v)
}

func sortedX86_64Names() []string {
	names := make([]string, 0, len(sysnumX86_64))
	for n := range sysnumX86_64 {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// multiarchVariants are the option sets the i386 tests compile, each with
// AllowMultiarch: the knob alone, with network, with the other knobs, and
// with deny and allow lists that touch the multiplexed calls.
var multiarchVariants = []Options{
	{},
	{Network: true},
	{Action: ActionKill},
	{Action: ActionLog},
	{Deny: []string{"socket", "msgget", "bind"}},
	{Allow: []string{"socket", "sysfs"}, Unsafe: true},
	{AllowUserns: true, AllowPtrace: true, AllowPerf: true},
}

// TestMultiarchI386SameAsX86_64: with allow_multiarch, every system call
// that exists on both ABIs has the same outcome for i386 as for x86_64,
// for the same 32-bit arguments (and junk in the upper halves of the
// registers changes nothing on i386); the i386-only names are allowed; the
// multiplexed calls get their direct call's outcome, with the documented
// socketcall gap; unknown numbers get the default or ENOSYS, as on x86_64.
func TestMultiarchI386SameAsX86_64(t *testing.T) {
	nr32 := i386Numbers(t)
	names := sortedX86_64Names()
	for _, v := range multiarchVariants {
		o := v
		o.AllowMultiarch = true
		t.Run(o.nameWithKnobs(), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(11, 12))
			s := mustBuild(t, o)
			prog := compileOrFail(t, o)
			both, only64 := 0, 0
			for _, n := range names {
				n32, ok := nr32[n]
				if !ok {
					only64++
					continue
				}
				both++
				for _, args := range argVectors(s, s, n, rnd) {
					for i := range args {
						args[i] &= mask32
					}
					v64 := run(t, prog, auditX86_64, uint32(sysnumX86_64[n]), args)
					v32 := run(t, prog, auditI386, n32, args)
					if v32 != v64 {
						t.Fatalf("%s%#x: i386 (nr %d) %v, x86_64 %v", n, args[:3], n32, v32, v64)
					}
					junk := args
					for i := range junk {
						junk[i] |= hi
					}
					if vj := run(t, prog, auditI386, n32, junk); vj != v32 {
						t.Fatalf("%s%#x: i386 with junk in the upper halves %v, without %v", n, junk[:3], vj, v32)
					}
				}
			}
			t.Logf("%d names compared on both ABIs, %d are x86_64 only", both, only64)

			for _, n := range i386Allow {
				n32, ok := nr32[n]
				if !ok {
					continue // multiplexed only (send, recv): checked below
				}
				if got := run(t, prog, auditI386, n32, [6]uint64{}); got != verdict(unix.SECCOMP_RET_ALLOW) {
					t.Errorf("i386-only %s (nr %d): %v, want ALLOW", n, n32, got)
				}
			}

			// socketcall(call, args*): the sub-call's direct outcome.
			for sub, n := range socketcallNames {
				var want verdict
				switch {
				case n == "send" || n == "recv":
					want = verdict(unix.SECCOMP_RET_ALLOW) // i386Allow
				case n == "socket" || n == "socketpair":
					want = run(t, prog, auditX86_64, uint32(sysnumX86_64[n]), muxStandIn)
				default:
					want = run(t, prog, auditX86_64, uint32(sysnumX86_64[n]), [6]uint64{})
				}
				for _, a1 := range []uint64{bad, 0x7fff0000, hi | bad} {
					if got := run(t, prog, auditI386, i386Socketcall, [6]uint64{uint64(sub), a1}); got != want {
						t.Errorf("socketcall(%d = %s, %#x): %v, want %v", sub, n, a1, got, want)
					}
				}
			}
			// ipc(call | version<<16, ...): the System V call's outcome.
			for sub, n := range ipcNames {
				want := run(t, prog, auditX86_64, uint32(sysnumX86_64[n]), [6]uint64{})
				for _, version := range []uint64{0, 1 << 16, 0xffff << 16} {
					if got := run(t, prog, auditI386, i386IPC, [6]uint64{uint64(sub) | version, 1, 1}); got != want {
						t.Errorf("ipc(%#x = %s): %v, want %v", uint64(sub)|version, n, got, want)
					}
				}
			}
			// Sub-calls that do not exist: the default action, as for an
			// x86_64 number the policy does not name (sysfs, 139, unless
			// allowed).
			def := run(t, prog, auditX86_64, uint32(sysnumX86_64["ustat"]), [6]uint64{})
			for _, c := range []struct{ nr, a0 uint32 }{
				{i386Socketcall, 0}, {i386Socketcall, 21}, {i386Socketcall, 0xffffffff},
				{i386IPC, 0}, {i386IPC, 5}, {i386IPC, 25}, {i386IPC, 0xffff},
			} {
				if got := run(t, prog, auditI386, c.nr, [6]uint64{uint64(c.a0)}); got != def {
					t.Errorf("i386 nr %d (%d): %v, want the default %v", c.nr, c.a0, got, def)
				}
			}
			// Numbers above every known one: ENOSYS on both ABIs.
			for _, nr := range []uint32{600, 1000, 0x3fffffff} {
				v64 := run(t, prog, auditX86_64, nr, [6]uint64{})
				v32 := run(t, prog, auditI386, nr, [6]uint64{})
				if e, _ := v32.errnoOf(); e != unix.ENOSYS || v32 != v64 {
					t.Errorf("nr %d: i386 %v, x86_64 %v, want ENOSYS on both", nr, v32, v64)
				}
			}
			// x32 stays killed, and other architectures too.
			for _, n := range []string{"getpid", "unshare", "keyctl", "mount"} {
				if got := run(t, prog, auditX86_64, x32Bit|uint32(sysnumX86_64[n]), [6]uint64{}); got != killThread {
					t.Errorf("x32 %s: %v, want KILL_THREAD", n, got)
				}
			}
			if got := run(t, prog, unix.AUDIT_ARCH_AARCH64, 172, [6]uint64{}); got != killThread {
				t.Errorf("aarch64 getpid: %v, want KILL_THREAD", got)
			}
		})
	}
}

// TestMultiarchSecuritySuiteRows: the i386 rows of security suite cases 36
// and 38 (and the §7 table through int $0x80), spelled out with the
// suite's own numbers. Without the knob every one is killed.
func TestMultiarchSecuritySuiteRows(t *testing.T) {
	nr32 := i386Numbers(t)
	// The suite's numbers (case 36) must be libseccomp's.
	for n, want := range map[string]uint32{"unshare": 310, "keyctl": 288, "mount": 21, "ptrace": 26,
		"ioctl": 54, "bpf": 357, "userfaultfd": 374, "modify_ldt": 123, "personality": 136} {
		if nr32[n] != want {
			t.Fatalf("i386 %s is %d, the security suite says %d", n, nr32[n], want)
		}
	}
	eperm := verdict(unix.SECCOMP_RET_ERRNO | 1)
	enosys := verdict(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	eafnosupport := verdict(unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT))
	eprotonosupport := verdict(unix.SECCOMP_RET_ERRNO | uint32(unix.EPROTONOSUPPORT))
	allowV := verdict(unix.SECCOMP_RET_ALLOW)
	rows := []struct {
		name string
		nr   uint32
		args [6]uint64
		want verdict
	}{
		{"getpid", nr32["getpid"], [6]uint64{}, allowV},
		{"unshare(CLONE_NEWUSER)", 310, [6]uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone(CLONE_NEWUSER)", nr32["clone"], [6]uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone(SIGCHLD)", nr32["clone"], [6]uint64{uint64(unix.SIGCHLD)}, allowV},
		{"setns", nr32["setns"], [6]uint64{0xffffffff}, eperm},
		{"chroot", nr32["chroot"], [6]uint64{bad}, eperm},
		{"mount", 21, [6]uint64{bad, bad, bad}, eperm},
		{"umount2", nr32["umount2"], [6]uint64{bad}, eperm},
		{"pivot_root", nr32["pivot_root"], [6]uint64{bad, bad}, eperm},
		{"clone3", nr32["clone3"], [6]uint64{bad, 88}, enosys},
		{"open_tree", nr32["open_tree"], [6]uint64{0xffffffff, bad}, enosys},
		{"move_mount", nr32["move_mount"], [6]uint64{}, enosys},
		{"fsopen", nr32["fsopen"], [6]uint64{bad}, enosys},
		{"mount_setattr", nr32["mount_setattr"], [6]uint64{}, enosys},
		{"ioctl(TIOCSTI)", 54, [6]uint64{0, tiocsti, bad}, eperm},
		{"ioctl(TIOCLINUX)", 54, [6]uint64{0, tioclinux, bad}, eperm},
		{"ioctl(TCGETS)", 54, [6]uint64{0, unix.TCGETS, bad}, allowV},
		{"keyctl", 288, [6]uint64{0, 0xfffffffd}, eperm},
		{"add_key", nr32["add_key"], [6]uint64{bad}, eperm},
		{"request_key", nr32["request_key"], [6]uint64{bad}, eperm},
		{"bpf", 357, [6]uint64{5, bad}, eperm},
		{"perf_event_open", nr32["perf_event_open"], [6]uint64{bad}, eperm},
		{"userfaultfd", 374, [6]uint64{}, eperm},
		{"io_uring_setup", nr32["io_uring_setup"], [6]uint64{1, bad}, enosys},
		{"personality(PER_LINUX32)", 136, [6]uint64{perLinux32}, allowV},
		{"personality(query)", 136, [6]uint64{0xffffffff}, allowV},
		{"personality(ADDR_NO_RANDOMIZE)", 136, [6]uint64{0x0040000}, eperm},
		{"ptrace(ATTACH)", 26, [6]uint64{unix.PTRACE_ATTACH, 1}, eperm},
		{"process_vm_readv", nr32["process_vm_readv"], [6]uint64{}, eperm},
		{"kexec_load", nr32["kexec_load"], [6]uint64{}, eperm},
		{"init_module", nr32["init_module"], [6]uint64{bad}, eperm},
		{"open_by_handle_at", nr32["open_by_handle_at"], [6]uint64{0xffffffff, bad}, eperm},
		{"modify_ldt", 123, [6]uint64{0, bad}, allowV},
		{"socket(AF_UNIX)", i386Socket, [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}, allowV},
		{"socket(AF_VSOCK)", i386Socket, [6]uint64{unix.AF_VSOCK, unix.SOCK_STREAM}, eafnosupport},
		{"socket(AF_INET) without network", i386Socket, [6]uint64{unix.AF_INET, unix.SOCK_STREAM}, eafnosupport},
		{"socket(AF_NETLINK, NETLINK_AUDIT)", i386Socket, [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT}, eprotonosupport},
		{"socketpair(AF_INET)", i386Socketpair, [6]uint64{unix.AF_INET, unix.SOCK_STREAM, 0, bad}, eafnosupport},
		// The documented gap: socketcall's family is in memory.
		{"socketcall(SYS_SOCKET, any family)", i386Socketcall, [6]uint64{1, bad}, allowV},
		{"socketcall(SYS_CONNECT)", i386Socketcall, [6]uint64{3, bad}, allowV},
		{"socketcall(21)", i386Socketcall, [6]uint64{21, bad}, eperm},
	}
	with := compileOrFail(t, Options{AllowMultiarch: true})
	without := compileOrFail(t, Options{})
	for _, r := range rows {
		if got := run(t, with, auditI386, r.nr, r.args); got != r.want {
			t.Errorf("allow_multiarch: i386 %s (nr %d): %v, want %v", r.name, r.nr, got, r.want)
		}
		if got := run(t, without, auditI386, r.nr, r.args); got != killThread {
			t.Errorf("strict: i386 %s (nr %d): %v, want KILL_THREAD (bad arch)", r.name, r.nr, got)
		}
	}
}

// TestMultiarchLoosensOnlyWhatItNames compares each variant with and
// without allow_multiarch: x86_64 outcomes are identical except for
// modify_ldt and personality(PER_LINUX32), x32 is killed by both, and i386
// is killed without the knob and never by the bad-arch action with it.
func TestMultiarchLoosensOnlyWhatItNames(t *testing.T) {
	nr32 := i386Numbers(t)
	names := sortedX86_64Names()
	for _, v := range multiarchVariants {
		t.Run(v.nameWithKnobs(), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(13, 14))
			o := v
			o.AllowMultiarch = true
			sBase, sKnob := mustBuild(t, v), mustBuild(t, o)
			base, knob := compileOrFail(t, v), compileOrFail(t, o)
			changed := map[string]bool{}
			for _, n := range names {
				nr := uint32(sysnumX86_64[n])
				for _, args := range argVectors(sBase, sKnob, n, rnd) {
					b, k := run(t, base, auditX86_64, nr, args), run(t, knob, auditX86_64, nr, args)
					if b != k {
						changed[n] = true
						okChange := k == verdict(unix.SECCOMP_RET_ALLOW) && (n == "modify_ldt" ||
							n == "personality" && args[0]&mask32 == perLinux32)
						if !okChange && !slices.Contains(v.Deny, n) {
							t.Fatalf("x86_64 %s%#x: %v without the knob, %v with it", n, args[:3], b, k)
						}
					}
					if xb, xk := run(t, base, auditX86_64, x32Bit|nr, args), run(t, knob, auditX86_64, x32Bit|nr, args); xb != killThread || xk != killThread {
						t.Fatalf("x32 %s: %v without the knob, %v with it; want KILL_THREAD", n, xb, xk)
					}
				}
			}
			for _, n := range []string{"modify_ldt", "personality"} {
				if !changed[n] {
					t.Errorf("x86_64 %s: unchanged by allow_multiarch", n)
				}
			}
			for _, nr := range nr32 {
				if got := run(t, base, auditI386, nr, [6]uint64{}); got != killThread {
					t.Fatalf("i386 nr %d without the knob: %v, want KILL_THREAD", nr, got)
				}
				if got := run(t, knob, auditI386, nr, [6]uint64{}); got == killThread {
					t.Fatalf("i386 nr %d with the knob: KILL_THREAD (the bad-arch action)", nr)
				}
			}
		})
	}
}

// nameWithKnobs names an Options value for subtests.
func (o Options) nameWithKnobs() string {
	n := o.Policy
	if n == "" {
		n = PolicyStrict
	}
	if o.Network {
		n += "-network"
	}
	if o.AllowMultiarch {
		n += "-multiarch"
	}
	if o.AllowUserns || o.AllowPtrace || o.AllowPerf {
		n += "-allow-knobs"
	}
	if o.Action != "" {
		n += "-" + o.Action
	}
	for _, d := range o.Deny {
		n += "-deny-" + d
	}
	for _, a := range o.Allow {
		n += "-allow-" + a
	}
	return n
}

// TestMultiarchArchitecturesRefused: the assembler takes only the pair of
// architectures Build produces; anything else with i386 fails closed.
func TestMultiarchArchitecturesRefused(t *testing.T) {
	for _, arches := range [][]specs.Arch{
		{specs.ArchX86},
		{specs.ArchX86, specs.ArchX86_64},
		{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	} {
		s := mustBuild(t, Options{AllowMultiarch: true})
		s.Architectures = arches
		if _, err := Compile(s); err == nil {
			t.Errorf("Compile with %v succeeded", arches)
		}
		if err := ExportBPF(s, os.Stdout); err == nil {
			t.Errorf("ExportBPF with %v succeeded", arches)
		}
	}
}
