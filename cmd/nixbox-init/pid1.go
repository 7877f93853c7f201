package main

// PID 1 -- everything nixbox-init does as the sandbox's first process once
// the store is assembled -- is done here, in C, from the stage-1
// constructor (store.go), and never returns to Go: the Go runtime is never
// started in PID 1 (issue 6: starting it, and enabling its ~65 signal
// handlers one channel round trip at a time, cost ~11 ms of every start).
// The app's stage 2 runs in PID 1's forked child, through the same C code
// that `nixbox enter`'s re-exec runs (userns.go nixbox_stage2_run), with no
// second exec of nixbox-init. In order:
//
//	block every signal               before anything else of PID 1: a
//	                                 blocked signal is queued, never dropped
//	                                 by the kernel's PID-1 rule
//	reset every disposition to SIG_DFL
//	                                 SIGCHLD must not be ignored (children
//	                                 would be reaped for us); an inherited
//	                                 SIG_IGN must not reach the app
//	parse "--uid U --gid G [--allow-userns] -- ARGV" (main.go parseArgs)
//	check the /proc/sys clone is there exactly when capping (sysctl.go)
//	check_store, nixbox_check_init_caps
//	                                 check rather than trust what the
//	                                 constructor did
//	close_range(3, ~0, CLOEXEC)      CVE-2024-21626
//	signalfd(every signal, CLOEXEC)
//	fd 3 a pipe or socket: write 'R', read 'G'
//	                                 ready (signals are queued from here
//	                                 on), then nixbox's go-ahead
//	fork; in the child: setpgid(0, 0); with a terminal on stdin,
//	tcsetpgrp (SIGTTOU still blocked); only 0, 1, 2 and the /proc/sys
//	clone as 3 kept open; empty signal mask; stage 2 (userns.go)
//	poll(signalfd, fd 3)             SIGCHLD: reap; the app's end: kill
//	                                 every process, exit with its status;
//	                                 other signals: forwarded to the app;
//	                                 EOF on fd 3: kill every process,
//	                                 exit 137
//
// The messages and exit codes are main.go's (125 for nixbox-init's own
// errors, the app's status otherwise, 128+N when it was killed by signal
// N).

/*
#cgo CFLAGS: -O2 -Wall
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/magic.h>

// Exit codes shared with nixbox (main.go).
#define EXIT_INIT_ERROR 125

// The descriptor nixbox passes as the launcher-death socket
// (runtime/sandbox watchSocket).
#define WATCH_FD 3

#define STORE_DIR "/nix/store"
#define STAGING_PATH "/.nixbox/store"

// The kernel's signal numbers run from 1 to 64.
#define MAX_SIG 64

// sysctl.go: the /proc/sys clone for stage 2, or -1.
extern int nixbox_sysctl_fd;
// userns.go: stage 2; never returns.
__attribute__((noreturn)) void nixbox_stage2_run(long uid, long gid, int sysctl_fd, char **app);

// userns.go: "nixbox: error: MESSAGE", then exit with code.
__attribute__((format(printf, 2, 3), noreturn)) void nixbox_fail(int code, const char *fmt, ...);

// parse_id: a decimal uid or gid, 0..2^31-1 (main.go parseArgs).
static int parse_id(const char *s, long *out) {
	long v = 0;
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (*s - '0');
		if (v > 0x7fffffffL)
			return 0;
	}
	*out = v;
	return 1;
}

// check_store checks, in constant time whatever the closure's size, what
// assemble() left (store.go): nothing is mounted at the staging path (it
// is absent or an empty directory), and /nix/store is the root of a tmpfs
// mount that is read-only, nosuid and nodev. Every member was mounted on
// that tmpfs by a move_mount that succeeded, and mount_setattr made the
// whole tree read-only, nosuid and nodev; the integration tests walk the
// real mountinfo (TestStoreAssembled, escape case 2). Reading mountinfo
// here would cost a few microseconds per store path at every start.
static void check_store(void) {
#define STORE_FAIL(...) nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: the assembled store: " __VA_ARGS__)
	struct statx stx;
	if (statx(AT_FDCWD, STAGING_PATH, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0) {
		if (errno != ENOENT)
			STORE_FAIL("%s: %s", STAGING_PATH, strerror(errno));
	} else if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
		STORE_FAIL("%s: the kernel does not say whether it is a mount point", STAGING_PATH);
	} else if (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) {
		STORE_FAIL("%s is still mounted: the whole store would be visible", STAGING_PATH);
	} else if (!S_ISDIR(stx.stx_mode)) {
		STORE_FAIL("%s is not a directory", STAGING_PATH);
	} else {
		DIR *d = opendir(STAGING_PATH);
		if (!d)
			STORE_FAIL("%s: %s", STAGING_PATH, strerror(errno));
		struct dirent *e;
		errno = 0;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				STORE_FAIL("%s is not empty (%s)", STAGING_PATH, e->d_name);
		if (errno)
			STORE_FAIL("%s: %s", STAGING_PATH, strerror(errno));
		closedir(d);
	}
	if (statx(AT_FDCWD, STORE_DIR, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
		STORE_FAIL("%s: %s", STORE_DIR, strerror(errno));
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		STORE_FAIL("%s is not a mount point", STORE_DIR);
	struct statfs sfs;
	if (statfs(STORE_DIR, &sfs) < 0)
		STORE_FAIL("%s: %s", STORE_DIR, strerror(errno));
	long want = ST_RDONLY | ST_NOSUID | ST_NODEV;
	if (sfs.f_type != TMPFS_MAGIC || (sfs.f_flags & want) != want)
		STORE_FAIL("%s is not a read-only, nosuid, nodev tmpfs (type %#lx, flags %#lx)", STORE_DIR,
			   (unsigned long)sfs.f_type, (unsigned long)sfs.f_flags);
#undef STORE_FAIL
}

// nixbox_check_init_caps checks what drop_assembly_caps left (store.go):
// CAP_SETFCAP at most in the bounding, permitted and effective sets,
// nothing inheritable or ambient. It runs in the constructor, before any
// other thread exists, so these sets are the whole process's. Used by PID
// 1 (below) and by `nixbox enter` (store.go's constructor, --enter).
void nixbox_check_init_caps(void) {
#define CAPS_FAIL(...) nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: capabilities left after the store assembly: " __VA_ARGS__)
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) < 0)
		CAPS_FAIL("reading them: %s", strerror(errno));
	uint32_t allowed = 1u << CAP_SETFCAP;
	if ((data[0].effective & ~allowed) || data[1].effective)
		CAPS_FAIL("CapEff is %08x%08x", data[1].effective, data[0].effective);
	if ((data[0].permitted & ~allowed) || data[1].permitted)
		CAPS_FAIL("CapPrm is %08x%08x", data[1].permitted, data[0].permitted);
	if (data[0].inheritable || data[1].inheritable)
		CAPS_FAIL("CapInh is %08x%08x", data[1].inheritable, data[0].inheritable);
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (cap != CAP_SETFCAP && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0)
			CAPS_FAIL("the bounding set holds capability %d", cap);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
			CAPS_FAIL("the ambient set holds capability %d", cap);
	}
#undef CAPS_FAIL
}

static int is_pipe(int fd) {
	struct stat st;
	return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

// forwarded: the signals PID 1 passes to the app. SIGCHLD is PID 1's own
// (the reaping below); the terminal delivers job-control and resize
// signals to the app's foreground group directly. SIGURG is not forwarded
// either, as before (the Go runtime used it for itself): its default is
// to be ignored, and an app that wants it asks for it with F_SETOWN on
// its own socket, which never names PID 1.
static int forwarded(int sig) {
	switch (sig) {
	case SIGCHLD: case SIGURG: case SIGWINCH: case SIGTTIN: case SIGTTOU: case SIGTSTP:
		return 0;
	}
	return 1;
}

// reap waits for every child that has ended: orphans the kernel gave PID
// 1, and the app. When the app has ended, so has the sandbox.
static void reap(pid_t app) {
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w == 0)
			return;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return;
			nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: waiting for the app: %s", strerror(errno));
		}
		if (w != app)
			continue; // a reparented orphan
		int code;
		if (WIFEXITED(st))
			code = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			code = 128 + WTERMSIG(st);
		else
			continue;
		// The app is done: end whatever it left running.
		kill(-1, SIGKILL);
		_exit(code);
	}
}

// nixbox_pid1_run is PID 1 from the end of the store assembly on; the
// stage-1 constructor (store.go) calls it for "--uid ..." as PID 1. It
// never returns.
__attribute__((noreturn)) void nixbox_pid1_run(int argc, char **argv) {
	// Block every signal, SIGKILL and SIGSTOP aside (the kernel refuses),
	// before anything else: a blocked signal is queued for PID 1 even
	// with the default disposition the kernel's PID-1 rule would drop it
	// under, and read from the signalfd below. The raw system call, since
	// glibc's sigprocmask leaves out its two internal signals (32 and 33),
	// which a single-threaded PID 1 does not use and forwards like any
	// other.
	uint64_t all = ~(uint64_t)0, none = 0;
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all) < 0)
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: blocking signals: %s", strerror(errno));
	// Every disposition back to the default: an ignored SIGCHLD would
	// have the kernel reap the app for us (no exit status), and an
	// ignored signal stays ignored across the app's execve. Handlers were
	// never installed (no Go runtime). glibc refuses 32 and 33 (EINVAL).
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig <= MAX_SIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, &dfl, NULL) < 0 && errno != EINVAL)
			nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: resetting signal %d: %s", sig, strerror(errno));

	// The argument layout of main.go parseArgs (which is the reference,
	// tested in main_test.go): "--uid U --gid G [--allow-userns] -- ARGV".
	long uid, gid;
	int at = 5;
	int allow_userns = argc > 5 && !strcmp(argv[5], "--allow-userns");
	at += allow_userns;
	if (argc < at + 2 || strcmp(argv[1], "--uid") || strcmp(argv[3], "--gid") || strcmp(argv[at], "--") ||
	    !parse_id(argv[2], &uid) || !parse_id(argv[4], &gid))
		nixbox_fail(EXIT_INIT_ERROR,
			  "nixbox-init: usage: nixbox-init --uid UID --gid GID [--allow-userns] -- PROGRAM [ARGS...]");
	char **app_argv = argv + at + 1;

	// The /proc/sys clone for stage 2 (sysctl.go). Check rather than
	// trust: a missing descriptor would start the app without its cap.
	// It must not be 0, 1 or 2 either, which the app inherits.
	int sysctl_fd = nixbox_sysctl_fd;
	nixbox_sysctl_fd = -1;
	if (allow_userns && sysctl_fd >= 0)
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: a /proc/sys descriptor was opened with --allow-userns");
	if (!allow_userns && sysctl_fd < 0)
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: no /proc/sys descriptor to cap the app's user namespaces");
	if (sysctl_fd >= 0 && sysctl_fd <= 2)
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: the /proc/sys descriptor is %d, one of the app's stdio", sysctl_fd);

	// The constructor assembled /nix/store and dropped what that needed;
	// check rather than trust, before reporting ready.
	check_store();
	nixbox_check_init_caps();

	// Every descriptor above stderr, the watch socket included, is
	// close-on-exec, so the app inherits only 0, 1 and 2 (CVE-2024-21626:
	// a leaked fd is a way out). The child also closes them all (below).
	int watching = is_pipe(WATCH_FD);
	if (syscall(SYS_close_range, WATCH_FD, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: marking descriptors close-on-exec: %s", strerror(errno));
	sigset_t mask;
	memset(&mask, 0xff, sizeof mask);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: signalfd: %s", strerror(errno));

	if (watching) {
		// Ready: signals are queued (until the app runs). Then wait for
		// nixbox's go-ahead: it checks the sandbox's mounts and cgroup
		// before anything of the app runs. EOF means nixbox died.
		ssize_t n;
		do
			n = write(WATCH_FD, "R", 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: telling nixbox it is ready: %s",
				  n < 0 ? strerror(errno) : "short write");
		char b = 0;
		do
			n = read(WATCH_FD, &b, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1 || b != 'G')
			nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: nixbox did not let the app start");
	}

	struct termios tio;
	int tty = ioctl(0, TCGETS, &tio) == 0;
	pid_t app = fork();
	if (app < 0)
		nixbox_fail(EXIT_INIT_ERROR, "starting the app's user namespace: fork: %s", strerror(errno));
	if (app == 0) {
		// The app's process: its own process group, in the foreground
		// with a terminal, so Ctrl-C and Ctrl-Z reach it and job control
		// works. tcsetpgrp from a background group needs SIGTTOU
		// blocked, which it still is.
		if (setpgid(0, 0) < 0)
			nixbox_fail(EXIT_INIT_ERROR, "starting the app's user namespace: setpgid: %s", strerror(errno));
		pid_t me = getpid();
		if (tty && ioctl(0, TIOCSPGRP, &me) < 0)
			nixbox_fail(EXIT_INIT_ERROR, "starting the app's user namespace: making it the terminal's foreground: %s",
				  strerror(errno));
		// Only 0, 1, 2 and the /proc/sys clone (as 3, which stage 2
		// closes before it drops its capabilities) stay open: the watch
		// socket and the signalfd are PID 1's alone (close-on-exec too,
		// but nothing is left to chance before the app's execve).
		int first = WATCH_FD;
		if (sysctl_fd >= 0) {
			if (sysctl_fd != WATCH_FD && dup2(sysctl_fd, WATCH_FD) < 0)
				nixbox_fail(EXIT_INIT_ERROR, "starting the app's user namespace: dup2: %s", strerror(errno));
			first = WATCH_FD + 1;
		}
		if (syscall(SYS_close_range, first, ~0U, 0) < 0)
			nixbox_fail(EXIT_INIT_ERROR, "starting the app's user namespace: close_range: %s", strerror(errno));
		// A blocked mask is inherited across execve: the app starts with
		// none blocked, as it did from the stage-2 exec before.
		// Dispositions are the defaults already (above).
		if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none) < 0)
			nixbox_fail(EXIT_INIT_ERROR, "starting the app's user namespace: unblocking signals: %s", strerror(errno));
		nixbox_stage2_run(uid, gid, sysctl_fd >= 0 ? WATCH_FD : -1, app_argv);
	}
	// Stage 2 has its own copy of the /proc/sys clone now.
	if (sysctl_fd >= 0)
		close(sysctl_fd);

	struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN}, {.fd = WATCH_FD, .events = POLLIN}};
	for (;;) {
		if (poll(pfd, watching ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: waiting for the app: poll: %s", strerror(errno));
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si[16];
			ssize_t n = read(sfd, si, sizeof si);
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				nixbox_fail(EXIT_INIT_ERROR, "nixbox-init: reading signals: %s", strerror(errno));
			for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof si[0]; i++) {
				int sig = (int)si[i].ssi_signo;
				if (sig == SIGCHLD)
					reap(app);
				else if (forwarded(sig))
					kill(app, sig);
			}
		}
		if (watching && pfd[1].revents) {
			char buf[64];
			ssize_t n = read(WATCH_FD, buf, sizeof buf);
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				// The launcher is gone: take the whole sandbox down.
				kill(-1, SIGKILL);
				_exit(128 + SIGKILL);
			}
		}
	}
}
*/
import "C"
