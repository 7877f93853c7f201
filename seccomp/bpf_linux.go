//go:build cgo && seccomp

package seccomp

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// ExportBPF compiles s with libseccomp and writes the raw classic-BPF
// program (an array of struct sock_filter, host byte order) to w, which may
// be a regular file, memfd or pipe (libseccomp 2.5.4 cannot export to
// memory). It builds the filter the way libcontainer v1.5.2's InitSeccomp
// does, so the program is the one runc would load, minus two things done at
// load time: patchbpf's ENOSYS stub for numbers above the profile's highest
// (see Build) and the seccomp(2) flags (s.Flags), which are not part of the
// program. Like libcontainer it silently skips rules whose action equals the
// default action and names the host's libseccomp cannot resolve, and it
// uses libseccomp's default bad-arch action (kill). Actions other than
// allow, errno, kill*, trap and log are rejected. It does not load the
// filter.
//
// A policy that lists SCMP_ARCH_X86 besides SCMP_ARCH_X86_64
// (Options.AllowMultiarch) is not compiled by libseccomp in one piece,
// because libseccomp cannot render the i386 socket rules (see
// multiarchProgram); runc could not load such a policy either.
func ExportBPF(s *specs.LinuxSeccomp, w *os.File) error {
	if s == nil {
		return errors.New("exporting seccomp BPF: nil seccomp config")
	}
	if slices.Contains(s.Architectures, specs.ArchX86) {
		prog, err := multiarchProgram(s, false)
		if err != nil {
			return err
		}
		if _, err := w.Write(prog); err != nil {
			return fmt.Errorf("exporting seccomp BPF: %w", err)
		}
		return nil
	}
	return exportLibseccomp(s, w, nil)
}

// exportLibseccomp is ExportBPF through libseccomp alone, for exactly the
// architectures s lists, leaving out the rules of names for which skip
// (if not nil) is true.
func exportLibseccomp(s *specs.LinuxSeccomp, w *os.File, skip func(string) bool) error {
	def, err := scmpAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return fmt.Errorf("exporting seccomp BPF: default action: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return fmt.Errorf("exporting seccomp BPF: creating filter: %w", err)
	}
	defer f.Release()
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return fmt.Errorf("exporting seccomp BPF: %w", err)
	}
	keepNative := false
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_")))
		if err != nil {
			return fmt.Errorf("exporting seccomp BPF: architecture %q: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return fmt.Errorf("exporting seccomp BPF: adding architecture %q: %w", a, err)
		}
		keepNative = keepNative || arch == native
	}
	// libseccomp starts every filter with the native architecture; an
	// i386-only part (multiarchProgram) must not carry x86_64's rules.
	if !keepNative && len(s.Architectures) > 0 {
		if err := f.RemoveArch(native); err != nil {
			return fmt.Errorf("exporting seccomp BPF: removing the native architecture: %w", err)
		}
	}
	// Same threshold as libcontainer: binary-tree optimisation for long
	// rule sets (libseccomp <= 2.5.4 misbehaves with it and 0 rules).
	if len(s.Syscalls) > 32 {
		_ = f.SetOptimize(2) // not fatal, as in libcontainer
	}
	// The caller (runc's init, or a test child) sets no_new_privs itself.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return fmt.Errorf("exporting seccomp BPF: clearing no_new_privs bit: %w", err)
	}
	for i, call := range s.Syscalls {
		act, err := scmpAction(call.Action, call.ErrnoRet)
		if err != nil {
			return fmt.Errorf("exporting seccomp BPF: rule %d: %w", i, err)
		}
		if act == def {
			continue // redundant; libseccomp would refuse it
		}
		conds, perArg, err := scmpConditions(call.Args)
		if err != nil {
			return fmt.Errorf("exporting seccomp BPF: rule %d: %w", i, err)
		}
		for _, name := range call.Names {
			if skip != nil && skip(name) {
				continue
			}
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown to this libseccomp: skipped, as libcontainer does
			}
			if err := addRule(f, nr, act, conds, perArg); err != nil {
				return fmt.Errorf("exporting seccomp BPF: rule %d (%s): %w", i, name, err)
			}
		}
	}
	if err := f.ExportBPF(w); err != nil {
		return fmt.Errorf("exporting seccomp BPF: %w", err)
	}
	return nil
}

// addRule adds one OCI rule. perArg mirrors libcontainer's matchCall: if two
// conditions share an argument index, each condition becomes its own rule.
func addRule(f *libseccomp.ScmpFilter, nr libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition, perArg bool) error {
	switch {
	case len(conds) == 0:
		return f.AddRule(nr, act)
	case perArg:
		for _, c := range conds {
			if err := f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
				return err
			}
		}
		return nil
	default:
		return f.AddRuleConditional(nr, act, conds)
	}
}

func scmpConditions(args []specs.LinuxSeccompArg) ([]libseccomp.ScmpCondition, bool, error) {
	var (
		out    []libseccomp.ScmpCondition
		seen   = map[uint]bool{}
		perArg bool
	)
	for _, a := range args {
		op, ok := scmpOps[a.Op]
		if !ok {
			return nil, false, fmt.Errorf("unknown operator %q", a.Op)
		}
		// For MASKED_EQ, Value is the mask and ValueTwo the datum, which is
		// also libseccomp's argument order.
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, false, err
		}
		if seen[a.Index] {
			perArg = true
		}
		seen[a.Index] = true
		out = append(out, c)
	}
	return out, perArg, nil
}

var scmpOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// scmpAction converts an OCI action as libcontainer's getAction does: an
// errno action without errnoRet means EPERM.
func scmpAction(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		e := errEPERM
		if errnoRet != nil {
			e = *errnoRet
		}
		return libseccomp.ActErrno.SetReturnCode(int16(e)), nil
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("unsupported action %q", a)
}
