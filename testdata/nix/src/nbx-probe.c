/*
 * nbx-probe: the seccomp errno probe of the security suite (§5, §7).
 *
 * Usage (inside a nixbox sandbox only):
 *
 *   nbx-probe check      print the sandbox facts the guard checked
 *   nbx-probe syscalls   every row of §7, plus controls
 *   nbx-probe i386       int $0x80 getpid in a forked child
 *   nbx-probe x32        x32-numbered getpid/unshare in forked children
 *   nbx-probe run NAME.. only the named cases of `syscalls`
 *   nbx-probe int80      escape case 36: i386 calls through int $0x80
 *   nbx-probe sweep ABI  escape case 35: every number of ABI (x86_64, x32,
 *                        i386) up to the known maximum + 32 with all
 *                        arguments 1, in forked children (side-effecting
 *                        calls skipped); one line per number
 *
 * Every case prints one JSON line
 *   {"case":"...","errno":N,"signal":S,"detail":"..."}
 * errno is the errno the call returned, 0 if the kernel executed it, and -1
 * if the child running it died by a signal (then signal is that signal;
 * 31 = SIGSYS). The program exits 0 when it ran; the harness compares.
 *
 * Technique (§5): call with harmless bad arguments the kernel rejects
 * *after* the seccomp check (a pointer of 1 -> EFAULT, fd -1 -> EBADF, bad
 * flags -> EINVAL). An unfiltered call therefore fails harmlessly; a
 * filtered one returns the policy errno or dies with SIGSYS. Every case runs
 * in its own forked child, so a SIGSYS or a surprise success stays there;
 * the few calls that need real arguments (unshare(CLONE_NEWUSER), clone
 * with CLONE_NEWUSER, personality(PER_LINUX32)) change only that child.
 *
 * Guard: it refuses to run (exit 99) unless it is plainly inside a sandbox:
 * seccomp filter mode (Seccomp: 2), no_new_privs, not in the initial user
 * namespace, a small pid and PID 1 named nixbox-init or init. An
 * unfiltered probe run as root once mounted a tmpfs over the host's /tmp.
 *
 * Built with `gcc -static`: its Nix closure is itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD ((long)1) /* an address no call can read */
#define GUARD_EXIT 99

/* Constants spelled out, so the probe does not depend on header versions. */
#define X_CLONE_NEWNS 0x00020000L
#define X_CLONE_NEWCGROUP 0x02000000L
#define X_CLONE_NEWUTS 0x04000000L
#define X_CLONE_NEWIPC 0x08000000L
#define X_CLONE_NEWUSER 0x10000000L
#define X_CLONE_NEWPID 0x20000000L
#define X_CLONE_NEWNET 0x40000000L
#define X_CLONE_FS 0x00000200L
#define X_CLONE_THREAD 0x00010000L
#define X_TIOCSTI 0x5412L
#define X_TIOCLINUX 0x541CL
#define X_TCGETS 0x5401L
#define X_X32 0x40000000L
#define BADTYPE 0x7fff0001L /* socket type junk: EINVAL before the family lookup */

/* x86_64 numbers (from arch/x86/entry/syscalls/syscall_64.tbl). */
enum {
	NR_ioctl = 16, NR_clone = 56, NR_fork = 57, NR_getppid = 110,
	NR_personality = 135, NR_modify_ldt = 154, NR_pivot_root = 155,
	NR_adjtimex = 159, NR_chroot = 161, NR_acct = 163, NR_settimeofday = 164,
	NR_mount = 165, NR_umount2 = 166, NR_swapon = 167, NR_swapoff = 168,
	NR_reboot = 169, NR_iopl = 172, NR_ioperm = 173, NR_init_module = 175,
	NR_delete_module = 176, NR_quotactl = 179, NR_clock_settime = 227,
	NR_mbind = 237, NR_set_mempolicy = 238, NR_get_mempolicy = 239,
	NR_kexec_load = 246, NR_add_key = 248, NR_request_key = 249,
	NR_keyctl = 250, NR_migrate_pages = 256, NR_unshare = 272,
	NR_move_pages = 279, NR_perf_event_open = 298, NR_fanotify_init = 300,
	NR_open_by_handle_at = 304, NR_clock_adjtime = 305, NR_setns = 308,
	NR_process_vm_readv = 310, NR_process_vm_writev = 311, NR_kcmp = 312,
	NR_finit_module = 313, NR_kexec_file_load = 320, NR_bpf = 321,
	NR_userfaultfd = 323, NR_syslog = 103, NR_ptrace = 101, NR_dup = 32,
	NR_socket = 41, NR_getpid = 39,
	NR_io_uring_setup = 425, NR_io_uring_enter = 426,
	NR_io_uring_register = 427, NR_open_tree = 428, NR_move_mount = 429,
	NR_fsopen = 430, NR_fsconfig = 431, NR_fsmount = 432, NR_fspick = 433,
	NR_clone3 = 435, NR_pidfd_getfd = 438, NR_mount_setattr = 442,
	NR_quotactl_fd = 443, NR_set_mempolicy_home_node = 450,
	NR_mseal = 462, NR_open_tree_attr = 467,
};

/* ---- output ---- */

static void json_str(const char *s) {
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void emit(const char *name, int err, int sig, const char *detail) {
	printf("{\"case\":");
	json_str(name);
	printf(",\"errno\":%d,\"signal\":%d,\"detail\":", err, sig);
	json_str(detail);
	printf("}\n");
	fflush(stdout);
}

/* ---- the guard ---- */

static int status_field(const char *key, char *out, size_t n) {
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t kl = strlen(key);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			char *v = line + kl + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			v[strcspn(v, "\n")] = 0;
			snprintf(out, n, "%s", v);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

static int read_small(const char *path, char *out, size_t n) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	if (fd < 0)
		return -1;
	r = read(fd, out, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	out[r] = 0;
	out[strcspn(out, "\n")] = 0;
	return 0;
}

/* guard returns NULL when the probe may run, else the reason it may not. */
static const char *guard(char *facts, size_t n) {
	char sec[32] = "?", nnp[32] = "?", comm[64] = "?", map[128] = "?";
	long pid = (long)getpid();
	unsigned long a = 0, b = 0, c = 0;
	status_field("Seccomp", sec, sizeof sec);
	status_field("NoNewPrivs", nnp, sizeof nnp);
	read_small("/proc/1/comm", comm, sizeof comm);
	read_small("/proc/self/uid_map", map, sizeof map);
	snprintf(facts, n, "Seccomp=%s NoNewPrivs=%s pid=%ld pid1=%s uid_map=%s",
		 sec, nnp, pid, comm, map);
	if (strcmp(sec, "2") != 0)
		return "no seccomp filter (Seccomp is not 2)";
	if (strcmp(nnp, "1") != 0)
		return "no_new_privs is not set";
	if (pid > 1000)
		return "pid is not small: not in a sandbox's PID namespace";
	if (strcmp(comm, "nixbox-init") != 0 && strcmp(comm, "init") != 0)
		return "PID 1 is neither nixbox-init nor init";
	/* The initial user namespace maps the whole uid range onto itself. */
	if (sscanf(map, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL)
		return "in the initial user namespace";
	return NULL;
}

/* ---- running one case in a forked child ---- */

struct shared {
	int done;
	int err;
	long ret;
	char detail[256];
};
static struct shared *shm;

typedef long (*casefn)(void);

/* A case function returns the raw syscall result (>= 0, or -1 with errno). */
static long sc(long nr, long a, long b, long c, long d, long e, long f) {
	return syscall(nr, a, b, c, d, e, f);
}

static void note(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(shm->detail, sizeof shm->detail, fmt, ap);
	va_end(ap);
}

static void run_case(const char *name, const char *call, casefn fn) {
	pid_t pid;
	int st;
	char detail[512];
	memset(shm, 0, sizeof *shm);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(detail, sizeof detail, "%s: fork: %s", call, strerror(errno));
		emit(name, -2, 0, detail);
		return;
	}
	if (pid == 0) {
		long r;
		alarm(10);
		errno = 0;
		r = fn();
		shm->err = r == -1 ? errno : 0;
		shm->ret = r;
		shm->done = 1;
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st)) {
		snprintf(detail, sizeof detail, "%s: killed by signal %d (%s)", call,
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
		emit(name, -1, WTERMSIG(st), detail);
		return;
	}
	if (!shm->done) {
		snprintf(detail, sizeof detail, "%s: child exited %d without a result", call,
			 WEXITSTATUS(st));
		emit(name, -2, 0, detail);
		return;
	}
	if (shm->err)
		snprintf(detail, sizeof detail, "%s: %s%s%s", call, strerrorname_np(shm->err)
			 ? strerrorname_np(shm->err) : "?", shm->detail[0] ? "; " : "", shm->detail);
	else
		snprintf(detail, sizeof detail, "%s: executed, returned %ld%s%s", call, shm->ret,
			 shm->detail[0] ? "; " : "", shm->detail);
	emit(name, shm->err, 0, detail);
}

/* The errno a forked grandchild's raw clone gave, for clone cases: a clone
 * that succeeds makes a process that only exits. */
static long clone_flags(long flags) {
	long r = syscall(NR_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0); /* the new process: do nothing */
	if (r > 0) {
		int e = errno;
		waitpid((pid_t)r, NULL, 0);
		errno = e;
		note("a new process was created (and exited at once)");
		return 0;
	}
	return -1;
}

#define KPERM "; the kernel says EPERM here without the capability, so EPERM does not prove the filter"

/* ---- row 1: namespaces and mounts (cases 21, 22, 24) ---- */
static long c_unshare(void) { return sc(NR_unshare, X_CLONE_NEWUSER | 0x1, 0, 0, 0, 0, 0); }
static long c_unshare_newuser(void) { return sc(NR_unshare, X_CLONE_NEWUSER, 0, 0, 0, 0, 0); }
static long c_unshare_newns(void) { return sc(NR_unshare, X_CLONE_NEWNS | 0x1, 0, 0, 0, 0, 0); }
static long c_setns(void) { return sc(NR_setns, -1, 0, 0, 0, 0, 0); }
static long c_clone_newuser(void) { return clone_flags(X_CLONE_NEWUSER | X_CLONE_FS); }
static long c_clone_newuser_real(void) { return clone_flags(X_CLONE_NEWUSER); }
static long c_clone_newns(void) { return clone_flags(X_CLONE_NEWNS | X_CLONE_FS); }
static long c_clone_newpid(void) { return clone_flags(X_CLONE_NEWPID | X_CLONE_THREAD); }
static long c_clone_newnet(void) { return clone_flags(X_CLONE_NEWNET | X_CLONE_THREAD); }
static long c_clone_newuts(void) { return clone_flags(X_CLONE_NEWUTS | X_CLONE_THREAD); }
static long c_clone_newipc(void) { return clone_flags(X_CLONE_NEWIPC | X_CLONE_THREAD); }
static long c_clone_newcgroup(void) { return clone_flags(X_CLONE_NEWCGROUP | X_CLONE_THREAD); }
static long c_chroot(void) { return sc(NR_chroot, BAD, 0, 0, 0, 0, 0); }
static long c_mount(void) { return sc(NR_mount, 0, BAD, 0, 0, 0, 0); }
static long c_umount2(void) { return sc(NR_umount2, BAD, 0, 0, 0, 0, 0); }
static long c_pivot_root(void) { note("%s", KPERM + 2); return sc(NR_pivot_root, BAD, BAD, 0, 0, 0, 0); }

/* ---- row 2: clone3 (case 23) ---- */
static long c_clone3(void) { return sc(NR_clone3, BAD, 88, 0, 0, 0, 0); }

/* ---- row 3: the mount API (case 25) ---- */
static long c_open_tree(void) { return sc(NR_open_tree, -1, BAD, -1, 0, 0, 0); }
static long c_move_mount(void) { return sc(NR_move_mount, -1, BAD, -1, BAD, -1, 0); }
static long c_fsopen(void) { return sc(NR_fsopen, BAD, -1, 0, 0, 0, 0); }
static long c_fsconfig(void) { return sc(NR_fsconfig, -1, -1, 0, 0, 0, 0); }
static long c_fsmount(void) { return sc(NR_fsmount, -1, -1, 0, 0, 0, 0); }
static long c_fspick(void) { return sc(NR_fspick, -1, BAD, -1, 0, 0, 0); }
static long c_mount_setattr(void) { return sc(NR_mount_setattr, -1, BAD, -1, BAD, 0, 0); }

/* ---- row 4: tty ioctls (cases 18-20) ---- */
static long c_tiocsti(void) { return sc(NR_ioctl, -1, X_TIOCSTI, BAD, 0, 0, 0); }
static long c_tiocsti_hi(void) { return sc(NR_ioctl, -1, (0x123L << 32) | X_TIOCSTI, BAD, 0, 0, 0); }
static long c_tioclinux(void) { return sc(NR_ioctl, -1, X_TIOCLINUX, BAD, 0, 0, 0); }
static long c_tioclinux_hi(void) { return sc(NR_ioctl, -1, (0x123L << 32) | X_TIOCLINUX, BAD, 0, 0, 0); }

/* ---- row 5: keyring (case 27) ---- */
static long c_keyctl(void) { return sc(NR_keyctl, 0x7fff, 0, 0, 0, 0, 0); }
static long c_add_key(void) { return sc(NR_add_key, BAD, BAD, BAD, 0, 0, 0); }
static long c_request_key(void) { return sc(NR_request_key, BAD, BAD, BAD, 0, 0, 0); }

/* ---- row 6: bpf, perf, userfaultfd (cases 28-30) ---- */
static long c_bpf(void) { return sc(NR_bpf, 0, BAD, 0x100000, 0, 0, 0); } /* size > PAGE_SIZE: E2BIG */
static long c_perf(void) { return sc(NR_perf_event_open, BAD, 0, -1, -1, -1, 0); }
static long c_userfaultfd(void) { return sc(NR_userfaultfd, -1, 0, 0, 0, 0, 0); } /* incl. USER_MODE_ONLY: EINVAL */

/* ---- row 7: io_uring (case 31) ---- */
static long c_io_uring_setup(void) { return sc(NR_io_uring_setup, 1, BAD, 0, 0, 0, 0); }
static long c_io_uring_enter(void) { return sc(NR_io_uring_enter, -1, 0, 0, 0, 0, 0); }
static long c_io_uring_register(void) { return sc(NR_io_uring_register, -1, 0, 0, 0, 0, 0); }

/* ---- row 8: personality (case 32) ---- */
static long c_pers_linux32(void) { return sc(NR_personality, 0x0008, 0, 0, 0, 0, 0); }
static long c_pers_uname26(void) { return sc(NR_personality, 0x0020000, 0, 0, 0, 0, 0); }
static long c_pers_query(void) { return sc(NR_personality, 0xffffffffL, 0, 0, 0, 0, 0); }
static long c_pers_linux(void) { return sc(NR_personality, 0, 0, 0, 0, 0, 0); }

/* ---- row 9: cross-process access (cases 41, 44) ---- */
static long c_ptrace(void) { return sc(NR_ptrace, 0x7fffffff, -1, 0, 0, 0, 0); }
static long c_pvm_readv(void) { return sc(NR_process_vm_readv, 0, BAD, 1, BAD, 1, -1); }
static long c_pvm_writev(void) { return sc(NR_process_vm_writev, 0, BAD, 1, BAD, 1, -1); }
static long c_kcmp(void) { return sc(NR_kcmp, -1, -1, 0xff, 0, 0, 0); }
static long c_pidfd_getfd(void) { return sc(NR_pidfd_getfd, -1, 0, 0, 0, 0, 0); }

/* ---- row 10: host administration (case 33) ---- */
static long c_kexec_load(void) { note("%s", KPERM + 2); return sc(NR_kexec_load, 0, 0, BAD, -1, 0, 0); }
static long c_kexec_file_load(void) { note("%s", KPERM + 2); return sc(NR_kexec_file_load, -1, -1, 0, BAD, -1, 0); }
static long c_init_module(void) { note("%s", KPERM + 2); return sc(NR_init_module, BAD, 0, BAD, 0, 0, 0); }
static long c_finit_module(void) { note("%s", KPERM + 2); return sc(NR_finit_module, -1, BAD, -1, 0, 0, 0); }
static long c_delete_module(void) { note("%s", KPERM + 2); return sc(NR_delete_module, BAD, 0, 0, 0, 0, 0); }
static long c_reboot(void) { note("bad magic%s", KPERM); return sc(NR_reboot, 0x1, 0x2, 0x3, 0, 0, 0); }
static long c_swapon(void) { note("%s", KPERM + 2); return sc(NR_swapon, BAD, 0, 0, 0, 0, 0); }
static long c_swapoff(void) { note("%s", KPERM + 2); return sc(NR_swapoff, BAD, 0, 0, 0, 0, 0); }
static long c_acct(void) { note("%s", KPERM + 2); return sc(NR_acct, BAD, 0, 0, 0, 0, 0); }
static long c_syslog(void) { note("SYSLOG_ACTION_SIZE_BUFFER; with dmesg_restrict=1%s", KPERM); return sc(NR_syslog, 10, 0, 0, 0, 0, 0); }
static long c_settimeofday(void) { return sc(NR_settimeofday, BAD, 0, 0, 0, 0, 0); }
static long c_clock_settime(void) { return sc(NR_clock_settime, 0, BAD, 0, 0, 0, 0); }
static long c_clock_adjtime(void) { return sc(NR_clock_adjtime, 0, BAD, 0, 0, 0, 0); }
static long c_adjtimex(void) { return sc(NR_adjtimex, BAD, 0, 0, 0, 0, 0); }
static long c_iopl(void) { return sc(NR_iopl, 4, 0, 0, 0, 0, 0); }
static long c_ioperm(void) { return sc(NR_ioperm, 0, 0, 1, 0, 0, 0); }
static long c_quotactl(void) { return sc(NR_quotactl, 0xff, BAD, 0, BAD, 0, 0); }
static long c_quotactl_fd(void) { return sc(NR_quotactl_fd, -1, 0xff, 0, BAD, 0, 0); }
static long c_open_by_handle_at(void) { return sc(NR_open_by_handle_at, -1, BAD, 0, 0, 0, 0); }
static long c_mbind(void) { return sc(NR_mbind, 0, 0, -1, 0, 0, 0); }
static long c_set_mempolicy(void) { return sc(NR_set_mempolicy, -1, 0, 0, 0, 0, 0); }
static long c_get_mempolicy(void) { return sc(NR_get_mempolicy, 0, 0, 0, 0, -1, 0); }
static long c_migrate_pages(void) { return sc(NR_migrate_pages, -1, 0, BAD, BAD, 0, 0); }
static long c_move_pages(void) { return sc(NR_move_pages, 0, 1, BAD, 0, BAD, -1); }
static long c_smp_home_node(void) { return sc(NR_set_mempolicy_home_node, 0, 0, 0, -1, 0, 0); }

/* ---- row 11: socket families (case 34). A junk type makes the kernel
 * fail with EINVAL before it looks the family up (no module autoload). */
static long sock(long fam, long proto) { return sc(NR_socket, fam, BADTYPE, proto, 0, 0, 0); }
static long c_sock_packet(void) { return sock(17, 0); }
static long c_sock_alg(void) { return sock(38, 0); }
static long c_sock_vsock(void) { return sock(40, 0); }
static long c_sock_bluetooth(void) { return sock(31, 0); }
static long c_sock_key(void) { return sock(15, 0); }
static long c_sock_ax25(void) { return sock(3, 0); }
static long c_sock_can(void) { return sock(29, 0); }
static long c_sock_xdp(void) { return sock(44, 0); }
static long c_sock_hi(void) { return sc(NR_socket, (1L << 32) | 1, BADTYPE, 0, 0, 0, 0); }
static long c_sock_unix(void) { return sock(1, 0); }
static long c_sock_inet(void) { return sock(2, 0); }
static long c_sock_inet6(void) { return sock(10, 0); }
static long c_sock_unspec(void) { return sock(0, 0); }
static long c_sock_nl_route(void) { return sock(16, 0); }
static long c_sock_nl_audit(void) { return sock(16, 9); }
static long c_sock_nl_uevent(void) { return sock(16, 15); }

/* ---- row 12: modify_ldt (case 38): read with no LDT reads 0 bytes ---- */
static long c_modify_ldt(void) { return sc(NR_modify_ldt, 0, BAD, 16, 0, 0, 0); }

/* ---- row 13: i386 ABI (case 36) ---- */
static long c_i386_getpid(void) {
	long ret = 20; /* __NR_getpid on i386 */
	/* The kernel zeroes r8-r11 on return from int $0x80 (where it has an
	 * i386 entry), so they are clobbered. */
	__asm__ volatile("int $0x80" : "+a"(ret) : "b"(0), "c"(0), "d"(0) : "memory", "cc", "r8", "r9", "r10", "r11");
	if ((int)ret < 0 && (int)ret > -4096) {
		errno = -(int)ret;
		return -1;
	}
	note("i386 getpid ran");
	return (int)ret;
}

/* ---- row 14: x32 ABI (case 37) ---- */
static long c_x32_getpid(void) { return sc(X_X32 | NR_getpid, 0, 0, 0, 0, 0, 0); }
static long c_x32_unshare(void) { return sc(X_X32 | NR_unshare, X_CLONE_NEWUSER, 0, 0, 0, 0, 0); }

/* ---- row 15: numbers above the profile's maximum (case 35) ---- */
static long c_nr_1000(void) { return sc(1000, BAD, BAD, BAD, 0, 0, 0); }
static long c_nr_mseal(void) { note("mseal (462), flags=-1"); return sc(NR_mseal, 0, 0, -1, 0, 0, 0); }
static long c_nr_open_tree_attr(void) { note("open_tree_attr (467), flags=-1"); return sc(NR_open_tree_attr, -1, BAD, -1, BAD, 0, 0); }

/* ---- controls: allowed calls reach the kernel with these arguments ---- */
static long c_ctl_dup(void) { return sc(NR_dup, -1, 0, 0, 0, 0, 0); }
static long c_ctl_tcgets(void) { return sc(NR_ioctl, -1, X_TCGETS, BAD, 0, 0, 0); }
static long c_ctl_fork(void) { return clone_flags(0); }
static long c_ctl_getppid(void) { return sc(NR_getppid, 0, 0, 0, 0, 0, 0); }

struct tcase {
	const char *name;
	const char *call;
	casefn fn;
};

static const struct tcase i386_cases[] = {
	{"i386-getpid", "int $0x80 eax=20 (getpid)", c_i386_getpid},
};

static const struct tcase x32_cases[] = {
	{"x32-getpid", "syscall(0x40000000|39 getpid)", c_x32_getpid},
	{"x32-unshare", "syscall(0x40000000|272 unshare, CLONE_NEWUSER)", c_x32_unshare},
};

static const struct tcase cases[] = {
	{"unshare", "unshare(CLONE_NEWUSER|0x1)", c_unshare},
	{"unshare-newuser", "unshare(CLONE_NEWUSER) in a child", c_unshare_newuser},
	{"unshare-newns", "unshare(CLONE_NEWNS|0x1)", c_unshare_newns},
	{"setns", "setns(-1, 0)", c_setns},
	{"clone-newuser", "clone(CLONE_NEWUSER|CLONE_FS|SIGCHLD)", c_clone_newuser},
	{"clone-newuser-real", "clone(CLONE_NEWUSER|SIGCHLD) in a child", c_clone_newuser_real},
	{"clone-newns", "clone(CLONE_NEWNS|CLONE_FS|SIGCHLD)", c_clone_newns},
	{"clone-newpid", "clone(CLONE_NEWPID|CLONE_THREAD|SIGCHLD)", c_clone_newpid},
	{"clone-newnet", "clone(CLONE_NEWNET|CLONE_THREAD|SIGCHLD)", c_clone_newnet},
	{"clone-newuts", "clone(CLONE_NEWUTS|CLONE_THREAD|SIGCHLD)", c_clone_newuts},
	{"clone-newipc", "clone(CLONE_NEWIPC|CLONE_THREAD|SIGCHLD)", c_clone_newipc},
	{"clone-newcgroup", "clone(CLONE_NEWCGROUP|CLONE_THREAD|SIGCHLD)", c_clone_newcgroup},
	{"chroot", "chroot((char*)1)", c_chroot},
	{"mount", "mount(NULL, (char*)1, NULL, 0, NULL)", c_mount},
	{"umount2", "umount2((char*)1, 0)", c_umount2},
	{"pivot_root", "pivot_root((char*)1, (char*)1)", c_pivot_root},

	{"clone3", "clone3((void*)1, 88)", c_clone3},

	{"open_tree", "open_tree(-1, (char*)1, -1)", c_open_tree},
	{"move_mount", "move_mount(-1, (char*)1, -1, (char*)1, -1)", c_move_mount},
	{"fsopen", "fsopen((char*)1, -1)", c_fsopen},
	{"fsconfig", "fsconfig(-1, -1, 0, 0, 0)", c_fsconfig},
	{"fsmount", "fsmount(-1, -1, 0)", c_fsmount},
	{"fspick", "fspick(-1, (char*)1, -1)", c_fspick},
	{"mount_setattr", "mount_setattr(-1, (char*)1, -1, (void*)1, 0)", c_mount_setattr},

	{"ioctl-tiocsti", "ioctl(-1, TIOCSTI, 1)", c_tiocsti},
	{"ioctl-tiocsti-hi", "ioctl(-1, (0x123<<32)|TIOCSTI, 1)", c_tiocsti_hi},
	{"ioctl-tioclinux", "ioctl(-1, TIOCLINUX, 1)", c_tioclinux},
	{"ioctl-tioclinux-hi", "ioctl(-1, (0x123<<32)|TIOCLINUX, 1)", c_tioclinux_hi},

	{"keyctl", "keyctl(0x7fff invalid op)", c_keyctl},
	{"add_key", "add_key((char*)1, (char*)1, (void*)1, 0, 0)", c_add_key},
	{"request_key", "request_key((char*)1, (char*)1, (char*)1, 0)", c_request_key},

	{"bpf", "bpf(BPF_MAP_CREATE, (void*)1, 1 MiB)", c_bpf},
	{"perf_event_open", "perf_event_open((void*)1, 0, -1, -1, -1)", c_perf},
	{"userfaultfd", "userfaultfd(-1)", c_userfaultfd},

	{"io_uring_setup", "io_uring_setup(1, (void*)1)", c_io_uring_setup},
	{"io_uring_enter", "io_uring_enter(-1, 0, 0, 0)", c_io_uring_enter},
	{"io_uring_register", "io_uring_register(-1, 0, 0, 0)", c_io_uring_register},

	{"personality-linux32", "personality(PER_LINUX32=0x8) in a child", c_pers_linux32},
	{"personality-uname26", "personality(UNAME26=0x20000) in a child", c_pers_uname26},

	{"ptrace", "ptrace(0x7fffffff, -1)", c_ptrace},
	{"process_vm_readv", "process_vm_readv(0, 1, 1, 1, 1, -1)", c_pvm_readv},
	{"process_vm_writev", "process_vm_writev(0, 1, 1, 1, 1, -1)", c_pvm_writev},
	{"kcmp", "kcmp(-1, -1, 0xff, 0, 0)", c_kcmp},
	{"pidfd_getfd", "pidfd_getfd(-1, 0, 0)", c_pidfd_getfd},

	{"kexec_load", "kexec_load(0, 0, (void*)1, -1)", c_kexec_load},
	{"kexec_file_load", "kexec_file_load(-1, -1, 0, (char*)1, -1)", c_kexec_file_load},
	{"init_module", "init_module((void*)1, 0, (char*)1)", c_init_module},
	{"finit_module", "finit_module(-1, (char*)1, -1)", c_finit_module},
	{"delete_module", "delete_module((char*)1, 0)", c_delete_module},
	{"reboot", "reboot(1, 2, 3, 0)", c_reboot},
	{"swapon", "swapon((char*)1, 0)", c_swapon},
	{"swapoff", "swapoff((char*)1)", c_swapoff},
	{"acct", "acct((char*)1)", c_acct},
	{"syslog", "syslog(10, 0, 0)", c_syslog},
	{"settimeofday", "settimeofday((void*)1, NULL)", c_settimeofday},
	{"clock_settime", "clock_settime(CLOCK_REALTIME, (void*)1)", c_clock_settime},
	{"clock_adjtime", "clock_adjtime(CLOCK_REALTIME, (void*)1)", c_clock_adjtime},
	{"adjtimex", "adjtimex((void*)1)", c_adjtimex},
	{"iopl", "iopl(4)", c_iopl},
	{"ioperm", "ioperm(0, 0, 1)", c_ioperm},
	{"quotactl", "quotactl(0xff, (char*)1, 0, (void*)1)", c_quotactl},
	{"quotactl_fd", "quotactl_fd(-1, 0xff, 0, (void*)1)", c_quotactl_fd},
	{"open_by_handle_at", "open_by_handle_at(-1, (void*)1, 0)", c_open_by_handle_at},
	{"mbind", "mbind(0, 0, -1, 0, 0, 0)", c_mbind},
	{"set_mempolicy", "set_mempolicy(-1, 0, 0)", c_set_mempolicy},
	{"get_mempolicy", "get_mempolicy(0, 0, 0, 0, -1)", c_get_mempolicy},
	{"migrate_pages", "migrate_pages(-1, 0, 1, 1)", c_migrate_pages},
	{"move_pages", "move_pages(0, 1, 1, 0, 1, -1)", c_move_pages},
	{"set_mempolicy_home_node", "set_mempolicy_home_node(0, 0, 0, -1)", c_smp_home_node},

	{"socket-packet", "socket(AF_PACKET, junk, 0)", c_sock_packet},
	{"socket-alg", "socket(AF_ALG, junk, 0)", c_sock_alg},
	{"socket-vsock", "socket(AF_VSOCK, junk, 0)", c_sock_vsock},
	{"socket-bluetooth", "socket(AF_BLUETOOTH, junk, 0)", c_sock_bluetooth},
	{"socket-key", "socket(AF_KEY, junk, 0)", c_sock_key},
	{"socket-ax25", "socket(AF_AX25, junk, 0)", c_sock_ax25},
	{"socket-can", "socket(AF_CAN, junk, 0)", c_sock_can},
	{"socket-xdp", "socket(AF_XDP, junk, 0)", c_sock_xdp},
	{"socket-family-hi", "socket((1<<32)|AF_UNIX, junk, 0)", c_sock_hi},
	{"socket-unix", "socket(AF_UNIX, junk, 0)", c_sock_unix},
	{"socket-inet", "socket(AF_INET, junk, 0)", c_sock_inet},
	{"socket-inet6", "socket(AF_INET6, junk, 0)", c_sock_inet6},
	{"socket-unspec", "socket(AF_UNSPEC, junk, 0)", c_sock_unspec},
	{"socket-netlink-route", "socket(AF_NETLINK, junk, NETLINK_ROUTE)", c_sock_nl_route},
	{"socket-netlink-audit", "socket(AF_NETLINK, junk, NETLINK_AUDIT)", c_sock_nl_audit},
	{"socket-netlink-uevent", "socket(AF_NETLINK, junk, NETLINK_KOBJECT_UEVENT)", c_sock_nl_uevent},

	{"modify_ldt", "modify_ldt(0 read, (void*)1, 16)", c_modify_ldt},

	/* i386 and x32 rows: the same children as the i386/x32 sub-commands. */
	{"i386-getpid", "int $0x80 eax=20 (getpid)", c_i386_getpid},
	{"x32-getpid", "syscall(0x40000000|39 getpid)", c_x32_getpid},
	{"x32-unshare", "syscall(0x40000000|272 unshare, CLONE_NEWUSER)", c_x32_unshare},

	{"nr-1000", "syscall(1000)", c_nr_1000},
	{"nr-mseal", "syscall(462 mseal, 0, 0, -1)", c_nr_mseal},
	{"nr-open_tree_attr", "syscall(467 open_tree_attr, -1, (char*)1, -1, (void*)1, 0)", c_nr_open_tree_attr},

	{"ctl-dup", "dup(-1)", c_ctl_dup},
	{"ctl-ioctl-tcgets", "ioctl(-1, TCGETS, 1)", c_ctl_tcgets},
	{"ctl-fork", "clone(SIGCHLD)", c_ctl_fork},
	{"ctl-getppid", "getppid()", c_ctl_getppid},
	{"ctl-personality-query", "personality(0xffffffff)", c_pers_query},
	{"ctl-personality-linux", "personality(PER_LINUX)", c_pers_linux},
};


static int usage(void);

/* ---- escape case 36: i386 calls through int $0x80 ---- */
static long int80(long nr, long b, long c, long d) {
	long ret = nr;
	/* r8-r11 are zeroed by the kernel on return (see c_i386_getpid). */
	__asm__ volatile("int $0x80" : "+a"(ret) : "b"(b), "c"(c), "d"(d) : "memory", "cc", "r8", "r9", "r10", "r11");
	if ((int)ret < 0 && (int)ret > -4096) {
		errno = -(int)ret;
		return -1;
	}
	return (int)ret;
}
static long c_i386_unshare(void) { return int80(310, X_CLONE_NEWUSER, 0, 0); }
static long c_i386_keyctl(void) { return int80(288, 0x7fff, 0, 0); }
static long c_i386_mount(void) { return int80(21, 0, BAD, 0); }
static long c_i386_ptrace(void) { return int80(26, 0x7fffffff, -1, 0); }
static long c_i386_tiocsti(void) { return int80(54, -1, X_TIOCSTI, BAD); }
static long c_i386_socketcall(void) { return int80(102, 1 /* SYS_SOCKET */, BAD, 0); }
static long c_i386_bpf(void) { return int80(357, 0, BAD, 0x100000); }
static long c_i386_uffd(void) { return int80(374, -1, 0, 0); }
/* More i386 rows for case 38 (allow_multiarch: the same outcome as x86_64). */
static long c_i386_getpid2(void) { return int80(20, 0, 0, 0) < 0 ? -1 : 0; }
static long c_i386_clone3(void) { return int80(435, BAD, 88, 0); }
static long c_i386_fsopen(void) { return int80(430, BAD, 0, 0); }
static long c_i386_socket_vsock(void) { return int80(359, 40 /* AF_VSOCK */, 0x7fff0001, 0); }
static long c_i386_socket_unix(void) { return int80(359, 1 /* AF_UNIX */, 0x7fff0001, 0); }
static long c_i386_modify_ldt(void) { return int80(123, 0, BAD, 16); }

static const struct tcase int80_cases[] = {
	{"i386-unshare", "int $0x80 eax=310 unshare(CLONE_NEWUSER)", c_i386_unshare},
	{"i386-keyctl", "int $0x80 eax=288 keyctl(0x7fff)", c_i386_keyctl},
	{"i386-mount", "int $0x80 eax=21 mount(0, 1)", c_i386_mount},
	{"i386-ptrace", "int $0x80 eax=26 ptrace(0x7fffffff, -1)", c_i386_ptrace},
	{"i386-ioctl-tiocsti", "int $0x80 eax=54 ioctl(-1, TIOCSTI, 1)", c_i386_tiocsti},
	{"i386-socketcall", "int $0x80 eax=102 socketcall(SYS_SOCKET, 1)", c_i386_socketcall},
	{"i386-bpf", "int $0x80 eax=357 bpf(0, 1, 1 MiB)", c_i386_bpf},
	{"i386-userfaultfd", "int $0x80 eax=374 userfaultfd(-1)", c_i386_uffd},
	{"i386-getpid", "int $0x80 eax=20 getpid", c_i386_getpid2},
	{"i386-clone3", "int $0x80 eax=435 clone3(1, 88)", c_i386_clone3},
	{"i386-fsopen", "int $0x80 eax=430 fsopen(1, 0)", c_i386_fsopen},
	{"i386-socket-vsock", "int $0x80 eax=359 socket(AF_VSOCK, junk type)", c_i386_socket_vsock},
	{"i386-socket-unix", "int $0x80 eax=359 socket(AF_UNIX, junk type)", c_i386_socket_unix},
	{"i386-modify_ldt", "int $0x80 eax=123 modify_ldt(0, 1, 16)", c_i386_modify_ldt},
};

/* ---- escape case 35: the sweep ---- */
static int sweep_skip(long nr) {
	/* exit*, pause, rt_sigsuspend, rt_sigreturn, the fork family and the
	 * signal senders (kill(1,...) would aim at the sandbox's init). */
	static const long skip[] = {15, 34, 56, 57, 58, 60, 62, 129, 130, 200, 231, 234, 297};
	for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
		if (nr == skip[i])
			return 1;
	return 0;
}
static int sweep_skip_i386(long nr) {
	/* exit 1, fork 2, waitpid-pause 29, kill 37, sigreturn 119, clone 120,
	 * vfork 190, rt_sigreturn 173, rt_sigsuspend 179, exit_group 252,
	 * tkill 238, tgkill 270, rt_sigqueueinfo 178, rt_tgsigqueueinfo 335,
	 * sigsuspend 72, vm86old 113, vm86 166 */
	static const long skip[] = {1, 2, 29, 37, 72, 113, 119, 120, 166, 173, 178, 179, 190, 238, 252, 270, 335};
	for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
		if (nr == skip[i])
			return 1;
	return 0;
}

static void sweep_child_fds(void) {
	/* Never let a call with fd 1 touch a host file: 0-2 become a fresh
	 * pipe, every other descriptor is closed. */
	int p[2];
	if (pipe(p) == 0) {
		dup2(p[0], 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
	}
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

static int sweep(const char *abi) {
	long base = 0, max;
	int i386 = 0;
	if (!strcmp(abi, "x86_64"))
		max = 467 + 32;
	else if (!strcmp(abi, "x32"))
		base = X_X32, max = 547 + 32;
	else if (!strcmp(abi, "i386"))
		i386 = 1, max = 467 + 32;
	else
		return usage();
	for (long n = 0; n <= max; n++) {
		pid_t pid;
		int st;
		char name[64];
		if (i386 ? sweep_skip_i386(n) : sweep_skip(n))
			continue;
		snprintf(name, sizeof name, "%s-%ld", abi, n);
		memset(shm, 0, sizeof *shm);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			long r;
			sweep_child_fds();
			alarm(2);
			errno = 0;
			r = i386 ? int80(n, BAD, BAD, BAD) : syscall(base | n, BAD, BAD, BAD, BAD, BAD, BAD);
			shm->err = r == -1 ? errno : 0;
			shm->done = 1;
			_exit(0);
		}
		if (pid < 0) {
			emit(name, -2, 0, "fork failed");
			continue;
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st))
			emit(name, -1, WTERMSIG(st), "");
		else if (!shm->done)
			emit(name, -2, 0, "exited without a result");
		else
			emit(name, shm->err, 0, "");
	}
	return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void run_all(const struct tcase *cs, size_t n) {
	for (size_t i = 0; i < n; i++)
		run_case(cs[i].name, cs[i].call, cs[i].fn);
}

static int usage(void) {
	fprintf(stderr, "usage: nbx-probe check|syscalls|i386|x32|int80|host-i386-control | run NAME... | sweep x86_64|x32|i386\n");
	return 2;
}

int main(int argc, char **argv) {
	char facts[512];
	const char *why;
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "run") || !strcmp(argv[1], "sweep")) {
		if (argc < 3 || (!strcmp(argv[1], "sweep") && argc != 3))
			return usage();
	} else if (argc != 2)
		return usage();
	else if (strcmp(argv[1], "check") && strcmp(argv[1], "syscalls") &&
	    strcmp(argv[1], "i386") && strcmp(argv[1], "x32") && strcmp(argv[1], "int80") &&
	    strcmp(argv[1], "host-i386-control"))
		return usage();
	/* host-i386-control is the one case allowed outside a sandbox: it only
	 * calls getpid through int $0x80, in a forked child, to learn whether
	 * this kernel has an i386 entry at all (some disable ia32 emulation,
	 * and then int $0x80 faults with SIGSEGV before any filter runs). */
	why = strcmp(argv[1], "host-i386-control") ? guard(facts, sizeof facts) : NULL;
	if (why) {
		fprintf(stderr, "nbx-probe: refusing to run outside a sandbox: %s (%s)\n", why, facts);
		return GUARD_EXIT;
	}
	shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		perror("nbx-probe: mmap");
		return 1;
	}
	if (!strcmp(argv[1], "check"))
		emit("check", 0, 0, facts);
	else if (!strcmp(argv[1], "syscalls"))
		run_all(cases, N(cases));
	else if (!strcmp(argv[1], "run")) {
		for (int a = 2; a < argc; a++) {
			size_t i;
			for (i = 0; i < N(cases); i++)
				if (!strcmp(cases[i].name, argv[a]))
					break;
			if (i == N(cases)) {
				emit(argv[a], -2, 0, "no such case");
				continue;
			}
			run_case(cases[i].name, cases[i].call, cases[i].fn);
		}
	} else if (!strcmp(argv[1], "sweep"))
		return sweep(argv[2]);
	else if (!strcmp(argv[1], "int80"))
		run_all(int80_cases, N(int80_cases));
	else if (!strcmp(argv[1], "i386") || !strcmp(argv[1], "host-i386-control"))
		run_all(i386_cases, N(i386_cases));
	else
		run_all(x32_cases, N(x32_cases));
	return 0;
}
