//go:build cgo && seccomp

package seccomp

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// How a policy with SCMP_ARCH_X86 (Options.AllowMultiarch) becomes one
// program.
//
// libseccomp 2.5.4 cannot render strict's socket rules for i386: on that
// ABI socket(2) and socketpair(2) also exist as sub-calls of socketcall(2),
// and libseccomp turns every i386 rule on them into a socketcall rule
// whose argument 0 is overwritten with the sub-call number (arch-x86.c,
// x86_rule_add), dropping the family compare. "allow socket(AF_UNIX)" and
// "socket(AF_UNSPEC) -> EAFNOSUPPORT" both become "socketcall(SYS_SOCKET)"
// with different actions, and adding the second fails with EEXIST. Had
// they not collided, the family filter would have silently become "any
// family" for i386. Exact rules (Flatpak's way) are refused outright on a
// filter with two architectures (EOPNOTSUPP), which is why Flatpak's
// family filter is absent when it enables multiarch.
//
// So the program is assembled from parts, each complete on its own:
//
//	ld arch; jeq AUDIT_ARCH_I386 ? i386 part : x86_64 part
//	x86_64 part: libseccomp's program for SCMP_ARCH_X86_64 alone, as
//	             for any policy (x32 still gets the bad-arch kill)
//	i386 part:   [ENOSYS stub for i386 numbers above the policy's
//	             highest], then nixbox's own rules for four calls:
//	             socket and socketpair (whose argument compares
//	             libseccomp would drop), socketcall and ipc (each
//	             sub-call gets the direct call's outcome), then
//	             libseccomp's program for SCMP_ARCH_X86 alone, rendered
//	             from the same rules minus socket and socketpair. The
//	             socketcall and ipc rules libseccomp derives from the
//	             direct calls are never reached: nixbox's rules return
//	             for those numbers first.
//
// nixbox's rules compare 32-bit arguments only (the low word of
// seccomp_data.args, as libseccomp does for 32-bit ABIs; the kernel
// truncates i386 arguments to 32 bits).

// i386 system call numbers nixbox renders itself (arch/x86/entry/syscalls/
// syscall_32.tbl).
const (
	i386Socketcall = 102
	i386IPC        = 117
	i386Socket     = 359
	i386Socketpair = 360
)

// socketcallNames maps socketcall(2)'s first argument (SYS_SOCKET = 1 ...
// SYS_SENDMMSG = 20, <linux/net.h>) to the system call it stands for.
var socketcallNames = map[uint32]string{
	1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept",
	6: "getsockname", 7: "getpeername", 8: "socketpair", 9: "send",
	10: "recv", 11: "sendto", 12: "recvfrom", 13: "shutdown",
	14: "setsockopt", 15: "getsockopt", 16: "sendmsg", 17: "recvmsg",
	18: "accept4", 19: "recvmmsg", 20: "sendmmsg",
}

// ipcNames maps the low 16 bits of ipc(2)'s first argument (the high 16
// are a version, <linux/ipc.h>) to the System V call it stands for.
var ipcNames = map[uint32]string{
	1: "semop", 2: "semget", 3: "semctl", 4: "semtimedop",
	11: "msgsnd", 12: "msgrcv", 13: "msgget", 14: "msgctl",
	21: "shmat", 22: "shmdt", 23: "shmget", 24: "shmctl",
}

// muxStandIn are the arguments socketcall(SYS_SOCKET) and
// socketcall(SYS_SOCKETPAIR) are judged by: AF_UNIX, SOCK_STREAM,
// protocol 0.
//
// Security decision (allow_multiarch only): socketcall's real arguments
// are in memory, which seccomp cannot read, so the family filter cannot
// apply to it. 32-bit glibc built for kernels older than 4.3 (Debian's,
// Ubuntu's, the Steam runtime's) creates every socket through socketcall
// and has no fallback to the direct call, so refusing it would break all
// sockets of 32-bit apps, AF_UNIX (X11, Wayland, PulseAudio, D-Bus)
// included. nixbox therefore gives socketcall(SYS_SOCKET) and
// socketcall(SYS_SOCKETPAIR) the outcome of socket(AF_UNIX) and
// socketpair(AF_UNIX): allowed under strict, for ANY family. This is a
// documented gap of allow_multiarch (nixbox explain warns, docs/seccomp.md
// says so). Peers: Docker allows socketcall unconditionally, and its
// socket rule becomes an argument-less socketcall rule on i386; Flatpak
// ignores the failure of its exact family rules, so with multiarch it has
// no family filter on any architecture. nixbox keeps the filter for
// x86_64 and for the direct i386 socket/socketpair calls, allows only the
// 20 known socketcall sub-calls (each with its direct call's outcome), and
// the rest of what the sandbox gives still holds: no capabilities, and a
// private network namespace unless [network] says otherwise. What 32-bit
// code gains is the kernel code behind other families (and the loading of
// their modules, where the host allows it).
var muxStandIn = [6]uint64{afUNIX, 1, 0}

// multiarchProgram assembles the program described above. With stubs, the
// ENOSYS stubs are included for both ABIs (Compile); without, neither
// (ExportBPF, which never has patchbpf's stub).
func multiarchProgram(s *specs.LinuxSeccomp, stubs bool) ([]byte, error) {
	// Only the pair Build produces: i386 alone would have the x86_64 part
	// filter x86_64 calls that the data says to kill.
	if !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
		return nil, fmt.Errorf("compiling seccomp filter: architectures %v: with SCMP_ARCH_X86, only [SCMP_ARCH_X86_64 SCMP_ARCH_X86] is supported", s.Architectures)
	}
	s64 := *s
	s64.Architectures = []specs.Arch{specs.ArchX86_64}
	p64, err := libseccompProgram(&s64, nil)
	if err != nil {
		return nil, err
	}
	s32 := *s
	s32.Architectures = []specs.Arch{specs.ArchX86}
	p32, err := libseccompProgram(&s32, func(name string) bool { return name == "socket" || name == "socketpair" })
	if err != nil {
		return nil, err
	}
	mux, err := i386Rules(s)
	if err != nil {
		return nil, err
	}
	var prog []sockFilter
	if stubs && s.DefaultAction != specs.ActAllow {
		if nr, _, ok := EnosysAbove(s); ok {
			prog = append(prog, decode(enosysStub(uint32(nr)))...)
		}
	}
	n64 := len(p64) / 8
	prog = append(prog,
		sockFilter{code: ldAbs, k: offArch},
		sockFilter{code: jeqK, k: unix.AUDIT_ARCH_I386, jt: 0, jf: 1},
		sockFilter{code: ja, k: uint32(n64)},
	)
	prog = append(prog, decode(p64)...)
	if stubs && s.DefaultAction != specs.ActAllow {
		prog = append(prog,
			sockFilter{code: ldAbs, k: offNr},
			sockFilter{code: jgtK, k: enosysAboveI386(s), jt: 0, jf: 1},
			sockFilter{code: retK, k: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		)
	}
	prog = append(prog, mux...)
	prog = append(prog, decode(p32)...)
	if len(prog) > 4096 {
		return nil, fmt.Errorf("compiling seccomp filter: %d instructions, more than the kernel's 4096", len(prog))
	}
	return encode(prog), nil
}

// enosysAboveI386 is EnosysAbove for the i386 numbering: the highest
// direct i386 number of any name in s that libseccomp knows (pseudo
// numbers of multiplexed calls do not count; the four calls nixbox renders
// itself are below it anyway).
func enosysAboveI386(s *specs.LinuxSeccomp) uint32 {
	top := max(i386Socketcall, i386IPC, i386Socket, i386Socketpair)
	for _, call := range s.Syscalls {
		for _, n := range call.Names {
			if x, err := libseccomp.GetSyscallFromNameByArch(n, libseccomp.ArchX86); err == nil {
				top = max(top, int(x))
			}
		}
	}
	return uint32(top)
}

// libseccompProgram compiles s with libseccomp for exactly the
// architectures s lists (the native one is removed unless listed),
// skipping names for which skip is true, and returns the program.
func libseccompProgram(s *specs.LinuxSeccomp, skip func(string) bool) ([]byte, error) {
	return exportProgram(func(f *os.File) error { return exportLibseccomp(s, f, skip) })
}

// exportProgram runs export on a temporary file (libseccomp 2.5 exports
// only to a file descriptor; ExportBPFMem needs 2.6, host-facts §6) and
// returns what it wrote: whole 8-byte sock_filter records.
func exportProgram(export func(*os.File) error) ([]byte, error) {
	f, err := os.CreateTemp("", "nixbox-bpf-")
	if err != nil {
		return nil, fmt.Errorf("compiling seccomp filter: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := export(f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	prog, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("compiling seccomp filter: %w", err)
	}
	if len(prog) == 0 || len(prog)%8 != 0 {
		return nil, fmt.Errorf("compiling seccomp filter: libseccomp wrote %d bytes", len(prog))
	}
	return prog, nil
}

// i386Rules renders nixbox's own i386 rules. The block starts by loading
// the system call number; each of its paths ends in a return, except the
// one for other numbers, which falls through to the instruction after it.
func i386Rules(s *specs.LinuxSeccomp) ([]sockFilter, error) {
	var a asm
	a.op(ldAbs, offNr)
	a.jeq(i386Socket, "socket", "")
	a.jeq(i386Socketpair, "socketpair", "")
	a.jeq(i386Socketcall, "socketcall", "")
	a.jeq(i386IPC, "ipc", "")
	a.jump("next")
	for _, name := range []string{"socket", "socketpair"} {
		a.label(name)
		if err := argRules(&a, s, name); err != nil {
			return nil, err
		}
	}
	def := scmpRet(s.DefaultAction, s.DefaultErrnoRet)
	for _, mux := range []struct {
		label string
		mask  uint32
		names map[uint32]string
	}{{"socketcall", 0, socketcallNames}, {"ipc", 0xffff, ipcNames}} {
		a.label(mux.label)
		a.op(ldAbs, offArgLo(0))
		if mux.mask != 0 {
			a.op(andK, mux.mask)
		}
		subs := make([]uint32, 0, len(mux.names))
		for n := range mux.names {
			subs = append(subs, n)
		}
		slices.Sort(subs)
		type pending struct {
			label string
			ret   uint32
		}
		var rets []pending
		for _, n := range subs {
			ret, err := subcallOutcome(s, mux.names[n])
			if err != nil {
				return nil, fmt.Errorf("compiling seccomp filter: i386 %s(%d): %w", mux.label, n, err)
			}
			if ret == def {
				continue
			}
			l := fmt.Sprintf("%s-%d", mux.label, n)
			a.jeq(n, l, "")
			rets = append(rets, pending{l, ret})
		}
		a.ret(def)
		for _, r := range rets {
			a.label(r.label)
			a.ret(r.ret)
		}
	}
	a.label("next")
	return a.resolve()
}

// subcallOutcome is the return value of the filter for a multiplexed call
// standing for name: that of the direct call, which must not depend on
// arguments, except for socket and socketpair, judged by muxStandIn (see
// there).
func subcallOutcome(s *specs.LinuxSeccomp, name string) (uint32, error) {
	args := [6]uint64{}
	if name == "socket" || name == "socketpair" {
		args = muxStandIn
	} else {
		for _, r := range s.Syscalls {
			if slices.Contains(r.Names, name) && len(r.Args) > 0 && scmpRet(r.Action, r.ErrnoRet) != scmpRet(s.DefaultAction, s.DefaultErrnoRet) {
				return 0, fmt.Errorf("%s has argument rules, which cannot apply to a call whose arguments are in memory", name)
			}
		}
	}
	def := scmpRet(s.DefaultAction, s.DefaultErrnoRet)
	got, found := def, false
	for _, r := range splitRules(s, name) {
		if r.ret == def || !r.matches(args) {
			continue
		}
		if found && r.ret != got {
			return 0, fmt.Errorf("rules for %s with different actions match the same arguments", name)
		}
		got, found = r.ret, true
	}
	return got, nil
}

// rule32 is one OCI rule for one name as libcontainer applies it (a rule
// with two conditions on one argument is split, see addRule), with its
// return value.
type rule32 struct {
	ret   uint32
	conds []specs.LinuxSeccompArg
}

func splitRules(s *specs.LinuxSeccomp, name string) []rule32 {
	var out []rule32
	for _, r := range s.Syscalls {
		if !slices.Contains(r.Names, name) {
			continue
		}
		ret := scmpRet(r.Action, r.ErrnoRet)
		seen := map[uint]bool{}
		perArg := false
		for _, c := range r.Args {
			perArg = perArg || seen[c.Index]
			seen[c.Index] = true
		}
		if perArg {
			for _, c := range r.Args {
				out = append(out, rule32{ret, []specs.LinuxSeccompArg{c}})
			}
			continue
		}
		out = append(out, rule32{ret, r.Args})
	}
	return out
}

// matches evaluates the rule on the low 32 bits of args.
func (r rule32) matches(args [6]uint64) bool {
	for _, c := range r.conds {
		v, x := args[c.Index]&mask32, c.Value&mask32
		var ok bool
		switch c.Op {
		case specs.OpEqualTo:
			ok = v == x
		case specs.OpNotEqual:
			ok = v != x
		case specs.OpGreaterEqual:
			ok = v >= x
		case specs.OpGreaterThan:
			ok = v > x
		case specs.OpLessThan:
			ok = v < x
		case specs.OpLessEqual:
			ok = v <= x
		case specs.OpMaskedEqual:
			ok = v&x == c.ValueTwo&mask32
		}
		if !ok {
			return false
		}
	}
	return true
}

// argRules renders the rules for name as 32-bit compares: each rule tests
// its conditions in turn and returns its action; a failed test goes on to
// the next rule; after the last, the default action. Rules whose action is
// the default are left out, as libcontainer does. A value that does not
// fit in 32 bits is refused rather than truncated: on i386 it would mean
// something else than on x86_64.
func argRules(a *asm, s *specs.LinuxSeccomp, name string) error {
	def := scmpRet(s.DefaultAction, s.DefaultErrnoRet)
	k := 0
	for _, r := range splitRules(s, name) {
		if r.ret == def {
			continue
		}
		next := fmt.Sprintf("%s-rule-%d", name, k)
		k++
		for _, c := range r.conds {
			if c.Index > 5 {
				return fmt.Errorf("compiling seccomp filter: i386 %s: argument index %d", name, c.Index)
			}
			if c.Value > mask32 || (c.Op == specs.OpMaskedEqual && c.ValueTwo > mask32) {
				return fmt.Errorf("compiling seccomp filter: i386 %s: value %#x does not fit in 32 bits", name, c.Value)
			}
			v := uint32(c.Value)
			a.op(ldAbs, offArgLo(c.Index))
			switch c.Op {
			case specs.OpEqualTo:
				a.jeq(v, "", next)
			case specs.OpNotEqual:
				a.jeq(v, next, "")
			case specs.OpGreaterEqual:
				a.cond(jgeK, v, "", next)
			case specs.OpGreaterThan:
				a.cond(jgtK, v, "", next)
			case specs.OpLessThan:
				a.cond(jgeK, v, next, "")
			case specs.OpLessEqual:
				a.cond(jgtK, v, next, "")
			case specs.OpMaskedEqual:
				a.op(andK, v)
				a.jeq(uint32(c.ValueTwo), "", next)
			default:
				return fmt.Errorf("compiling seccomp filter: i386 %s: operator %q", name, c.Op)
			}
		}
		a.ret(r.ret)
		a.label(next)
	}
	a.ret(def)
	return nil
}

// scmpRet is the seccomp return value of an OCI action, as libseccomp
// encodes it (an errno action without errnoRet means EPERM, as in
// libcontainer).
func scmpRet(act specs.LinuxSeccompAction, errnoRet *uint) uint32 {
	switch act {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW
	case specs.ActErrno:
		e := errEPERM
		if errnoRet != nil {
			e = *errnoRet
		}
		return unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG
	}
	// scmpAction rejects every other action before this is reached.
	return unix.SECCOMP_RET_KILL_PROCESS
}

// Classic-BPF opcodes and seccomp_data offsets (little endian).
const (
	ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	andK  = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	ja    = unix.BPF_JMP | unix.BPF_JA
	jeqK  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jgtK  = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	jgeK  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	retK  = unix.BPF_RET | unix.BPF_K

	offNr   = 0
	offArch = 4
)

func offArgLo(i uint) uint32 { return 16 + 8*uint32(i) }

// sockFilter is one struct sock_filter.
type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

func decode(b []byte) []sockFilter {
	out := make([]sockFilter, len(b)/8)
	for i := range out {
		r := b[8*i:]
		out[i] = sockFilter{binary.NativeEndian.Uint16(r), r[2], r[3], binary.NativeEndian.Uint32(r[4:])}
	}
	return out
}

func encode(p []sockFilter) []byte {
	out := make([]byte, 8*len(p))
	for i, in := range p {
		r := out[8*i:]
		binary.NativeEndian.PutUint16(r, in.code)
		r[2], r[3] = in.jt, in.jf
		binary.NativeEndian.PutUint32(r[4:], in.k)
	}
	return out
}

// asm is a tiny classic-BPF assembler with forward labels. A jump target
// "" means the next instruction.
type asm struct {
	ins    []sockFilter
	jt, jf []string // per instruction; for ja, jt holds the target
	labels map[string]int
}

func (a *asm) emit(in sockFilter, jt, jf string) {
	a.ins = append(a.ins, in)
	a.jt = append(a.jt, jt)
	a.jf = append(a.jf, jf)
}

func (a *asm) op(code uint16, k uint32)    { a.emit(sockFilter{code: code, k: k}, "", "") }
func (a *asm) ret(k uint32)                { a.op(retK, k) }
func (a *asm) jump(to string)              { a.emit(sockFilter{code: ja}, to, "") }
func (a *asm) jeq(k uint32, jt, jf string) { a.cond(jeqK, k, jt, jf) }
func (a *asm) cond(code uint16, k uint32, jt, jf string) {
	a.emit(sockFilter{code: code, k: k}, jt, jf)
}

func (a *asm) label(l string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[l] = len(a.ins)
}

// resolve fills in the jump offsets. A label may name the end of the
// block (the instruction after it).
func (a *asm) resolve() ([]sockFilter, error) {
	off := func(i int, l string) (int, error) {
		if l == "" {
			return 0, nil
		}
		t, ok := a.labels[l]
		if !ok || t <= i {
			return 0, fmt.Errorf("compiling seccomp filter: bad jump to %q", l)
		}
		return t - i - 1, nil
	}
	out := slices.Clone(a.ins)
	for i := range out {
		jt, err := off(i, a.jt[i])
		if err != nil {
			return nil, err
		}
		jf, err := off(i, a.jf[i])
		if err != nil {
			return nil, err
		}
		if out[i].code == ja {
			out[i].k = uint32(jt)
			continue
		}
		if jt > 255 || jf > 255 {
			return nil, fmt.Errorf("compiling seccomp filter: jump too long (%d, %d)", jt, jf)
		}
		out[i].jt, out[i].jf = uint8(jt), uint8(jf)
	}
	return out, nil
}
