package seccache

import (
	"fmt"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkGetHit is what a warm start pays for seccomp in the launcher:
// hashing a policy the size of strict (about 300 names, 70 rules) and
// finding its compiled filter in the cache. Loading it in nixbox-init is
// one read of a few KiB and one seccomp(2) call. For people: no threshold.
func BenchmarkGetHit(b *testing.B) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64}}
	for i := 0; i < 70; i++ {
		names := make([]string, 5)
		for j := range names {
			names[j] = fmt.Sprintf("syscall_%d_%d", i, j)
		}
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: names, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: 0x5412, Op: specs.OpMaskedEqual}}})
	}
	dir := b.TempDir()
	compile := func(*specs.LinuxSeccomp) ([]byte, error) { return make([]byte, 8*544), nil }
	if _, err := Get(dir, os.Getuid(), s, "v1", compile); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Get(dir, os.Getuid(), s, "v1", compile); err != nil {
			b.Fatal(err)
		}
	}
}
