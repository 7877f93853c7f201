package main

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The stage-2 filter, in classic BPF. It is small enough to write by hand,
// so nixbox-init stays static and free of libseccomp:
//
//	arch != x86_64                      -> kill process (no other ABI)
//	nr >= 0x40000000 (x32)              -> kill process
//	nr == clone && (arg0 & CLONE_NEWUSER, low 32 bits) != 0 -> EPERM
//	anything else                       -> allow (the spec's filter decides)
//
// The compare uses only the low 32 bits of clone's flags, as the kernel
// does (CVE-2019-10063 was a 64-bit compare that high bits bypassed).
const (
	offNr     = 0  // offsetof(struct seccomp_data, nr)
	offArch   = 4  // offsetof(struct seccomp_data, arch)
	offArg0Lo = 16 // offsetof(struct seccomp_data, args[0]), low half on little-endian
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

func userNSFilter() []unix.SockFilter {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	return []unix.SockFilter{
		stmt(ld, offArch),                                    // 0
		jump(jeq, unix.AUDIT_ARCH_X86_64, 1, 0),              // 1
		stmt(ret, unix.SECCOMP_RET_KILL_PROCESS),             // 2
		stmt(ld, offNr),                                      // 3
		jump(jge, 0x40000000, 0, 1),                          // 4: x32
		stmt(ret, unix.SECCOMP_RET_KILL_PROCESS),             // 5
		jump(jeq, unix.SYS_CLONE, 0, 3),                      // 6
		stmt(ld, offArg0Lo),                                  // 7
		jump(jset, unix.CLONE_NEWUSER, 0, 1),                 // 8
		stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM)), // 9
		stmt(ret, unix.SECCOMP_RET_ALLOW),                    // 10
	}
}

// denyNewUserns installs userNSFilter on every thread of the process.
func denyNewUserns() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	f := userNSFilter()
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// dropCaps clears the effective, permitted and inheritable capability sets
// of every thread. With no_new_privs set, no later execve can gain any back
// (the kernel caps the new permitted set at the old one).
func dropCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET,
		uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
