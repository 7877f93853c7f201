package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

var allOptions = []Options{
	{Policy: PolicyStrict},
	{Policy: PolicyStrict, Network: true},
	{Policy: PolicyCompat},
	{Policy: PolicyCompat, Network: true},
}

func (o Options) name() string {
	n := o.Policy
	if o.Network {
		n += "-network"
	}
	if o.AllowMultiarch {
		n += "-multiarch"
	}
	return n
}

func mustBuild(t *testing.T, o Options) *specs.LinuxSeccomp {
	t.Helper()
	s, err := Build(o)
	if err != nil {
		t.Fatalf("Build(%+v) error: %v", o, err)
	}
	return s
}

func TestBuildPolicyNames(t *testing.T) {
	t.Parallel()
	def := mustBuild(t, Options{})
	strict := mustBuild(t, Options{Policy: "strict"})
	if d := cmp.Diff(strict, def); d != "" {
		t.Errorf(`Build(Policy: "") differs from "strict" (-strict +default):\n%s`, d)
	}
	for _, p := range []string{"Strict", "permissive", "none", " strict", "unconfined"} {
		s, err := Build(Options{Policy: p})
		if !errors.Is(err, ErrUnknownPolicy) || s != nil {
			t.Errorf("Build(Policy: %q) = %v, %v; want nil, ErrUnknownPolicy", p, s, err)
		}
	}
}

func TestDefaultActionsAndArchitectures(t *testing.T) {
	t.Parallel()
	for _, o := range allOptions {
		s := mustBuild(t, o)
		// x86_64 only: i386 (int 0x80) and x32 get the bad-arch action
		// (security suite §7 rows for cases 36 and 37).
		if want := []specs.Arch{specs.ArchX86_64}; !slices.Equal(s.Architectures, want) {
			t.Errorf("%s: Architectures = %v, want %v", o.name(), s.Architectures, want)
		}
		if s.Flags != nil || s.ListenerPath != "" {
			t.Errorf("%s: unexpected Flags %v / ListenerPath %q", o.name(), s.Flags, s.ListenerPath)
		}
		switch o.Policy {
		case PolicyStrict:
			if s.DefaultAction != specs.ActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != errEPERM {
				t.Errorf("%s: default = %v/%v, want SCMP_ACT_ERRNO/EPERM", o.name(), s.DefaultAction, s.DefaultErrnoRet)
			}
		case PolicyCompat:
			if s.DefaultAction != specs.ActAllow || s.DefaultErrnoRet != nil {
				t.Errorf("%s: default = %v, want SCMP_ACT_ALLOW", o.name(), s.DefaultAction)
			}
		}
	}
}

// call is one syscall with its arguments, for the §7 table.
type call struct {
	name string
	args [6]uint64
}

func c(name string, args ...uint64) call {
	var a [6]uint64
	copy(a[:], args)
	return call{name, a}
}

const hi = uint64(0x123) << 32 // junk in the upper half of a 64-bit register

// TestSection7 checks the expected outcome per syscall of security suite §7
// (and the cases of §4 it cites) against the generated data, for both
// policies, with and without network.
func TestSection7(t *testing.T) {
	t.Parallel()
	var (
		EPERM    = errno(errEPERM)
		ENOSYS   = errno(errENOSYS)
		EAFNOSUP = errno(errEAFNOSUPPORT)
		EPROTO   = errno(errEPROTONOSUPPORT)
		ALLOW    = allowed
	)
	type row struct {
		name           string
		calls          []call
		strict, compat outcome
	}
	var rows []row
	add := func(name string, strict, compat outcome, calls ...call) {
		rows = append(rows, row{name, calls, strict, compat})
	}
	namesOf := func(ns ...string) []call {
		var cs []call
		for _, n := range ns {
			cs = append(cs, c(n, 1, 1, 1, 1, 1, 1))
		}
		return cs
	}

	// Cases 21, 22, 24.
	add("namespaces and mounts", EPERM, EPERM, append(namesOf("unshare", "setns", "chroot", "mount", "umount2", "pivot_root"),
		c("unshare", unix.CLONE_NEWUSER), c("unshare", 0),
		c("clone", unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), c("clone", unix.CLONE_NEWNS),
		c("clone", unix.CLONE_NEWNET), c("clone", unix.CLONE_NEWPID), c("clone", unix.CLONE_NEWIPC),
		c("clone", unix.CLONE_NEWUTS), c("clone", unix.CLONE_NEWCGROUP), c("clone", hi|unix.CLONE_NEWUSER),
		c("clone", 0xffffffffffffffff))...)
	add("clone without namespace flags", ALLOW, ALLOW,
		c("clone", uint64(unix.SIGCHLD)),
		c("clone", unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|unix.CLONE_THREAD|
			unix.CLONE_SYSVSEM|unix.CLONE_SETTLS|unix.CLONE_PARENT_SETTID|unix.CLONE_CHILD_CLEARTID),
		c("clone", unix.CLONE_VFORK|unix.CLONE_VM|uint64(unix.SIGCHLD)))
	// Case 23.
	add("clone3", ENOSYS, ENOSYS, c("clone3", 1, 88), c("clone3", 0, 0))
	// Case 25.
	add("new mount API", ENOSYS, ENOSYS, namesOf("open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
		"fspick", "mount_setattr", "open_tree_attr")...)
	// Cases 18-20 (CVE-2017-5226, CVE-2019-10063, CVE-2023-28100).
	add("ioctl TIOCSTI/TIOCLINUX", EPERM, EPERM,
		c("ioctl", 0, tiocsti, 1), c("ioctl", ^uint64(0), hi|tiocsti, 1), c("ioctl", 0, 1<<32|tiocsti),
		c("ioctl", 0, 0xffffffff00000000|tiocsti), c("ioctl", 0, tioclinux), c("ioctl", 0, hi|tioclinux))
	add("other ioctls", ALLOW, ALLOW,
		c("ioctl", 0, unix.TCGETS), c("ioctl", 0, unix.TIOCGWINSZ), c("ioctl", 0, unix.TIOCINQ),
		c("ioctl", 0, 0), c("ioctl", 0, 0xffffffff), c("ioctl", 0, hi|unix.TCGETS),
		c("ioctl", 0, tiocsti+1), c("ioctl", 0, tiocsti^0x2), c("ioctl", 0, tioclinux^0x10000),
		c("ioctl", 0, unix.TIOCSCTTY), c("ioctl", 0, 0x541D))
	// Case 27.
	add("keyring", EPERM, EPERM, namesOf("keyctl", "add_key", "request_key")...)
	// Cases 28-30.
	add("bpf, perf, userfaultfd", EPERM, EPERM, namesOf("bpf", "perf_event_open", "userfaultfd")...)
	// Case 31 (pinned: ENOSYS).
	add("io_uring", ENOSYS, ENOSYS, namesOf("io_uring_setup", "io_uring_enter", "io_uring_register")...)
	// Case 32.
	add("personality other than PER_LINUX or query", EPERM, EPERM,
		c("personality", 0x0400000), // READ_IMPLIES_EXEC
		c("personality", 0x0040000), // ADDR_NO_RANDOMIZE
		c("personality", 0x0008),    // PER_LINUX32
		c("personality", 0x0020000), // UNAME26 (Docker allows)
		c("personality", 0x0020008),
		c("personality", 1), c("personality", 0x80000000), c("personality", 0x7fffffff),
		c("personality", 0xfffffffe), c("personality", hi|0x0040000))
	add("personality PER_LINUX or query", ALLOW, ALLOW,
		c("personality", 0), c("personality", 0xffffffff),
		// The kernel takes an unsigned int: these are PER_LINUX and the query.
		c("personality", 1<<32), c("personality", 0xffffffffffffffff))
	// Cases 41, 44.
	add("ptrace family", EPERM, EPERM, namesOf("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd")...)
	// Case 33.
	add("host-global admin", EPERM, EPERM, namesOf("kexec_load", "kexec_file_load", "init_module", "finit_module",
		"delete_module", "reboot", "swapon", "swapoff", "acct", "syslog", "settimeofday", "clock_settime",
		"clock_adjtime", "adjtimex", "iopl", "ioperm", "quotactl", "quotactl_fd", "open_by_handle_at",
		"lookup_dcookie", "uselib", "vhangup", "nfsservctl", "mbind", "set_mempolicy", "get_mempolicy",
		"set_mempolicy_home_node", "move_pages", "migrate_pages")...)
	// Case 34.
	var exotic []call
	for _, f := range []uint64{unix.AF_UNSPEC, unix.AF_PACKET, unix.AF_ALG, unix.AF_VSOCK, unix.AF_KEY, unix.AF_TIPC,
		unix.AF_RDS, unix.AF_BLUETOOTH, unix.AF_CAN, unix.AF_XDP, unix.AF_NFC, unix.AF_APPLETALK, unix.AF_X25,
		unix.AF_NETROM, unix.AF_MAX, 0x7fffffff, 0xffffffff, 1 << 32, 1<<32 | unix.AF_UNIX, 1<<32 | unix.AF_INET,
		0xffffffffffffffff} {
		exotic = append(exotic, c("socket", f, unix.SOCK_STREAM, 0))
	}
	exotic = append(exotic, c("socketpair", unix.AF_INET, unix.SOCK_STREAM), c("socketpair", unix.AF_NETLINK),
		c("socketpair", 1<<32|unix.AF_UNIX))
	add("exotic socket families", EAFNOSUP, EAFNOSUP, exotic...)
	add("unix and netlink route sockets", ALLOW, ALLOW,
		c("socket", unix.AF_UNIX, unix.SOCK_STREAM), c("socket", unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC),
		c("socket", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE),
		c("socketpair", unix.AF_UNIX, unix.SOCK_STREAM))
	add("other netlink protocols", EPROTO, EPROTO,
		c("socket", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_SOCK_DIAG),
		c("socket", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT),
		c("socket", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_KOBJECT_UEVENT),
		c("socket", unix.AF_NETLINK, unix.SOCK_RAW, 1<<32))
	// Case 38 (no multiarch).
	add("modify_ldt", EPERM, EPERM, namesOf("modify_ldt")...)
	add("ordinary calls", ALLOW, ALLOW, namesOf("read", "write", "openat", "getpid", "arch_prctl", "futex",
		"rseq", "clock_gettime", "execve", "mmap", "seccomp", "landlock_create_ruleset")...)

	for _, o := range allOptions {
		s := mustBuild(t, o)
		for _, r := range rows {
			want := r.strict
			if o.Policy == PolicyCompat {
				want = r.compat
			}
			for _, cl := range r.calls {
				for _, skip := range []bool{true, false} {
					got, err := evaluate(s, cl.name, cl.args, skip)
					if err != nil {
						t.Errorf("%s: %s: %v", o.name(), r.name, err)
					} else if got != want {
						t.Errorf("%s: %s: %s%#x = %v, want %v", o.name(), r.name, cl.name, cl.args[:3], got, want)
					}
				}
			}
		}
	}
}

// TestNetworkTogglesINETOnly: Network changes the outcome of socket for
// AF_INET and AF_INET6 and nothing else.
func TestNetworkTogglesINETOnly(t *testing.T) {
	t.Parallel()
	for _, p := range []string{PolicyStrict, PolicyCompat} {
		off := mustBuild(t, Options{Policy: p})
		on := mustBuild(t, Options{Policy: p, Network: true})
		for f := uint64(0); f < 64; f++ {
			for _, name := range []string{"socket", "socketpair"} {
				args := [6]uint64{f, unix.SOCK_STREAM, 0}
				a, err1 := evaluate(off, name, args, true)
				b, err2 := evaluate(on, name, args, true)
				if err1 != nil || err2 != nil {
					t.Fatalf("%s: %v %v", p, err1, err2)
				}
				inet := name == "socket" && (f == unix.AF_INET || f == unix.AF_INET6)
				switch {
				case inet && (a != errno(errEAFNOSUPPORT) || b != allowed):
					t.Errorf("%s: %s(%d): network off %v, on %v; want EAFNOSUPPORT, ALLOW", p, name, f, a, b)
				case !inet && a != b:
					t.Errorf("%s: %s(%d): network off %v, on %v; want equal", p, name, f, a, b)
				}
			}
		}
		// Apart from socket rules, the data is identical.
		strip := func(s *specs.LinuxSeccomp) []specs.LinuxSyscall {
			return slices.DeleteFunc(slices.Clone(s.Syscalls), func(r specs.LinuxSyscall) bool {
				return slices.Equal(r.Names, []string{"socket"})
			})
		}
		if d := cmp.Diff(strip(off), strip(on)); d != "" {
			t.Errorf("%s: non-socket rules differ with Network (-off +on):\n%s", p, d)
		}
	}
}

// TestIoctlRulesAreMasked32 guards CVE-2019-10063: the kernel truncates the
// ioctl cmd to 32 bits, so a 64-bit SCMP_CMP_EQ (or any non-masked compare)
// on it is bypassed by setting high bits. Every ioctl condition must be a
// MASKED_EQ whose mask has no high bits.
func TestIoctlRulesAreMasked32(t *testing.T) {
	t.Parallel()
	for _, o := range allOptions {
		for i, r := range mustBuild(t, o).Syscalls {
			if !slices.Contains(r.Names, "ioctl") {
				continue
			}
			if len(r.Names) != 1 {
				t.Errorf("%s: rule %d mixes ioctl with %v", o.name(), i, r.Names)
			}
			for _, a := range r.Args {
				if a.Op == specs.OpEqualTo {
					t.Errorf("%s: rule %d: SCMP_CMP_EQ on ioctl arg %d (CVE-2019-10063)", o.name(), i, a.Index)
				}
				if a.Op != specs.OpMaskedEqual || a.Value&^mask32 != 0 || a.ValueTwo&^a.Value != 0 {
					t.Errorf("%s: rule %d: ioctl condition %+v is not a 32-bit masked compare", o.name(), i, a)
				}
			}
		}
	}
	// The golden check of case 19: the TIOCSTI rule, spelled the OCI way.
	want := specs.LinuxSeccompArg{Index: 1, Value: 4294967295, ValueTwo: 21522, Op: specs.OpMaskedEqual}
	for _, o := range allOptions {
		found := false
		for _, r := range mustBuild(t, o).Syscalls {
			if slices.Equal(r.Names, []string{"ioctl"}) && r.Action == specs.ActErrno &&
				len(r.Args) == 1 && r.Args[0] == want && *r.ErrnoRet == errEPERM {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no EPERM rule with %+v", o.name(), want)
		}
	}
}

// interesting returns argument values worth probing for s: every value and
// datum used by a rule, its neighbours, with and without high bits, and some
// random values.
func interesting(s *specs.LinuxSeccomp, rnd *rand.Rand) []uint64 {
	set := map[uint64]bool{0: true, 1: true, 0xffffffff: true, 1 << 32: true, ^uint64(0): true}
	for _, r := range s.Syscalls {
		for _, a := range r.Args {
			for _, v := range []uint64{a.Value, a.ValueTwo} {
				for _, w := range []uint64{v, v + 1, v - 1, v ^ a.Value, ^v} {
					set[w], set[w|hi], set[w&mask32] = true, true, true
				}
			}
		}
	}
	for i := 0; i < 50; i++ {
		set[rnd.Uint64()], set[rnd.Uint64()&mask32], set[rnd.Uint64()&0xff] = true, true, true
	}
	out := make([]uint64, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// TestRulesNeverConflict: no argument vector matches two rules with
// different outcomes, so neither libseccomp's precedence nor libcontainer
// dropping default-equal rules changes what a policy does.
func TestRulesNeverConflict(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, o := range allOptions {
		s := mustBuild(t, o)
		vals := interesting(s, rnd)
		names := map[string]bool{}
		for _, r := range s.Syscalls {
			if len(r.Args) > 0 {
				for _, n := range r.Names {
					names[n] = true
				}
			}
		}
		for n := range names {
			for _, a0 := range vals {
				for _, v := range []uint64{a0, 0, 9} {
					for _, args := range [][6]uint64{{a0, a0, v}, {v, a0, a0}, {a0, v, v}} {
						raw, err := evaluate(s, n, args, false)
						if err != nil {
							t.Fatalf("%s: %v", o.name(), err)
						}
						if eff, _ := evaluate(s, n, args, true); eff != raw {
							t.Fatalf("%s: %s%x: with default-equal rules dropped %v, else %v", o.name(), n, args, eff, raw)
						}
					}
				}
			}
		}
	}
}

func TestComplementCover32(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, excl := range [][]uint64{{tiocsti, tioclinux}, {tiocsti}, {0, 0xff}, {5, 6, 7, 0x80000005}} {
		cover := complementCover32(excl)
		in := func(v uint64) bool {
			for _, m := range cover {
				if v&m.mask == m.datum {
					return true
				}
			}
			return false
		}
		check := func(v uint64) {
			want := !slices.Contains(excl, v&mask32)
			if got := in(v); got != want {
				t.Fatalf("cover of %#x: %#x covered = %v, want %v", excl, v, got, want)
			}
		}
		for _, e := range excl {
			for _, h := range []uint64{0, hi, ^uint64(mask32)} {
				check(e | h)
				for b := 0; b < 32; b++ {
					check((e ^ 1<<b) | h)
				}
			}
		}
		for i := 0; i < 1<<16; i++ {
			check(uint64(i))
			check(rnd.Uint64())
		}
	}
}

func TestDeterministicOutput(t *testing.T) {
	t.Parallel()
	for _, o := range allOptions {
		a, _ := json.Marshal(mustBuild(t, o))
		b, _ := json.Marshal(mustBuild(t, o))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two Builds marshal differently", o.name())
		}
		// Round trip: unmarshal and marshal again, byte-identical.
		var s specs.LinuxSeccomp
		if err := json.Unmarshal(a, &s); err != nil {
			t.Fatal(err)
		}
		if c, _ := json.Marshal(&s); !bytes.Equal(a, c) {
			t.Errorf("%s: JSON round trip not byte-identical", o.name())
		}
	}
}

// TestGolden compares the rendered policies with testdata/<policy>.golden.json;
// run with -update to rewrite them.
func TestGolden(t *testing.T) {
	for _, o := range append(slices.Clone(allOptions), Options{Policy: PolicyStrict, AllowMultiarch: true}) {
		got, err := json.MarshalIndent(mustBuild(t, o), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", o.name()+".golden.json")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./seccomp -update)", err)
		}
		if !bytes.Equal(got, want) {
			gotPath := strings.TrimSuffix(path, ".golden.json") + ".got.json"
			_ = os.WriteFile(gotPath, got, 0o644)
			t.Errorf("%s differs from Build output, written to %s (-golden +got):\n%s", path, gotPath,
				cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")))
		}
	}
}

func TestAllNamesKnown(t *testing.T) {
	t.Parallel()
	for _, o := range allOptions {
		for _, r := range mustBuild(t, o).Syscalls {
			for _, n := range r.Names {
				if !KnownSyscall(n) {
					t.Errorf("%s: rule names %q, which is not an x86_64 syscall", o.name(), n)
				}
			}
			if !slices.IsSorted(r.Names) && len(r.Names) > 1 && r.Action == specs.ActAllow {
				t.Errorf("%s: allow names not sorted", o.name())
			}
		}
	}
	for _, n := range []string{"stime", "umount", "socketcall", "chown32", "", "READ", "nosuchcall"} {
		if KnownSyscall(n) {
			t.Errorf("KnownSyscall(%q) = true, want false", n)
		}
	}
	// Spot-check the generated table against x/sys.
	for n, nr := range map[string]int{"read": unix.SYS_READ, "ioctl": unix.SYS_IOCTL, "clone3": unix.SYS_CLONE3,
		"futex_requeue": unix.SYS_FUTEX_REQUEUE, "open_tree_attr": unix.SYS_OPEN_TREE_ATTR,
		"io_uring_setup": unix.SYS_IO_URING_SETUP, "arch_prctl": unix.SYS_ARCH_PRCTL} {
		if got := sysnumX86_64[n]; got != nr {
			t.Errorf("sysnumX86_64[%q] = %d, want %d", n, got, nr)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	strict, compat := Names(PolicyStrict), Names(PolicyCompat)
	t.Logf("strict allows %d names, compat %d (of %d x86_64 syscalls)", len(strict), len(compat), len(sysnumX86_64))
	if !slices.Equal(Names(""), strict) || Names("bogus") != nil {
		t.Errorf(`Names("") must equal Names("strict"), Names("bogus") must be nil`)
	}
	for _, ns := range [][]string{strict, compat} {
		if !slices.IsSorted(ns) || len(slices.Compact(slices.Clone(ns))) != len(ns) {
			t.Errorf("Names not sorted and unique")
		}
		for _, want := range []string{"read", "ioctl", "clone", "socket", "personality", "arch_prctl"} {
			if !slices.Contains(ns, want) {
				t.Errorf("Names lacks %q", want)
			}
		}
		for _, bad := range append(slices.Clone(neverAllow), enosys...) {
			if slices.Contains(ns, bad) {
				t.Errorf("Names contains denied %q", bad)
			}
		}
	}
	// Strict is a subset of compat: anything strict allows, compat allows.
	for _, n := range strict {
		if !slices.Contains(compat, n) {
			t.Errorf("strict allows %q but compat does not", n)
		}
	}
	// Strict = Docker's unconditional list (300 x86_64 names) - adjtimex,
	// clock_adjtime + arch_prctl; plus the argument-filtered five.
	if len(strict) != 302 {
		t.Errorf("strict allows %d names, want 302; update the count and the report", len(strict))
	}
}
