//go:build !(linux && cgo && seccomp)

package seccomp

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExportBPF always returns ErrUnsupported in this build: compiling a filter
// needs libseccomp, which is only linked into Linux builds with cgo and
// -tags seccomp (see bpf_linux.go). Nothing is written to w.
func ExportBPF(s *specs.LinuxSeccomp, w *os.File) error {
	return ErrUnsupported
}

// Compile always returns ErrUnsupported in this build (see ExportBPF).
func Compile(s *specs.LinuxSeccomp) ([]byte, error) {
	return nil, ErrUnsupported
}

// CompilerID is empty in this build: there is no compiler.
func CompilerID() string { return "" }

// EnosysAbove reports no stub in this build: there is no compiler.
func EnosysAbove(s *specs.LinuxSeccomp) (nr int, name string, ok bool) { return 0, "", false }

// Unresolved is nil in this build: there is no libseccomp to ask.
func Unresolved(s *specs.LinuxSeccomp) []string { return nil }
