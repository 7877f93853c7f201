//go:build cgo && seccomp

package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// childEnv switches the re-executed test binary into the filtered child:
// its value is the policy name; the BPF program is on fd 3.
const childEnv = "NIXBOX_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if p := os.Getenv(childEnv); p != "" {
		os.Exit(filteredChild())
	}
	os.Exit(m.Run())
}

func exportTo(t *testing.T, o Options) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), o.name()+"-*.bpf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := ExportBPF(mustBuild(t, o), f); err != nil {
		t.Fatalf("ExportBPF(%s): %v", o.name(), err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExportBPF(t *testing.T) {
	for _, o := range allOptions {
		st, err := exportTo(t, o).Stat()
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 0 || st.Size()%8 != 0 || st.Size()/8 > 4096 {
			t.Errorf("%s: BPF is %d bytes; want a non-empty multiple of 8, at most 4096 instructions", o.name(), st.Size())
		}
		t.Logf("%s: %d BPF instructions", o.name(), st.Size()/8)
	}
	if err := ExportBPF(nil, os.Stdout); err == nil {
		t.Error("ExportBPF(nil) succeeded")
	}
}

// TestNamesKnownToLibseccomp lists the names the host's libseccomp cannot
// resolve (libcontainer drops them silently). For strict that only makes a
// call fail with ENOSYS/EPERM; for compat a dropped deny fails open, so
// every such name must be a documented gap.
func TestNamesKnownToLibseccomp(t *testing.T) {
	knownGaps := []string{"open_tree_attr"} // see the XXX in compatRules
	for _, o := range allOptions {
		var unknown []string
		for _, r := range mustBuild(t, o).Syscalls {
			for _, n := range r.Names {
				if _, err := libseccomp.GetSyscallFromName(n); err != nil && !slices.Contains(unknown, n) {
					unknown = append(unknown, n)
				}
			}
		}
		t.Logf("%s: names unknown to libseccomp %d.%d.%d: %v", o.name(), v()[0], v()[1], v()[2], unknown)
		if o.Policy == PolicyCompat {
			for _, n := range unknown {
				if !slices.Contains(knownGaps, n) {
					t.Errorf("compat: deny rule for %q is dropped by this libseccomp: the call is allowed", n)
				}
			}
		}
	}
}

func v() [3]uint {
	a, b, c := libseccomp.GetLibraryVersion()
	return [3]uint{a, b, c}
}

// probe is one harmless call: with bad fds or pointers it fails in the
// kernel after the seccomp check, so unfiltered it does nothing to the
// host (security suite §5).
type probe struct {
	name string
	nr   uintptr
	args [6]uintptr
	want syscall.Errno // 0: the call must succeed
}

const bad = 1 // an address no call can read

func probes(policy string) []probe {
	p := []probe{
		{"getpid", unix.SYS_GETPID, [6]uintptr{}, 0},
		{"ioctl-tiocsti-hibits", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), 0x123<<32 | tiocsti, bad}, unix.EPERM},
		{"ioctl-tiocsti", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), tiocsti, bad}, unix.EPERM},
		{"ioctl-tioclinux", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), tioclinux, bad}, unix.EPERM},
		{"ioctl-tcgets", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), unix.TCGETS, bad}, unix.EBADF},
		// KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING, create=0): read-only.
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{0, ^uintptr(2), 0}, unix.EPERM},
		{"add_key", unix.SYS_ADD_KEY, [6]uintptr{bad, bad, bad, 0, 0}, unix.EPERM},
		{"clone3", unix.SYS_CLONE3, [6]uintptr{bad, 88}, unix.ENOSYS},
		{"bpf", unix.SYS_BPF, [6]uintptr{unix.BPF_PROG_LOAD, bad, 0}, unix.EPERM},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{bad, 0, ^uintptr(0), ^uintptr(0), 0}, unix.EPERM},
		{"userfaultfd", unix.SYS_USERFAULTFD, [6]uintptr{^uintptr(0)}, unix.EPERM},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{1, bad}, unix.ENOSYS},
		{"fsopen", unix.SYS_FSOPEN, [6]uintptr{bad, 0}, unix.ENOSYS},
		{"open_tree", unix.SYS_OPEN_TREE, [6]uintptr{^uintptr(0), bad, 0}, unix.ENOSYS},
		{"mount", unix.SYS_MOUNT, [6]uintptr{bad, bad, bad, 0, 0}, unix.EPERM},
		{"umount2", unix.SYS_UMOUNT2, [6]uintptr{bad, 0}, unix.EPERM},
		// Harmless even unfiltered: it only affects this child, which is
		// multi-threaded (EINVAL) and already in a throwaway user namespace.
		{"unshare-newuser", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWUSER}, unix.EPERM},
		{"setns", unix.SYS_SETNS, [6]uintptr{^uintptr(0), 0}, unix.EPERM},
		{"ptrace-attach", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_ATTACH, 0x7ffffff0}, unix.EPERM},
		{"process_vm_readv", unix.SYS_PROCESS_VM_READV, [6]uintptr{0x7ffffff0, bad, 1, bad, 1, 0}, unix.EPERM},
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, [6]uintptr{^uintptr(0), bad, 0}, unix.EPERM},
		{"init_module", unix.SYS_INIT_MODULE, [6]uintptr{bad, 0, bad}, unix.EPERM},
		{"socket-inet", unix.SYS_SOCKET, [6]uintptr{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, unix.EAFNOSUPPORT},
		{"socket-unix", unix.SYS_SOCKET, [6]uintptr{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, 0},
		{"socket-netlink-route", unix.SYS_SOCKET, [6]uintptr{unix.AF_NETLINK, unix.SOCK_RAW | unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE}, 0},
		{"socket-netlink-audit", unix.SYS_SOCKET, [6]uintptr{unix.AF_NETLINK, unix.SOCK_RAW | unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT}, unix.EPROTONOSUPPORT},
		{"socketpair-inet", unix.SYS_SOCKETPAIR, [6]uintptr{unix.AF_INET, unix.SOCK_STREAM, 0, bad}, unix.EAFNOSUPPORT},
		{"personality-query", unix.SYS_PERSONALITY, [6]uintptr{0xffffffff}, 0},
		{"personality-addr-no-randomize", unix.SYS_PERSONALITY, [6]uintptr{0x0040000 /* ADDR_NO_RANDOMIZE */}, unix.EPERM},
		{"modify_ldt", unix.SYS_MODIFY_LDT, [6]uintptr{0, bad, 0}, unix.EPERM},
	}
	// sysfs(2) is in neither list: strict's default denies it, compat's
	// default lets the kernel see the bad pointer.
	sysfs := probe{"sysfs-default", unix.SYS_SYSFS, [6]uintptr{1, bad}, unix.EPERM}
	if policy == PolicyCompat {
		sysfs.want = unix.EFAULT
	}
	if policy == PolicyStrict+"-multiarch" {
		// allow_multiarch allows modify_ldt: reading 0 bytes of an
		// empty LDT returns 0.
		for i := range p {
			if p[i].name == "modify_ldt" {
				p[i].want = 0
			}
		}
	}
	return append(p, sysfs)
}

// filteredChild runs in the re-executed test binary, inside a fresh user,
// mount and network namespace. It loads the BPF from fd 3, proves the
// filter is active, then runs the probes and prints {name: errno} as JSON.
func filteredChild() int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "seccomp child: "+format+"\n", a...)
		return 3
	}
	prog, err := os.ReadFile("/proc/self/fd/3")
	if err != nil || len(prog) == 0 || len(prog)%8 != 0 {
		return fail("reading BPF from fd 3: %d bytes, %v", len(prog), err)
	}
	filter := unsafe.Slice((*unix.SockFilter)(unsafe.Pointer(&prog[0])), len(prog)/8)
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	runtime.LockOSThread() // NO_NEW_PRIVS is per thread; TSYNC spreads both
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail("PR_SET_NO_NEW_PRIVS: %v", err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fail("seccomp(SET_MODE_FILTER, TSYNC): %v", e)
	}
	runtime.KeepAlive(prog)
	// Never probe unfiltered: the kernel must confirm the filter first.
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fail("reading /proc/self/status: %v", err)
	}
	if !bytes.Contains(status, []byte("\nSeccomp:\t2\n")) || !bytes.Contains(status, []byte("\nNoNewPrivs:\t1\n")) {
		return fail("filter not active, refusing to probe:\n%s", status)
	}
	res := map[string]int{}
	for _, p := range probes(os.Getenv(childEnv)) {
		r, _, e := unix.RawSyscall6(p.nr, p.args[0], p.args[1], p.args[2], p.args[3], p.args[4], p.args[5])
		res[p.name] = int(e)
		if e == 0 && p.nr == unix.SYS_SOCKET {
			unix.Close(int(r))
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return fail("%v", err)
	}
	return 0
}

// TestFilterInChild applies each exported policy to a child process in a
// throwaway user namespace and checks the errno of every probe (security
// suite §5: the same errno table as a full sandbox, without a container).
func TestFilterInChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{Policy: PolicyStrict}, {Policy: PolicyCompat}, {Policy: PolicyStrict, AllowMultiarch: true}} {
		t.Run(o.name(), func(t *testing.T) {
			bpf := exportTo(t, o)
			prog, err := os.ReadFile(bpf.Name())
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+o.name())
			cmd.ExtraFiles = []*os.File{bpf} // fd 3
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWNET,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
				Pdeathsig:   syscall.SIGKILL,
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				skipOrFail(t, fmt.Sprintf("cannot start a child in a new user namespace (%v); "+
					"enable unprivileged user namespaces (user.max_user_namespaces, "+
					"kernel.unprivileged_userns_clone, AppArmor's restrict_unprivileged_userns)", err))
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("filtered child: %v\nstderr:\n%s", err, stderr.String())
			}
			var got map[string]int
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("child output %q: %v (stderr %s)", stdout.String(), err, stderr.String())
			}
			decided := 0
			for _, p := range probes(o.name()) {
				e, ok := got[p.name]
				if !ok {
					t.Errorf("probe %s: no result", p.name)
					continue
				}
				if syscall.Errno(e) != p.want {
					t.Errorf("probe %s: errno %d (%v), want %d (%v)", p.name, e, syscall.Errno(e), int(p.want), errOrOK(p.want))
				}
				// The interpreter the i386 tests rely on must agree
				// with the kernel on the same program and input.
				var args [6]uint64
				for i, a := range p.args {
					args[i] = uint64(a)
				}
				v, err := runBPF(prog, seccompData{nr: uint32(p.nr), arch: unix.AUDIT_ARCH_X86_64, args: args})
				if err != nil {
					t.Fatalf("runBPF(%s): %v", p.name, err)
				}
				switch want, isErrno := verdict(v).errnoOf(); {
				case isErrno:
					decided++
					if syscall.Errno(e) != want {
						t.Errorf("probe %s: the kernel says errno %d, runBPF says %v", p.name, e, verdict(v))
					}
				case v != unix.SECCOMP_RET_ALLOW:
					t.Errorf("probe %s: runBPF says %v; the child survived with errno %d", p.name, verdict(v), e)
				case syscall.Errno(e) == unix.EPERM && p.nr != unix.SYS_UNSHARE:
					// An allowed probe that fails with EPERM is a sign
					// that the filter, not the kernel, answered.
					t.Errorf("probe %s: runBPF says ALLOW, the kernel EPERM", p.name)
				}
			}
			if decided < 10 {
				t.Errorf("only %d probes decided by the filter; the interpreter check proves little", decided)
			}
			t.Logf("runBPF agrees with the kernel on %d probes (%d decided by the filter)", len(probes(o.name())), decided)
		})
	}
}

func errOrOK(e syscall.Errno) string {
	if e == 0 {
		return "success"
	}
	return e.Error()
}

// skipOrFail skips loudly, except under CI=true, where a skipped sandbox
// test is a failure (style.md §8.7).
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: refusing to skip: %s", reason)
	}
	t.Skipf("SKIP (loud): %s", reason)
}
