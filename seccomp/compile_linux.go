//go:build linux && cgo && seccomp

package seccomp

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Compile turns s into the classic-BPF program nixbox-init loads right
// before the app's execve: ExportBPF's program, preceded by the ENOSYS stub
// that runc's patchbpf adds at load time. For a policy whose default action
// is not "allow", every x86_64 syscall number above the highest one the
// policy names returns ENOSYS instead of the default errno, so a libc that
// tries a syscall newer than the list falls back to the old one. The
// result is host byte order sock_filter records, 8 bytes each.
//
// For a policy with SCMP_ARCH_X86 (Options.AllowMultiarch) the program is
// assembled by multiarchProgram, with an ENOSYS stub for each ABI.
func Compile(s *specs.LinuxSeccomp) ([]byte, error) {
	if s != nil && slices.Contains(s.Architectures, specs.ArchX86) {
		return multiarchProgram(s, true)
	}
	prog, err := exportProgram(func(f *os.File) error { return ExportBPF(s, f) })
	if err != nil {
		return nil, err
	}
	if s.DefaultAction == specs.ActAllow {
		return prog, nil
	}
	maxNr, _, ok := EnosysAbove(s)
	if !ok {
		return prog, nil
	}
	stub := enosysStub(uint32(maxNr))
	return append(stub, prog...), nil
}

// EnosysAbove returns where Compile's ENOSYS stub starts: x86_64 numbers
// above nr fail with ENOSYS. nr is the highest number of any name in s
// that the linked libseccomp resolves, and name is that syscall. ok is
// false when Compile adds no stub (default action "allow", or no name
// resolves).
func EnosysAbove(s *specs.LinuxSeccomp) (nr int, name string, ok bool) {
	if s == nil || s.DefaultAction == specs.ActAllow {
		return 0, "", false
	}
	nr = -1
	for _, call := range s.Syscalls {
		for _, n := range call.Names {
			x, err := libseccomp.GetSyscallFromName(n)
			if err == nil && (int(x) > nr || int(x) == nr && n < name) {
				nr, name = int(x), n
			}
		}
	}
	return nr, name, nr >= 0
}

// Unresolved returns the sorted names in s that the linked libseccomp does
// not know: ExportBPF skips their rules, as runc does, so those calls get
// the default action (or the ENOSYS stub) instead of their rule.
func Unresolved(s *specs.LinuxSeccomp) []string {
	var out []string
	if s == nil {
		return nil
	}
	for _, call := range s.Syscalls {
		for _, n := range call.Names {
			if _, err := libseccomp.GetSyscallFromName(n); err != nil {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// enosysStub returns ENOSYS for x86_64 numbers above maxNr and otherwise
// falls through to the program that follows (jumps are relative, so
// prepending does not disturb it). x32 numbers (bit 30) fall through too:
// the program kills them as a foreign ABI.
func enosysStub(maxNr uint32) []byte {
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jgt = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	ins := []unix.SockFilter{
		{Code: ld, K: 4}, // 0: arch
		{Code: jeq, K: unix.AUDIT_ARCH_X86_64, Jt: 0, Jf: 4}, // 1: not x86_64 -> program
		{Code: ld, K: 0},                                             // 2: nr
		{Code: jge, K: 0x40000000, Jt: 2, Jf: 0},                     // 3: x32 -> program
		{Code: jgt, K: maxNr, Jt: 0, Jf: 1},                          // 4: newer than the list?
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}, // 5
	}
	out := make([]byte, 0, 8*len(ins))
	for _, in := range ins {
		var b [8]byte
		binary.NativeEndian.PutUint16(b[0:], in.Code)
		b[2], b[3] = in.Jt, in.Jf
		binary.NativeEndian.PutUint32(b[4:], in.K)
		out = append(out, b[:]...)
	}
	return out
}

// CompilerID names the compiler for cache keys: the program format and the
// linked libseccomp version. Bump the format ("nixbox-bpf-N") whenever
// Compile's output for the same policy data changes (the ENOSYS stub, the
// multiarch assembly of i386_linux.go), or warm starts keep loading
// programs compiled the old way.
func CompilerID() string {
	maj, min, mic := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("nixbox-bpf-1/libseccomp-%d.%d.%d", maj, min, mic)
}
