package main

// Stage 2 -- everything between stage 1's fork and the app's execve -- is
// done here, in C, with no Go runtime: only a single-threaded process may
// unshare(CLONE_NEWUSER), only the process that holds the new namespace's
// capabilities can clear its capability bounding set, which every new user
// namespace starts with full (security suite case 39; bubblewrap does the
// same), and Go's ForkExec cannot run code between clone and exec.
// nixbox_stage2_run does all of stage 2 and never returns. It runs in two
// places:
//   - the sandbox's PID 1 (pid1.go, itself C from the stage-1
//     constructor) forks and calls it in the child, the /proc/sys clone
//     as fd 3 when capping;
//   - `nixbox enter` (main.go enter, in Go) runs nixbox-init again as
//     "nixbox-init --stage2 --uid U --gid G [--cap-userns] -- ARGV", and
//     the constructor below, seeing --stage2, calls it (--cap-userns: the
//     clone is fd 3).
//
// The caller hands over one thread, an empty signal mask and default
// signal dispositions (an execve keeps the mask and ignored signals). Then:
//
//	unshare(CLONE_NEWUSER)           new namespace, full caps in it
//	setgroups deny; uid_map "U 0 1"; gid_map "G 0 1"
//	                                 the user's ids, mapped to the outer
//	                                 namespace's 0 (the invoking user)
//	when capping: user/max_user_namespaces = 0 through fd 3, a
//	writable clone of /proc/sys; check it reads 0; close fd 3
//	                                 no nested user namespace, even
//	                                 without seccomp (sysctl.go)
//	PR_CAPBSET_DROP every cap; clear ambient, inheritable, permitted,
//	effective                        nothing left to regain
//	check every set is empty         check rather than trust
//	check the working directory      CVE-2024-21626
//	PR_SET_NO_NEW_PRIVS; seccomp(SET_MODE_FILTER) of /.nixbox/seccomp.bpf
//	execve(ARGV)                     the app, filtered from its first
//	                                 instruction
//
// Doing it in C rather than in a second Go runtime saves that runtime's
// start (and every package init) at each launch, and it narrows what runs
// between the filter and the app to the execve itself: no Go scheduler,
// no other thread (so the filter's TSYNC has nothing to synchronise, and
// no thread can be left without the filter). Any failure exits 125 (126 or
// 127 when the app cannot be executed or is missing, as a shell does)
// before the app can start: the app never runs unfiltered or with a
// capability. Mapping the outer 0 needs CAP_SETFCAP at unshare time, which
// the spec grants nixbox-init alone.

/*
#cgo CFLAGS: -O2 -Wall
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

extern char **environ;

// Exit codes shared with nixbox (main.go).
#define EXIT_INIT_ERROR 125
#define EXIT_NOT_EXECUTABLE 126
#define EXIT_NOT_FOUND 127

// The compiled filter nixbox binds into every sandbox (main.go seccompPath).
#define SECCOMP_PATH "/.nixbox/seccomp.bpf"
// The kernel's limit on a classic-BPF program (BPF_MAXINSNS).
#define MAX_INSNS 4096
#define MAX_USERNS "user/max_user_namespaces"

static void die(const char *what) {
	fprintf(stderr, "nixbox: error: nixbox-init: %s: %s\n", what, strerror(errno));
	_exit(EXIT_INIT_ERROR);
}

// nixbox_fail prints "nixbox: error: MESSAGE" and exits with code; shared
// with PID 1 (pid1.go).
__attribute__((format(printf, 2, 3), noreturn)) void nixbox_fail(int code, const char *fmt, ...) {
	char msg[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	// One write, so the line is not interleaved with the app's output.
	dprintf(2, "nixbox: error: %s\n", msg);
	_exit(code);
}

static void write_file(const char *path, const char *data) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) die(path);
	size_t n = strlen(data);
	if (write(fd, data, n) != (ssize_t)n) die(path);
	close(fd);
}

// open_sysctl opens MAX_USERNS beneath the /proc/sys clone sysctl_fd: no
// symlink, no other mount, nothing outside it.
static int open_sysctl(int sysctl_fd, int flags) {
	struct open_how how = {
		.flags = flags | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd = syscall(SYS_openat2, sysctl_fd, MAX_USERNS, &how, sizeof how);
	if (fd < 0) die("capping the app's user namespaces: opening " MAX_USERNS);
	return fd;
}

// cap_userns sets user.max_user_namespaces to 0 in this process's new user
// namespace (the app's), where it holds every capability, CAP_SYS_RESOURCE
// included: the kernel reads and writes the sysctl of the caller's own
// namespace and checks the limit in every ancestor of a new one, so the
// app, which gets no capability, can create no user namespace and cannot
// raise the limit (security suite case 21; why, in sysctl.go). Fail
// closed: any error exits 125 before the app exists. sysctl_fd is closed
// here, before anything else runs, so the app never inherits it.
static void cap_userns(int sysctl_fd) {
	struct statfs sfs;
	if (fstatfs(sysctl_fd, &sfs) < 0) die("capping the app's user namespaces: the /proc/sys descriptor");
	if (sfs.f_type != PROC_SUPER_MAGIC)
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: capping the app's user namespaces: fd %d is not /proc/sys", sysctl_fd);
	int fd = open_sysctl(sysctl_fd, O_WRONLY);
	if (write(fd, "0", 1) != 1) die("capping the app's user namespaces: writing " MAX_USERNS);
	if (close(fd) < 0) die("capping the app's user namespaces: writing " MAX_USERNS);
	// Check rather than trust: this namespace's value, read back.
	char buf[32];
	fd = open_sysctl(sysctl_fd, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n < 0) die("capping the app's user namespaces: reading " MAX_USERNS);
	if (close(fd) < 0) die("capping the app's user namespaces: reading " MAX_USERNS);
	buf[n] = 0;
	if (strcmp(buf, "0\n"))
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: capping the app's user namespaces: " MAX_USERNS " reads %.20s, not 0", buf);
	if (close(sysctl_fd) < 0) die("capping the app's user namespaces: closing /proc/sys");
}

static long parse_id(const char *s) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 0x7fffffffL) {
		errno = EINVAL;
		die("bad id");
	}
	return v;
}

// nixbox_stage2_run is all of stage 2, in the process that becomes the
// app: PID 1's forked child (pid1.go), or `nixbox enter`'s re-exec of
// nixbox-init (the --stage2 constructor below). It must run
// single-threaded, with an empty signal mask and default dispositions
// (the caller's job: both are inherited across execve), and it never
// returns. sysctl_fd is the writable /proc/sys clone when the app's
// user namespaces are capped, else -1.
__attribute__((noreturn)) void nixbox_stage2_run(long uid, long gid, int sysctl_fd, char **app) {
	char map[64];
	if (unshare(CLONE_NEWUSER) < 0) die("creating the app's user namespace");
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%ld 0 1", uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "%ld 0 1", gid);
	write_file("/proc/self/gid_map", map);
	if (sysctl_fd >= 0) cap_userns(sysctl_fd);

	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) die("dropping the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		die("clearing ambient capabilities");
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) < 0) die("dropping capabilities");

	// Every set was cleared above; with no_new_privs (below) no execve can
	// gain any back. Check rather than trust.
	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) < 0) die("reading capabilities");
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			nixbox_fail(EXIT_INIT_ERROR, "capabilities left before exec: the effective, permitted or inheritable set is not empty");
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0)
			nixbox_fail(EXIT_INIT_ERROR, "capabilities left before exec: the bounding set holds capability %d", cap);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
			nixbox_fail(EXIT_INIT_ERROR, "capabilities left before exec: the ambient set holds capability %d", cap);
	}

	// CVE-2024-21626: a working directory reached through a leaked host
	// descriptor shows as "(unreachable)/..." or fails. Refuse to start the
	// app anywhere but inside the sandbox's own tree. The raw syscall, not
	// glibc's getcwd, so the kernel's answer is what is checked.
	char wd[4096];
	long wn = syscall(SYS_getcwd, wd, sizeof wd);
	if (wn <= 0 || wd[0] != '/')
		nixbox_fail(EXIT_INIT_ERROR, "the working directory is outside the sandbox (%s: %s)", wn > 0 ? wd : "?",
		     wn < 0 ? strerror(errno) : "not absolute");

	// The filter: struct sock_filter records in host byte order, as nixbox
	// compiled them. One byte more than the limit is read to tell a too
	// long program from one that fits.
	static struct sock_filter insns[MAX_INSNS + 1];
	int fd = open(SECCOMP_PATH, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		nixbox_fail(EXIT_INIT_ERROR, "loading the seccomp filter %s: %s", SECCOMP_PATH, strerror(errno));
	size_t got = 0;
	char *buf = (char *)insns;
	while (got < sizeof insns) {
		ssize_t r = read(fd, buf + got, sizeof insns - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) nixbox_fail(EXIT_INIT_ERROR, "loading the seccomp filter %s: %s", SECCOMP_PATH, strerror(errno));
		if (r == 0) break;
		got += (size_t)r;
	}
	close(fd);
	if (got == 0 || got % sizeof(struct sock_filter) || got / sizeof(struct sock_filter) > MAX_INSNS)
		nixbox_fail(EXIT_INIT_ERROR, "loading the seccomp filter %s: %s", SECCOMP_PATH,
		     "not a BPF program of 1..4096 instructions");
	struct sock_fprog prog = {
		.len = (unsigned short)(got / sizeof(struct sock_filter)),
		.filter = insns,
	};
	// no_new_privs first: the kernel requires it for an unprivileged
	// filter, and it keeps any setuid/file-cap execve from gaining back
	// what was dropped. Fail closed: never exec the app without its filter.
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		nixbox_fail(EXIT_INIT_ERROR, "loading the seccomp filter %s: no_new_privs: %s", SECCOMP_PATH, strerror(errno));
	// TSYNC is moot in this single-threaded constructor, but keeps the
	// guarantee if that ever changes: a thread that cannot be synchronised
	// makes the call fail (its tid is returned), and the app does not start.
	long sr = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (sr != 0)
		nixbox_fail(EXIT_INIT_ERROR, "loading the seccomp filter %s: %s", SECCOMP_PATH,
		     sr < 0 ? strerror(errno) : "a thread could not be synchronized to the filter");

	// From here on only the filtered execve and, if it fails, the error
	// report run.
	execve(app[0], app, environ);
	int e = errno;
	if (e == ENOENT)
		nixbox_fail(EXIT_NOT_FOUND, "%s: command not found in the sandbox", app[0]);
	if (e == EACCES || e == ENOEXEC || e == EISDIR)
		nixbox_fail(EXIT_NOT_EXECUTABLE, "%s: cannot execute: %s", app[0], strerror(e));
	nixbox_fail(EXIT_INIT_ERROR, "starting %s: %s", app[0], strerror(e));
}

// Where `nixbox enter`'s stage 1 passes its writable clone of /proc/sys
// with --cap-userns (main.go startApp).
#define SYSCTL_FD 3

__attribute__((constructor)) static void nixbox_stage2(int argc, char **argv) {
	if (argc < 7 || strcmp(argv[1], "--stage2") || strcmp(argv[2], "--uid") || strcmp(argv[4], "--gid"))
		return;
	long uid = parse_id(argv[3]), gid = parse_id(argv[5]);
	// The argument layout is fixed by stage 1 (main.go startApp).
	int capped = !strcmp(argv[6], "--cap-userns");
	if (argc < 8 + capped || strcmp(argv[6 + capped], "--"))
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: bad stage-2 arguments");
	nixbox_stage2_run(uid, gid, capped ? SYSCTL_FD : -1, argv + 7 + capped);
}
*/
import "C"
