//go:build cgo && seccomp

package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// seccompData is the kernel's struct seccomp_data, the input of a filter.
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

// bytes lays d out as the kernel does on a little-endian host.
func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runBPF interprets a seccomp classic-BPF program (host byte order struct
// sock_filter records, as Compile writes them) on d, with the kernel's
// rules for seccomp filters (net/core/filter.c, seccomp_check_filter): 32-bit
// loads from seccomp_data at aligned offsets, the scratch memory, ALU and
// jumps with constant or X operands, and returns. Anything else, a jump or
// load out of range, or running off the end is an error, so a test fails
// rather than guess.
func runBPF(prog []byte, d seccompData) (uint32, error) {
	if len(prog)%8 != 0 || len(prog) == 0 {
		return 0, fmt.Errorf("program of %d bytes", len(prog))
	}
	data := d.bytes()
	n := len(prog) / 8
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < n; pc++ {
		r := prog[8*pc:]
		code := binary.NativeEndian.Uint16(r)
		jt, jf := int(r[2]), int(r[3])
		k := binary.NativeEndian.Uint32(r[4:])
		src := func() uint32 {
			if code&unix.BPF_X != 0 {
				return x
			}
			return k
		}
		switch code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if k%4 != 0 || int(k)+4 > len(data) {
				return 0, fmt.Errorf("pc %d: load at %d", pc, k)
			}
			a = binary.LittleEndian.Uint32(data[k:])
		case unix.BPF_LD | unix.BPF_W | unix.BPF_LEN:
			a = uint32(len(data))
		case unix.BPF_LDX | unix.BPF_W | unix.BPF_LEN:
			x = uint32(len(data))
		case unix.BPF_LD | unix.BPF_IMM:
			a = k
		case unix.BPF_LDX | unix.BPF_IMM:
			x = k
		case unix.BPF_LD | unix.BPF_MEM, unix.BPF_LDX | unix.BPF_MEM, unix.BPF_ST, unix.BPF_STX:
			if k >= 16 {
				return 0, fmt.Errorf("pc %d: scratch slot %d", pc, k)
			}
			switch code {
			case unix.BPF_LD | unix.BPF_MEM:
				a = mem[k]
			case unix.BPF_LDX | unix.BPF_MEM:
				x = mem[k]
			case unix.BPF_ST:
				mem[k] = a
			default:
				mem[k] = x
			}
		case unix.BPF_MISC | unix.BPF_TAX:
			x = a
		case unix.BPF_MISC | unix.BPF_TXA:
			a = x
		case unix.BPF_RET | unix.BPF_K:
			return k, nil
		case unix.BPF_RET | unix.BPF_A:
			return a, nil
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(k)
		default:
			switch code &^ unix.BPF_X {
			case unix.BPF_ALU | unix.BPF_ADD:
				a += src()
			case unix.BPF_ALU | unix.BPF_SUB:
				a -= src()
			case unix.BPF_ALU | unix.BPF_MUL:
				a *= src()
			case unix.BPF_ALU | unix.BPF_AND:
				a &= src()
			case unix.BPF_ALU | unix.BPF_OR:
				a |= src()
			case unix.BPF_ALU | unix.BPF_XOR:
				a ^= src()
			case unix.BPF_ALU | unix.BPF_LSH:
				a <<= src()
			case unix.BPF_ALU | unix.BPF_RSH:
				a >>= src()
			case unix.BPF_ALU | unix.BPF_NEG:
				a = -a
			case unix.BPF_JMP | unix.BPF_JEQ, unix.BPF_JMP | unix.BPF_JGT,
				unix.BPF_JMP | unix.BPF_JGE, unix.BPF_JMP | unix.BPF_JSET:
				var ok bool
				switch code & 0xf0 {
				case unix.BPF_JEQ:
					ok = a == src()
				case unix.BPF_JGT:
					ok = a > src()
				case unix.BPF_JGE:
					ok = a >= src()
				case unix.BPF_JSET:
					ok = a&src() != 0
				}
				if ok {
					pc += jt
				} else {
					pc += jf
				}
			default:
				return 0, fmt.Errorf("pc %d: opcode %#x", pc, code)
			}
		}
		if pc+1 > n {
			return 0, fmt.Errorf("pc %d: jump past the end (%d instructions)", pc, n)
		}
	}
	return 0, fmt.Errorf("ran off the end of %d instructions", n)
}

// verdict is a filter's return value in words, for test messages and
// comparisons: ALLOW, LOG, KILL_THREAD, KILL_PROCESS, TRAP or errno N.
type verdict uint32

func (v verdict) String() string {
	switch uint32(v) & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_ERRNO:
		return fmt.Sprintf("errno %d", uint32(v)&unix.SECCOMP_RET_DATA)
	}
	return fmt.Sprintf("%#x", uint32(v))
}

// errnoOf returns the errno of an ERRNO verdict.
func (v verdict) errnoOf() (unix.Errno, bool) {
	if uint32(v)&unix.SECCOMP_RET_ACTION_FULL != unix.SECCOMP_RET_ERRNO {
		return 0, false
	}
	return unix.Errno(uint32(v) & unix.SECCOMP_RET_DATA), true
}
