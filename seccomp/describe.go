package seccomp

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Describe renders s for people: the default action, the architectures and
// what happens to other ABIs and to syscalls newer than the list, the names
// allowed with any arguments (sorted, wrapped), every argument-filtered
// rule in words, and the unconditional denies grouped by outcome. It reads
// only s, so it describes whatever a policy (and its knobs) produced; the
// output is deterministic. It does not know the host's libseccomp: names it
// cannot resolve, and the exact number where the ENOSYS stub starts, are
// the caller's to add (see Compile).
func Describe(s *specs.LinuxSeccomp) string {
	var b strings.Builder
	if s == nil {
		b.WriteString("no seccomp filter\n")
		return b.String()
	}
	def := outcomeOf(s.DefaultAction, s.DefaultErrnoRet)
	allowDefault := s.DefaultAction == specs.ActAllow
	switch {
	case allowDefault:
		fmt.Fprintf(&b, "default action: allow (a denylist: every syscall not denied below runs)\n")
	case s.DefaultAction == specs.ActLog:
		fmt.Fprintf(&b, "default action: allow and log (learning mode: every syscall not allowed or denied\n"+
			"  below runs, and the kernel logs it)\n")
	default:
		fmt.Fprintf(&b, "default action: %s (an allowlist: every syscall not allowed below)\n", def)
	}

	// Architectures and the other ABIs.
	var arches []string
	has := map[specs.Arch]bool{}
	for _, a := range s.Architectures {
		has[a] = true
		arches = append(arches, archName(a))
	}
	fmt.Fprintf(&b, "architectures: %s\n", strings.Join(arches, ", "))
	if has[specs.ArchX86] {
		fmt.Fprintf(&b, "  i386 (int $0x80): filtered by the same rules, with i386 numbers (allow_multiarch);\n"+
			"    socketcall and ipc sub-calls get their direct call's outcome, except that\n"+
			"    socketcall(SYS_SOCKET/SYS_SOCKETPAIR) is judged as AF_UNIX: its family is in\n"+
			"    memory, so 32-bit code can open any socket family through it\n")
	} else {
		fmt.Fprintf(&b, "  i386 (int $0x80): the calling thread is killed with SIGSYS (bad-arch action);\n"+
			"    on a kernel without ia32 emulation, int $0x80 faults with SIGSEGV before any filter\n")
	}
	if has[specs.ArchX32] {
		fmt.Fprintf(&b, "  x32 (nr | 0x40000000): filtered by the same rules, with x32 numbers\n")
	} else {
		fmt.Fprintf(&b, "  x32 (nr | 0x40000000): the calling thread is killed with SIGSYS (bad-arch action)\n")
	}
	if allowDefault {
		fmt.Fprintf(&b, "unknown or newer syscalls: allowed (not on the denylist; the blocklist's known weakness)\n")
	} else {
		fmt.Fprintf(&b, "unknown or newer syscalls: ENOSYS for numbers above the highest syscall the policy\n"+
			"  names (runc-style stub, so libc falls back); other unlisted syscalls: %s\n", def)
	}

	// Unconditional rules, by outcome; conditional ones by syscall.
	uncond := map[string][]string{}
	var outcomes []string
	type group struct {
		name    string
		outcome string
		rules   []specs.LinuxSyscall
	}
	var groups []*group
	for _, r := range s.Syscalls {
		o := outcomeOf(r.Action, r.ErrnoRet)
		if len(r.Args) == 0 {
			if _, ok := uncond[o]; !ok {
				outcomes = append(outcomes, o)
			}
			uncond[o] = append(uncond[o], r.Names...)
			continue
		}
		for _, n := range r.Names {
			i := slices.IndexFunc(groups, func(g *group) bool { return g.name == n && g.outcome == o })
			if i < 0 {
				groups = append(groups, &group{name: n, outcome: o})
				i = len(groups) - 1
			}
			groups[i].rules = append(groups[i].rules, r)
		}
	}
	allowed := uniqSorted(uncond["allow"])
	if allowDefault {
		fmt.Fprintf(&b, "\nallowed: every syscall not denied below\n")
	} else {
		fmt.Fprintf(&b, "\nallowed with any arguments (%d):\n", len(allowed))
		wrapNames(&b, allowed)
	}

	if len(groups) > 0 {
		// Sort by syscall name; within a name, allow first, then as listed.
		slices.SortStableFunc(groups, func(x, y *group) int {
			if c := strings.Compare(x.name, y.name); c != 0 {
				return c
			}
			return boolInt(y.outcome == "allow") - boolInt(x.outcome == "allow")
		})
		fmt.Fprintf(&b, "\nargument filters (arguments are numbered from 0):\n")
		for _, g := range groups {
			for _, line := range describeGroup(g.name, g.outcome, g.rules) {
				fmt.Fprintf(&b, "  %s: %s\n", g.name, line)
			}
		}
	}

	var denied []string
	for _, o := range outcomes {
		if o != "allow" {
			denied = append(denied, o)
		}
	}
	if len(denied) > 0 {
		fmt.Fprintf(&b, "\ndenied with any arguments:\n")
		for _, o := range denied {
			names := uniqSorted(uncond[o])
			note := ""
			if o == def && !allowDefault {
				note = " (the default anyway: listed to document the decision)"
			}
			fmt.Fprintf(&b, "  %s: %d names%s\n", o, len(names), note)
			wrapNames(&b, names)
		}
	}
	return b.String()
}

// outcomeOf names an OCI action as it is enforced (libcontainer's
// conversion: errno without errnoRet is EPERM, kill is kill-thread).
func outcomeOf(a specs.LinuxSeccompAction, errnoRet *uint) string {
	switch a {
	case specs.ActAllow:
		return "allow"
	case specs.ActErrno:
		e := errEPERM
		if errnoRet != nil {
			e = *errnoRet
		}
		return errnoString(e)
	case specs.ActKill, specs.ActKillThread:
		return "kill the thread (SIGSYS)"
	case specs.ActKillProcess:
		return "kill the process (SIGSYS)"
	case specs.ActTrap:
		return "SIGSYS (trap)"
	case specs.ActLog:
		return "allow and log"
	}
	return string(a)
}

var errnoNames = map[uint]string{
	1: "EPERM", 13: "EACCES", 38: "ENOSYS", 93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
}

func errnoString(e uint) string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return "errno " + strconv.FormatUint(uint64(e), 10)
}

func archName(a specs.Arch) string {
	switch a {
	case specs.ArchX86_64:
		return "x86_64"
	case specs.ArchX86:
		return "i386"
	case specs.ArchX32:
		return "x32"
	}
	return strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
}

// argNames names the arguments that have a usual name; others are argN.
var argNames = map[string]map[uint]string{
	"clone":       {0: "flags"},
	"unshare":     {0: "flags"},
	"socket":      {0: "family", 2: "protocol"},
	"socketpair":  {0: "family"},
	"personality": {0: "persona"},
}

func argName(sys string, i uint) string {
	if n, ok := argNames[sys][i]; ok {
		return n
	}
	return "arg" + strconv.FormatUint(uint64(i), 10)
}

// valueNames annotate values of an argument.
var valueNames = map[string]map[uint]map[uint64]string{
	"ioctl":       {1: {tiocsti: "TIOCSTI", tioclinux: "TIOCLINUX"}},
	"personality": {0: {0: "PER_LINUX", 0xffffffff: "query", 0x8: "PER_LINUX32", 0x20000: "UNAME26"}},
	"socket": {
		0: {0: "AF_UNSPEC", afUNIX: "AF_UNIX", afINET: "AF_INET", afINET6: "AF_INET6", afNETLINK: "AF_NETLINK",
			17: "AF_PACKET", 38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP"},
		2: {netlinkROUTE: "NETLINK_ROUTE"},
	},
	"socketpair": {0: {afUNIX: "AF_UNIX"}},
}

// flagNames annotate single bits of a flags argument.
var flagNames = map[string]map[uint]map[uint64]string{
	"clone": {0: {cloneNEWNS: "CLONE_NEWNS", cloneNEWCGROUP: "CLONE_NEWCGROUP", cloneNEWUTS: "CLONE_NEWUTS",
		cloneNEWIPC: "CLONE_NEWIPC", cloneNEWUSER: "CLONE_NEWUSER", cloneNEWPID: "CLONE_NEWPID", cloneNEWNET: "CLONE_NEWNET"}},
}

func init() { flagNames["unshare"] = flagNames["clone"] }

func hexv(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// value renders v with its name, if it has one.
func value(sys string, i uint, v uint64, hex bool) string {
	s := strconv.FormatUint(v, 10)
	if hex {
		s = hexv(v)
	}
	if n, ok := valueNames[sys][i][v]; ok {
		return s + " (" + n + ")"
	}
	return s
}

// maskNote explains a flags mask: "(no namespace flags)" for clone's.
func maskNote(sys string, i uint, mask uint64) string {
	names := flagNames[sys][i]
	if names == nil {
		return ""
	}
	var ns []string
	for m := mask; m != 0; m &= m - 1 {
		bit := m & -m
		n, ok := names[bit]
		if !ok {
			return ""
		}
		ns = append(ns, n)
	}
	if mask == cloneNSFlags && (sys == "clone" || sys == "unshare") {
		return "namespace flags"
	}
	return strings.Join(ns, "|")
}

// cube is arg & mask == datum, with the datum inside the mask.
type cube struct{ mask, datum uint64 }

// asCube returns the one-condition rule as a cube, if it is one.
func asCube(r specs.LinuxSyscall) (uint, cube, bool) {
	if len(r.Args) != 1 {
		return 0, cube{}, false
	}
	a := r.Args[0]
	switch a.Op {
	case specs.OpEqualTo:
		return a.Index, cube{^uint64(0), a.Value}, true
	case specs.OpMaskedEqual:
		if a.ValueTwo&^a.Value != 0 {
			return 0, cube{}, false // never matches; shown literally
		}
		return a.Index, cube{a.Value, a.ValueTwo}, true
	}
	return 0, cube{}, false
}

// complement returns cubes whose union is the complement of the union of
// cs, or false if that takes more than limit cubes.
func complement(cs []cube, limit int) ([]cube, bool) {
	rest := []cube{{0, 0}}
	for _, c := range cs {
		var next []cube
		for _, r := range rest {
			common := r.mask & c.mask
			if r.datum&common != c.datum&common {
				next = append(next, r) // disjoint
				continue
			}
			// r minus c: split on each bit c fixes and r does not.
			cur := r
			for m := c.mask &^ r.mask; m != 0; m &= m - 1 {
				bit := m & -m
				next = append(next, cube{cur.mask | bit, cur.datum | (^c.datum & bit)})
				cur = cube{cur.mask | bit, cur.datum | (c.datum & bit)}
			}
			if len(next) > limit {
				return nil, false
			}
		}
		rest = next
	}
	return rest, true
}

// describeGroup renders the rules of one syscall with one outcome.
func describeGroup(sys, outcome string, rules []specs.LinuxSyscall) []string {
	var lines []string
	verb := outcome + " when "
	verbUnless := outcome + " unless "
	if outcome == "allow" {
		verb, verbUnless = "allowed when ", "allowed unless "
	}
	// One-condition equality rules on one argument: a union of cubes.
	byArg := map[uint][]cube{}
	var argOrder []uint
	var other []specs.LinuxSyscall
	for _, r := range rules {
		i, c, ok := asCube(r)
		if !ok {
			other = append(other, r)
			continue
		}
		if _, seen := byArg[i]; !seen {
			argOrder = append(argOrder, i)
		}
		byArg[i] = append(byArg[i], c)
	}
	for _, i := range argOrder {
		cs := byArg[i]
		if comp, ok := complement(cs, 256); ok && len(comp) < len(cs) {
			if len(comp) == 0 {
				lines = append(lines, strings.TrimSuffix(verb, " when ")+" for any "+argName(sys, i))
				continue
			}
			if len(comp) == 1 && comp[0].datum == 0 && bits.OnesCount64(comp[0].mask) > 1 {
				lines = append(lines, verb+anyBitSet(sys, i, comp[0].mask))
				continue
			}
			lines = append(lines, verbUnless+cubes(sys, i, comp))
			continue
		}
		lines = append(lines, verb+cubes(sys, i, cs))
	}
	for _, r := range other {
		var conds []string
		for _, a := range r.Args {
			conds = append(conds, cond(sys, a))
		}
		lines = append(lines, verb+strings.Join(conds, " and "))
	}
	if len(lines) == 1 && outcome == "allow" {
		if rest, ok := strings.CutPrefix(lines[0], "allowed when "); ok {
			lines[0] = "allowed only when " + rest
		}
	}
	return lines
}

// anyBitSet says "flags has any of 0x... set (CLONE_NEWNS|...)".
func anyBitSet(sys string, i uint, mask uint64) string {
	s := argName(sys, i) + " has any bit of " + hexv(mask) + " set"
	if n := maskNote(sys, i, mask); n != "" {
		s += " (" + n + ")"
	}
	return s
}

// cubes renders a union of cubes, grouping those with the same mask.
func cubes(sys string, i uint, cs []cube) string {
	var masks []uint64
	byMask := map[uint64][]uint64{}
	for _, c := range cs {
		if _, ok := byMask[c.mask]; !ok {
			masks = append(masks, c.mask)
		}
		byMask[c.mask] = append(byMask[c.mask], c.datum)
	}
	var parts []string
	for _, m := range masks {
		ds := byMask[m]
		slices.Sort(ds)
		ds = slices.Compact(ds)
		if m == ^uint64(0) {
			parts = append(parts, argName(sys, i)+" == "+valueList(sys, i, ds, false))
			continue
		}
		lhs := argName(sys, i) + " & " + hexv(m)
		if len(ds) == 1 && ds[0] == 0 {
			s := lhs + " == 0"
			if n := maskNote(sys, i, m); n != "" {
				s += " (no " + n + ")"
			}
			parts = append(parts, s)
			continue
		}
		if len(ds) == 1 && ds[0] == m {
			if n := maskNote(sys, i, m); n != "" {
				parts = append(parts, lhs+" == "+hexv(m)+" ("+n+")")
				continue
			}
		}
		parts = append(parts, lhs+" == "+valueList(sys, i, ds, true))
	}
	return strings.Join(parts, ", or ")
}

// valueList renders sorted values, with runs of 3 or more as ranges.
func valueList(sys string, i uint, ds []uint64, hex bool) string {
	var items []string
	for j := 0; j < len(ds); {
		k := j
		for k+1 < len(ds) && ds[k+1] == ds[k]+1 {
			k++
		}
		if k-j >= 2 {
			var named []string
			for _, v := range ds[j : k+1] {
				if n, ok := valueNames[sys][i][v]; ok {
					named = append(named, n)
				}
			}
			r := value(sys, i, ds[j], hex)
			r = strings.TrimSuffix(r, " ("+valueNames[sys][i][ds[j]]+")")
			item := fmt.Sprintf("%s-%s", r, strings.Fields(value(sys, i, ds[k], hex))[0])
			if len(named) > 0 {
				item += " (including " + strings.Join(named, ", ") + ")"
			}
			items = append(items, item)
			j = k + 1
			continue
		}
		for ; j <= k; j++ {
			items = append(items, value(sys, i, ds[j], hex))
		}
	}
	switch len(items) {
	case 1:
		return items[0]
	case 2:
		return items[0] + " or " + items[1]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

var opWords = map[specs.LinuxSeccompOperator]string{
	specs.OpNotEqual: "!=", specs.OpLessThan: "<", specs.OpLessEqual: "<=", specs.OpEqualTo: "==",
	specs.OpGreaterEqual: ">=", specs.OpGreaterThan: ">",
}

// cond renders one condition.
func cond(sys string, a specs.LinuxSeccompArg) string {
	if a.Op == specs.OpMaskedEqual {
		return fmt.Sprintf("%s & %s == %s", argName(sys, a.Index), hexv(a.Value), value(sys, a.Index, a.ValueTwo, true))
	}
	op, ok := opWords[a.Op]
	if !ok {
		op = string(a.Op)
	}
	v := strconv.FormatUint(a.Value, 10)
	if a.Op == specs.OpEqualTo || a.Op == specs.OpNotEqual {
		v = value(sys, a.Index, a.Value, false) // a name only where it is the value
	}
	return fmt.Sprintf("%s %s %s", argName(sys, a.Index), op, v)
}

// wrapNames writes names four spaces in, wrapped at 80 columns.
func wrapNames(b *strings.Builder, names []string) {
	const indent, width = "    ", 80
	line := indent
	for _, n := range names {
		if len(line) > len(indent) && len(line)+1+len(n) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += n
	}
	if len(line) > len(indent) {
		b.WriteString(line + "\n")
	}
}

func uniqSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
