package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// outcome is what a filter does with one call: allow, or fail with errno.
type outcome struct {
	allow bool
	errno uint
	kill  bool // SCMP_ACT_KILL_PROCESS (Options.Action "kill")
	log   bool // SCMP_ACT_LOG: allowed and logged (Options.Action "log")
}

func (o outcome) String() string {
	switch {
	case o.kill:
		return "KILL_PROCESS"
	case o.log:
		return "LOG"
	case o.allow:
		return "ALLOW"
	}
	return fmt.Sprintf("errno %d", o.errno)
}

var allowed = outcome{allow: true}

func errno(e uint) outcome { return outcome{errno: e} }

func actionOutcome(a specs.LinuxSeccompAction, e *uint) outcome {
	switch a {
	case specs.ActAllow:
		return allowed
	case specs.ActErrno:
		if e == nil {
			return errno(errEPERM) // libcontainer's default errno
		}
		return errno(*e)
	case specs.ActKillProcess:
		return outcome{kill: true}
	case specs.ActLog:
		return outcome{allow: true, log: true}
	}
	panic("action not used by nixbox policies: " + string(a))
}

func argMatches(a specs.LinuxSeccompArg, args [6]uint64) bool {
	v := args[a.Index]
	switch a.Op {
	case specs.OpEqualTo:
		return v == a.Value
	case specs.OpNotEqual:
		return v != a.Value
	case specs.OpGreaterEqual:
		return v >= a.Value
	case specs.OpGreaterThan:
		return v > a.Value
	case specs.OpLessThan:
		return v < a.Value
	case specs.OpLessEqual:
		return v <= a.Value
	case specs.OpMaskedEqual:
		return v&a.Value == a.ValueTwo
	}
	panic("unknown op " + string(a.Op))
}

// ruleMatches applies libcontainer v1.5.2's matchCall semantics: conditions
// on distinct argument indexes are ANDed; if any index has two or more
// conditions, each condition becomes a rule of its own (ORed).
func ruleMatches(r specs.LinuxSyscall, args [6]uint64) bool {
	if len(r.Args) == 0 {
		return true
	}
	seen := map[uint]bool{}
	multi := false
	for _, a := range r.Args {
		if seen[a.Index] {
			multi = true
		}
		seen[a.Index] = true
	}
	if multi {
		for _, a := range r.Args {
			if argMatches(a, args) {
				return true
			}
		}
		return false
	}
	for _, a := range r.Args {
		if !argMatches(a, args) {
			return false
		}
	}
	return true
}

// evaluate returns what s does with name(args). With skipDefault it drops
// rules whose outcome equals the default, as libcontainer does; without it,
// every rule in the data counts (to check the documentation-only rules too).
// It returns an error when rules with different outcomes both match: such a
// result would depend on libseccomp's precedence rules, which nixbox's
// policies must never rely on.
func evaluate(s *specs.LinuxSeccomp, name string, args [6]uint64, skipDefault bool) (outcome, error) {
	def := actionOutcome(s.DefaultAction, s.DefaultErrnoRet)
	var got []outcome
	var idx []int
	for i, r := range s.Syscalls {
		o := actionOutcome(r.Action, r.ErrnoRet)
		if skipDefault && o == def {
			continue
		}
		for _, n := range r.Names {
			if n == name && ruleMatches(r, args) {
				got = append(got, o)
				idx = append(idx, i)
			}
		}
	}
	if len(got) == 0 {
		return def, nil
	}
	for j, o := range got[1:] {
		if o != got[0] {
			return got[0], fmt.Errorf("%s%x: rules %d (%v) and %d (%v) both match", name, args, idx[0], got[0], idx[j+1], o)
		}
	}
	return got[0], nil
}
