package seccache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestGetCachesAndRecompilesBadEntries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "seccomp")
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	calls := 0
	compile := func(*specs.LinuxSeccomp) ([]byte, error) {
		calls++
		return make([]byte, 16), nil
	}
	p1, err := Get(dir, os.Getuid(), s, "v1", compile)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Get(dir, os.Getuid(), s, "v1", compile)
	if err != nil || p1 != p2 || calls != 1 {
		t.Fatalf("second Get = %q, %v after %d compiles; want a cache hit", p2, err, calls)
	}
	// A malformed entry (not whole instructions) is recompiled.
	if err := os.WriteFile(p1, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Get(dir, os.Getuid(), s, "v1", compile); err != nil || calls != 2 {
		t.Fatalf("malformed entry not recompiled: %v, %d compiles", err, calls)
	}
	// Another compiler version is another key.
	if p3, _ := Get(dir, os.Getuid(), s, "v2", compile); p3 == p1 {
		t.Fatal("compiler version not part of the key")
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode %v", st.Mode().Perm())
	}
}

func TestGetRejectsOversizedPrograms(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for _, n := range []int{0, 7, 8 * (MaxInstructions + 1)} {
		_, err := Get(t.TempDir(), os.Getuid(), s, "v1", func(*specs.LinuxSeccomp) ([]byte, error) {
			return make([]byte, n), nil
		})
		if err == nil {
			t.Errorf("%d-byte program accepted", n)
		}
	}
	boom := errors.New("boom")
	if _, err := Get(t.TempDir(), os.Getuid(), s, "v1", func(*specs.LinuxSeccomp) ([]byte, error) {
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("compile error lost: %v", err)
	}
}
