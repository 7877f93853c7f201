package main

// The closure is assembled here, in C, before the Go runtime starts, by
// nixbox-init as PID 1 of the sandbox (stage 1). The spec gives the
// sandbox an empty tmpfs at /nix/store, ONE read-only, nosuid, nodev,
// non-recursive, private bind of the host's whole /nix/store at
// /.nixbox/store (the staging bind) and the closure list at
// /.nixbox/store.list (runtime/specgen.WithStore and StoreList). That is
// three mounts whatever the closure's size, instead of one bind per store
// path that costs libcontainer about 22 path-safety openat2 calls each
// (host-facts §7.3). The constructor:
//
//	reads the list                   "nixbox-store 2", then one NAME a
//	                                 line
//	opens /.nixbox/store once        O_PATH, not following symlinks
//	checks /nix/store                a tmpfs, empty
//	for each NAME (a valid store-path base name, so never .links, "." or
//	"..", never with a '/'):
//	  openat2(staging, NAME, O_PATH|O_NOFOLLOW,
//	          RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|
//	          RESOLVE_NO_XDEV)       the source, resolved once; for a
//	                                 member that is a symlink, the
//	                                 symlink itself (O_PATH|O_NOFOLLOW);
//	                                 a missing member: exit 125, named
//	  fstat                          a symlink, a directory or a file
//	  symlink: readlinkat(src, "")   its literal target, read from the
//	                                 descriptor (never from the list),
//	                                 recreated with symlinkat, never
//	                                 bound through (security suite case 5)
//	  dir, file: mkdirat / mknodat(S_IFREG) NAME on the tmpfs, then
//	  open_tree(src, "", OPEN_TREE_CLONE|AT_EMPTY_PATH) and
//	  move_mount(tree, "", tmpfs fd, NAME, MOVE_MOUNT_F_EMPTY_PATH)
//	mount_setattr(/nix/store, AT_RECURSIVE, RDONLY|NOSUID|NODEV)
//	umount2(/.nixbox/store, MNT_DETACH), then check it is no mount root
//	open a writable, detached clone of /proc/sys for stage 2 (sysctl.go;
//	                                 not with --allow-userns)
//	drop CAP_SYS_ADMIN and CAP_SETPCAP from every set, bounding included
//	the rest of PID 1, in C (pid1.go), which checks the store and the
//	capabilities left, then starts and waits for the app, and never
//	returns: the Go runtime never starts in PID 1
//
// Any failure exits 125 before nixbox-init reports ready, so before the
// launcher's checks and long before the app exists.
//
// Why this is safe (docs/security.md, "How the closure is mounted"):
//   - The whole store is visible only here, to the only process of the
//     sandbox, running nixbox-init's own code, before it reports ready.
//     The app runs much later, in a nested user namespace, with no
//     capabilities, no_new_privs and seccomp; by then the staging bind is
//     detached (checked here and again by pid1.go check_store).
//   - Sources are resolved exactly once, beneath the staging descriptor
//     and without following any symlink or crossing a mount, and are used
//     only through that descriptor; targets are single components made
//     and named relative to a descriptor of a fresh tmpfs that no other
//     process can reach, and never followed. No path string is resolved
//     twice in a place anyone else can write, so the symlink-exchange
//     races of runc's CVE-2021-30465 and the leaked-descriptor class of
//     CVE-2024-21626 (every descriptor here is close-on-exec and closed)
//     have no place to happen.
//   - The clones keep the staging bind's read-only, nosuid and nodev
//     flags (checked once on the staging bind), and mount_setattr sets
//     them again on the whole tree, the tmpfs included.
//   - CAP_SYS_ADMIN is dropped from every set, the bounding set included
//     (which needs CAP_SETPCAP, dropped last), and capabilities are
//     per-thread: doing this before any other thread exists (PID 1 never
//     starts the Go runtime; `nixbox enter` starts it only afterwards) is
//     what makes "every thread of nixbox-init" mean this one thread. From
//     then on nixbox-init holds exactly what it held before the assembly
//     existed: CAP_SETFCAP, for stage 2 (pid1.go nixbox_check_init_caps
//     checks, for PID 1 and for enter).
//
// `nixbox enter` (--enter) joins an assembled sandbox with the same
// capabilities; it assembles nothing, opens the same /proc/sys clone for
// its command's stage 2, and drops them.

/*
#cgo CFLAGS: -O2 -Wall
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>

#define NBX_STORE "/nix/store"
#define NBX_STAGING "/.nixbox/store"
#define NBX_LIST "/.nixbox/store.list"
#define NBX_HEADER "nixbox-store 2\n"
#define NBX_MAX_LIST (16 << 20)

// From <sys/mount.h>, which clashes with <linux/mount.h> in glibc 2.36.
#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 8
#endif

static void store_die(const char *name, const char *what) {
	int e = errno;
	if (name)
		fprintf(stderr, "nixbox: error: nixbox-init: assembling the store: %s: %s: %s\n", name, what, strerror(e));
	else
		fprintf(stderr, "nixbox: error: nixbox-init: assembling the store: %s: %s\n", what, strerror(e));
	if (e == ENOSYS)
		fprintf(stderr, "nixbox: hint: the sandbox's store is assembled with open_tree, move_mount, "
			"mount_setattr and openat2: Linux 5.12 or later\n");
	_exit(125);
}

static void store_fail(const char *name, const char *what) {
	errno = EINVAL;
	store_die(name, what);
}

// valid_name: a top-level store path's base name: 32 nix-base32
// characters, '-', then 1..211 of [A-Za-z0-9+._?=-] not starting with a
// dot (runtime/closure.ParseStorePath). So never "", ".", "..", ".links",
// and never a '/'.
static int valid_name(const char *s, size_t n) {
	static const char b32[] = "0123456789abcdfghijklmnpqrsvwxyz";
	if (n < 34 || n > 32 + 1 + 211 || s[32] != '-' || s[33] == '.')
		return 0;
	for (size_t i = 0; i < 32; i++)
		if (!s[i] || !strchr(b32, s[i]))
			return 0;
	for (size_t i = 33; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.' || c == '_' || c == '?' || c == '='))
			return 0;
	}
	return 1;
}

static char *read_list(void) {
	int fd = open(NBX_LIST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) store_die(NBX_LIST, "opening the closure list");
	struct stat st;
	if (fstat(fd, &st) < 0) store_die(NBX_LIST, "stat");
	if (!S_ISREG(st.st_mode) || st.st_size > NBX_MAX_LIST) store_fail(NBX_LIST, "not a regular file of at most 16 MiB");
	char *buf = malloc(st.st_size + 1);
	if (!buf) store_die(NBX_LIST, "reading");
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, st.st_size - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) store_die(NBX_LIST, "reading");
		if (r == 0) store_fail(NBX_LIST, "short read");
		got += r;
	}
	buf[got] = 0;
	if (memchr(buf, 0, got)) store_fail(NBX_LIST, "holds a NUL byte");
	if (strncmp(buf, NBX_HEADER, strlen(NBX_HEADER)))
		store_fail(NBX_LIST, "not a closure list of this nixbox-init (\"nixbox-store 2\")");
	close(fd);
	return buf;
}

// check_empty_tmpfs: the target is the spec's fresh tmpfs and holds
// nothing yet (nothing was planted, nothing is covered).
static void check_empty_tmpfs(int store) {
	struct statfs sfs;
	if (fstatfs(store, &sfs) < 0) store_die(NBX_STORE, "statfs");
	if (sfs.f_type != TMPFS_MAGIC) store_fail(NBX_STORE, "not the sandbox's tmpfs");
	int d = openat(store, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) store_die(NBX_STORE, "opening");
	DIR *dir = fdopendir(d);
	if (!dir) store_die(NBX_STORE, "opening");
	struct dirent *e;
	errno = 0;
	while ((e = readdir(dir))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			store_fail(NBX_STORE, "the tmpfs is not empty");
	}
	if (errno) store_die(NBX_STORE, "reading");
	closedir(dir);
}

// attach clones the source by its descriptor (not recursively: a mount
// below a store path on the host stays out) and moves the clone onto the
// mount point NAME just made in the store tmpfs. The target is named
// relative to the tmpfs's descriptor: one component, checked by
// valid_name, created by mkdirat/mknodat (which fail if anything is
// there), not followed if it were a symlink (no MOVE_MOUNT_T_SYMLINKS),
// on a file system no other process can reach. Opening it to move onto
// its descriptor would add two system calls per store path and no safety.
static void attach(int src, int store, const char *name) {
	int tree = syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0) store_die(name, "open_tree");
	if (syscall(SYS_move_mount, tree, "", store, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		store_die(name, "move_mount");
	close(tree);
}

static void assemble(void) {
	char *list = read_list();
	int staging = open(NBX_STAGING, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (staging < 0) store_die(NBX_STAGING, "opening the staging bind");
	// Each clone carries the staging bind's mount flags: check them once.
	struct statvfs vfs;
	if (fstatvfs(staging, &vfs) < 0) store_die(NBX_STAGING, "statvfs");
	if (!(vfs.f_flag & ST_RDONLY) || !(vfs.f_flag & ST_NOSUID) || !(vfs.f_flag & ST_NODEV))
		store_fail(NBX_STAGING, "the staging bind is not read-only, nosuid and nodev");
	int store = open(NBX_STORE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (store < 0) store_die(NBX_STORE, "opening");
	check_empty_tmpfs(store);

	// A symlink's target: at most PATH_MAX - 1 bytes (4095), as the
	// kernel stores it; a longer answer means a truncated read.
	static char link[4097];
	char *line = list + strlen(NBX_HEADER);
	while (*line) {
		char *end = strchr(line, '\n');
		if (!end) store_fail(NBX_LIST, "last line without a newline");
		*end = 0;
		char *name = line;
		if (!valid_name(name, end - name)) store_fail(NBX_LIST, "a line is not a store path's name");

		struct open_how how = {
			.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
		};
		int src = syscall(SYS_openat2, staging, name, &how, sizeof how);
		if (src < 0 && errno == ENOENT) {
			// Valid in the Nix database (or a cached closure) but not
			// on disk: deleted behind Nix's back. Say so, whether the
			// closure came from the database or the cache.
			fprintf(stderr, "nixbox: error: nixbox-init: assembling the store: /nix/store/%s: "
				"a member of the app's closure is missing from the host's store\n"
				"nixbox: hint: the Nix database lists it as valid; restore it with "
				"nix-store --repair-path /nix/store/%s (or nix-store --verify --repair)\n", name, name);
			_exit(125);
		}
		if (src < 0) store_die(name, "opening in the host's store");
		struct stat st;
		if (fstat(src, &st) < 0) store_die(name, "stat");
		switch (st.st_mode & S_IFMT) {
		case S_IFLNK: {
			// The descriptor is the symlink itself (O_PATH|O_NOFOLLOW with
			// RESOLVE_NO_SYMLINKS returns the trailing link, never its
			// target). Its target is recreated literally on the tmpfs and
			// never followed here: a bind would follow it to wherever it
			// points on the host (security suite case 5).
			ssize_t n = readlinkat(src, "", link, sizeof link);
			if (n < 0) store_die(name, "readlink");
			if (n == 0 || (size_t)n >= sizeof link) store_fail(name, "a symlink with an empty or over-long target");
			link[n] = 0;
			if (symlinkat(link, store, name) < 0) store_die(name, "creating the symlink");
			break;
		}
		case S_IFDIR:
			if (mkdirat(store, name, 0755) < 0) store_die(name, "creating the mount point");
			attach(src, store, name);
			break;
		case S_IFREG:
			if (mknodat(store, name, S_IFREG | 0444, 0) < 0) store_die(name, "creating the mount point");
			attach(src, store, name);
			break;
		default:
			store_fail(name, "not a directory, regular file or symlink");
		}
		close(src);
		line = end + 1;
	}
	free(list);

	// Read-only, nosuid, nodev: the tmpfs and every clone on it. The
	// clones already carry these flags from the staging bind; setting
	// them on the tree makes the tmpfs read-only too.
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	if (syscall(SYS_mount_setattr, store, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
		store_die(NBX_STORE, "making it read-only");
	if (fstatvfs(store, &vfs) < 0) store_die(NBX_STORE, "statvfs");
	if (!(vfs.f_flag & ST_RDONLY) || !(vfs.f_flag & ST_NOSUID) || !(vfs.f_flag & ST_NODEV))
		store_fail(NBX_STORE, "still writable, or without nosuid or nodev");
	close(store);

	// Detach the staging bind: no descriptor of it is left open, and
	// nothing of the whole store stays reachable.
	close(staging);
	if (syscall(SYS_umount2, NBX_STAGING, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) store_die(NBX_STAGING, "detaching the staging bind");
	struct statx stx;
	if (statx(AT_FDCWD, NBX_STAGING, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		store_die(NBX_STAGING, "statx");
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		store_fail(NBX_STAGING, "still a mount point after detaching the staging bind");
}

// drop_assembly_caps leaves nixbox-init exactly what it held before the
// store assembly existed: CAP_SETFCAP permitted and effective (an execve
// as the sandbox's root gives that), nothing else in any set. The bounding
// set goes first (dropping needs CAP_SETPCAP, so that one last), so no
// later execve as root -- stage 2 -- can regain anything.
static void drop_assembly_caps(void) {
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (cap == CAP_SETFCAP || cap == CAP_SETPCAP || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) store_die(NULL, "dropping the capability bounding set");
	}
	if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0) < 0)
		store_die(NULL, "dropping CAP_SETPCAP from the bounding set");
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0) store_die(NULL, "reading capabilities");
	uint32_t keep = data[0].permitted & (1u << CAP_SETFCAP);
	memset(data, 0, sizeof data);
	data[0].permitted = data[0].effective = keep;
	if (syscall(SYS_capset, &hdr, data) < 0) store_die(NULL, "dropping capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		store_die(NULL, "clearing ambient capabilities");
}

// sysctl.go: a writable, detached clone of /proc/sys for stage 2.
void nixbox_open_sysctl(void);
// pid1.go: checks what drop_assembly_caps left; exits 125 if more.
void nixbox_check_init_caps(void);
// pid1.go: the rest of PID 1; never returns.
__attribute__((noreturn)) void nixbox_pid1_run(int argc, char **argv);

// allows_userns: the init argument layout is "--uid U --gid G
// [--allow-userns] -- ARGV" from argv[at] on (main.go parseArgs, which
// checks the rest). --allow-userns is the profile's seccomp.allow_userns:
// the app's user namespace is then not capped (sysctl.go).
static int allows_userns(int argc, char **argv, int at) {
	return argc > at + 4 && !strcmp(argv[at + 4], "--allow-userns");
}

__attribute__((constructor)) static void nixbox_stage1_store(int argc, char **argv) {
	if (argc < 2)
		return;
	if (!strcmp(argv[1], "--enter")) {
		// The command gets the app's cap on user namespaces too.
		if (!allows_userns(argc, argv, 2))
			nixbox_open_sysctl();
		drop_assembly_caps();
		// Check rather than trust, before Go starts any thread.
		nixbox_check_init_caps();
		return;
	}
	if (strcmp(argv[1], "--uid") || getpid() != 1)
		return;
	assemble();
	// Before the drop: the clone needs CAP_SYS_ADMIN (sysctl.go).
	if (!allows_userns(argc, argv, 1))
		nixbox_open_sysctl();
	drop_assembly_caps();
	// PID 1 goes on in C and never starts the Go runtime (pid1.go).
	nixbox_pid1_run(argc, argv);
}
*/
import "C"
