package main

// The app's user namespace gets user.max_user_namespaces = 0 (security
// suite case 21, no-seccomp half; issue 4), so that without the seccomp
// filter -- a policy bug, a filter bypass, or allow = ["unshare"] -- the
// app still cannot create a user namespace (ENOSPC), and with it all the
// kernel code that unprivileged namespaces expose. Unless the profile sets
// seccomp.allow_userns: then creating namespaces is the point, and init
// is started with --allow-userns and caps nothing.
//
// Why it is done this way (kernel/ucount.c, kernel/user_namespace.c):
//   - Every user namespace starts with max_user_namespaces = 2147483647,
//     and the limit is checked in the new namespace's parent and every
//     ancestor, so a 0 in the app's namespace U2 stops U2 and anything
//     the app could create below it; nothing in U2 can create a namespace
//     to escape the count.
//   - /proc/sys/user/* shows and sets the limits of the *reading or
//     writing process's* own user namespace (set_lookup uses
//     current_user_ns()), and writing needs CAP_SYS_RESOURCE in it. Only
//     stage 2, between unshare(CLONE_NEWUSER) and dropping every
//     capability, holds that in U2. The app never does: it cannot raise
//     the limit back (the escape suite checks it).
//   - A limit on the sandbox's namespace U1 instead would count the app's
//     U2 and each `nixbox enter` command's namespace against it, and U1's
//     root (nixbox-init) would keep the right to change it.
//   - libcontainer mounts /proc/sys read-only before nixbox-init runs, so
//     stage 2 could not open the file for writing. Here, in stage 1, while
//     CAP_SYS_ADMIN (over the sandbox's mount namespace) is still held,
//     nixbox-init makes a detached clone of /proc/sys (open_tree
//     OPEN_TREE_CLONE, not attached anywhere, so nothing else in the
//     sandbox can reach it) and clears its read-only flag. The descriptor
//     is close-on-exec, handed only to stage 2 (as fd 3 of the
//     forked child, pid1.go; main.go startApp for `nixbox enter`), which
//     closes it before it drops its capabilities; stage 1 closes its own
//     copy once stage 2 runs. Every step fails closed (exit
//     125): an app that was meant to be capped never starts uncapped.
//   - The other user.max_*_namespaces limits are left alone: creating a
//     mount, pid, net, ipc, uts, cgroup or time namespace needs
//     CAP_SYS_ADMIN in U2, which the app can only get from a new user
//     namespace of its own -- the one this denies.

/*
#cgo CFLAGS: -O2 -Wall
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/magic.h>
#include <linux/mount.h>

// nixbox_sysctl_fd is the writable clone of /proc/sys that
// nixbox_open_sysctl made for stage 2, or -1 (pid1.go, takeSysctlFD).
int nixbox_sysctl_fd = -1;

static void sysctl_die(const char *what) {
	fprintf(stderr, "nixbox: error: nixbox-init: opening /proc/sys to cap the app's user namespaces: %s: %s\n",
		what, strerror(errno));
	_exit(125);
}

// nixbox_open_sysctl runs in the stage-1 constructor (store.go), while
// CAP_SYS_ADMIN is held, before any other thread exists.
void nixbox_open_sysctl(void) {
	int fd = syscall(SYS_open_tree, AT_FDCWD, "/proc/sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (fd < 0) sysctl_die("open_tree");
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0) sysctl_die("statfs");
	if (sfs.f_type != PROC_SUPER_MAGIC) {
		errno = EINVAL;
		sysctl_die("not a proc file system");
	}
	// Only the clone's flag changes: the sandbox's /proc/sys stays
	// read-only for everything else.
	struct mount_attr attr = {.attr_clr = MOUNT_ATTR_RDONLY};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		sysctl_die("making the detached clone writable");
	nixbox_sysctl_fd = fd;
}
*/
import "C"

// takeSysctlFD returns the descriptor of the writable, detached clone of
// /proc/sys that the stage-1 constructor opened (-1 with --allow-userns)
// and forgets it; the caller passes it to stage 2 and closes it.
func takeSysctlFD() int {
	fd := int(C.nixbox_sysctl_fd)
	C.nixbox_sysctl_fd = -1
	return fd
}
