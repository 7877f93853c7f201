package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxInstructions is the kernel's limit on a classic-BPF program.
const maxInstructions = 4096

// loadFilter reads a compiled seccomp program (host byte order struct
// sock_filter records) and installs it on every thread, with no_new_privs.
func loadFilter(path string) error {
	prog, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := len(prog) / 8
	if len(prog)%8 != 0 || n == 0 || n > maxInstructions {
		return fmt.Errorf("%d bytes is not a BPF program of 1..%d instructions", len(prog), maxInstructions)
	}
	ins := make([]unix.SockFilter, n)
	for i := range ins {
		b := prog[8*i:]
		ins[i] = unix.SockFilter{
			Code: uint16(b[0]) | uint16(b[1])<<8,
			Jt:   b[2],
			Jf:   b[3],
			K:    uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24,
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(n), Filter: &ins[0]}
	// TSYNC: the Go runtime's other threads get the filter too.
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return errno
	}
	if r != 0 {
		return errors.New("a thread could not be synchronized to the filter")
	}
	return nil
}

// capsCleared checks that every capability set of this process, the
// bounding set included, is empty.
func capsCleared() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		if strings.Trim(strings.TrimSpace(v), "0") != "" {
			return fmt.Errorf("%s is %s", k, strings.TrimSpace(v))
		}
	}
	return nil
}
