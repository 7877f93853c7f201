//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"slices"
	"strings"
	"syscall"
	"testing"

	h "github.com/nixbox/nixbox/integration/harness"
)

// The [seccomp] knobs in real sandboxes: for each knob, nbx-probe runs
// under a profile extending default with that knob, and its outcomes are
// compared with the strict baseline. The cases the knob names must change
// as documented (docs/profiles.md); every other case, which covers every
// other row of security suite §7 and the controls, must be identical.

// knobProbe is one knob under test.
type knobProbe struct {
	name    string
	profile string // the [seccomp] table
	// changed maps each case the knob names to a check of its new
	// outcome; all other cases must equal the baseline.
	changed map[string]func(c probeCase) bool
}

// notFilterEPERM: the call reached the kernel, which rejected the
// probe's bad arguments with its own errno (EPERM would be the filter's).
func notFilterEPERM(c probeCase) bool { return c.Errno > 0 && c.Errno != int(syscall.EPERM) }

func errnoIs(e syscall.Errno) func(probeCase) bool {
	return func(c probeCase) bool { return c.Errno == int(e) }
}

func killedBySIGSYS(c probeCase) bool { return c.Errno == -1 && c.Signal == int(syscall.SIGSYS) }

// ranInKernel: the call reached the kernel and was not refused with the
// filter's EPERM (modify_ldt reading an empty LDT and personality return
// 0).
func ranInKernel(c probeCase) bool { return c.Errno >= 0 && c.Errno != int(syscall.EPERM) }

func casesWith(check func(probeCase) bool, names ...string) map[string]func(probeCase) bool {
	m := map[string]func(probeCase) bool{}
	for _, n := range names {
		m[n] = check
	}
	return m
}

func knobProbes(t *testing.T) []knobProbe {
	userns := casesWith(notFilterEPERM, "unshare", "unshare-newns", "clone-newuser", "clone-newns",
		"clone-newpid", "clone-newnet", "clone-newuts", "clone-newipc", "clone-newcgroup", "chroot")
	// With real arguments a nested user namespace is created: under this
	// knob nixbox-init does not cap user.max_user_namespaces in the app's
	// namespace (cmd/nixbox-init/sysctl.go), as it does otherwise (escape
	// case 21, where the no-seccomp build gets ENOSPC).
	userns["unshare-newuser"] = errnoIs(0)
	userns["clone-newuser-real"] = errnoIs(0)
	kill := casesWith(killedBySIGSYS)
	for _, row := range section7 {
		if slices.Equal(row.strict, ePERM) {
			for _, c := range row.cases {
				kill[c] = killedBySIGSYS
			}
		}
	}
	// pivot_root and the admin calls the kernel would refuse with EPERM
	// anyway are denied by the filter first, so they are killed too.
	return []knobProbe{
		{"allow_ptrace", "allow_ptrace = true\n",
			casesWith(notFilterEPERM, "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd")},
		{"allow_perf", "allow_perf = true\n",
			// flags = -1: the kernel says EINVAL before it reads attr.
			map[string]func(probeCase) bool{"perf_event_open": errnoIs(syscall.EINVAL)}},
		{"allow_userns", "allow_userns = true\n", userns},
		{"allow_keyctl_unsafe", "allow = [\"keyctl\"]\nunsafe = \"integration test\"\n",
			map[string]func(probeCase) bool{"keyctl": notFilterEPERM}},
		{"deny_getppid", "deny = [\"getppid\"]\n",
			map[string]func(probeCase) bool{"ctl-getppid": errnoIs(syscall.EPERM)}},
		// deny resets: a deny of ptrace beats allow_ptrace.
		{"allow_ptrace_deny_ptrace", "allow_ptrace = true\ndeny = [\"ptrace\"]\n",
			casesWith(notFilterEPERM, "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd")},
		{"action_kill", "action = \"kill\"\n", kill},
		// i386 getpid: allowed, like x86_64's, where the kernel runs
		// int $0x80; elsewhere the same fault as unfiltered on the host.
		{"allow_multiarch", "allow_multiarch = true\n", map[string]func(probeCase) bool{
			"modify_ldt": ranInKernel, "personality-linux32": ranInKernel, "i386-getpid": i386GetpidUnderMultiarch(t)}},
		// log: every probe case is decided by an explicit rule (never-
		// allow, argument filters, ENOSYS), so nothing changes.
		{"action_log", "action = \"log\"\n", nil},
	}
}

// probeRunProfile runs `nbx-probe arg` under the profile file prof.
func probeRunProfile(t *testing.T, r *h.Runner, prof, arg string) map[string]probeCase {
	t.Helper()
	res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "PROBE", "nbx-probe"), arg)
	if res.Code != 0 {
		t.Fatalf("nbx-probe %s under %s: %s", arg, prof, res)
	}
	m := map[string]probeCase{}
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	for sc.Scan() {
		var c probeCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("nbx-probe output line %q: %v", sc.Text(), err)
		}
		m[c.Case] = c
	}
	if len(m) == 0 {
		t.Fatalf("nbx-probe printed no cases: %s", res)
	}
	return m
}

// sameOutcome compares errno and signal, not the detail text.
func sameOutcome(a, b probeCase) bool { return a.Errno == b.Errno && a.Signal == b.Signal }

// TestSeccompKnobs: each knob loosens (or tightens) exactly the calls it
// names, for root and rootless.
func TestSeccompKnobs(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		base := probeRun(t, r, "strict", "syscalls")
		for _, k := range knobProbes(t) {
			t.Run(k.name, func(t *testing.T) {
				prof := h.WriteProfile(t, "knob-"+strings.ReplaceAll(k.name, "_", "-"),
					"version = 1\nextends = \"default\"\n[seccomp]\n"+k.profile)
				got := probeRunProfile(t, r, prof, "syscalls")
				for name, b := range base {
					g, ok := got[name]
					if !ok {
						t.Errorf("%s: no result under the knob", name)
						continue
					}
					if check, named := k.changed[name]; named {
						if !check(g) {
							t.Errorf("%s: got %s under %s (baseline %s): not the documented change", name, g, k.name, b)
						} else {
							t.Logf("%-24s %s -> %s", name, b, g)
						}
						continue
					}
					if name == "clone-newuser-real" || name == "unshare-newuser" || name == "nr-open_tree_attr" {
						// Informational only outside their own knob.
						if !sameOutcome(b, g) {
							t.Logf("%s: %s -> %s", name, b, g)
						}
						continue
					}
					if !sameOutcome(b, g) {
						t.Errorf("%s: changed from %s to %s, but %s does not name it", name, b, g, k.name)
					}
				}
				for name := range k.changed {
					if _, ok := base[name]; !ok {
						t.Errorf("%s: the probe has no such case", name)
					}
				}
			})
		}
	})
}

// i386GetpidUnderMultiarch is the check of the i386 getpid case (int $0x80)
// under allow_multiarch: where the host kernel executes int $0x80, getpid
// must be allowed (as on x86_64, never SIGSYS); where it does not, the
// case must show the host's own fault (SIGSEGV), and the test says so.
func i386GetpidUnderMultiarch(t *testing.T) func(probeCase) bool {
	if hostRunsI386(t) {
		return func(c probeCase) bool { return c.Errno == 0 && c.Signal == 0 }
	}
	t.Logf("NOTE: this kernel does not execute int $0x80 (host control: SIGSEGV); " +
		"allow_multiarch's i386 rules are checked on the compiled program by the seccomp package " +
		"(TestMultiarchI386SameAsX86_64), here only that i386 gets the host's own fault")
	return func(c probeCase) bool { return c.Errno == -1 && c.Signal == int(syscall.SIGSEGV) }
}

// TestSeccompKnobsRefused: the refused combinations never start the app
// (security suite §6.6).
func TestSeccompKnobsRefused(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		for _, tc := range []struct{ name, table, want string }{
			{"unknown-name", "allow = [\"ptrcae\"]\n", `unknown system call "ptrcae"`},
			{"never-allow", "allow = [\"unshare\"]\n", "needs seccomp.unsafe"},
			{"clone3", "deny = [\"clone3\"]\n", "clone3 must fail with ENOSYS"},
			{"multiarch-compat", "policy = \"compat\"\nallow_multiarch = true\n", "allow_multiarch needs the strict policy"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				prof := h.WriteProfile(t, "refused-"+tc.name, "version = 1\nextends = \"default\"\n[seccomp]\n"+tc.table)
				res := r.Run(t, "", "run", "--profile", prof, h.Bin(t, "PROBE", "nbx-probe"), "check")
				if res.Code == 0 || !strings.Contains(res.Stderr, tc.want) || res.Stdout != "" {
					t.Errorf("got %s; want a refusal mentioning %q and no output", res, tc.want)
				}
			})
		}
	})
}
