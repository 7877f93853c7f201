package main

// The app's user namespace is made here, in C, before the Go runtime
// starts: only a single-threaded process may unshare(CLONE_NEWUSER), and
// only the process that holds the new namespace's capabilities can clear
// its capability bounding set, which every new user namespace starts with
// full (security suite case 39; bubblewrap does the same). Go's
// ForkExec cannot run code between clone and exec, so nixbox-init runs
// itself again as "nixbox-init --stage2 --uid U --gid G -- ARGV" and this
// constructor, seeing --stage2, does:
//
//	unshare(CLONE_NEWUSER)           new namespace, full caps in it
//	setgroups deny; uid_map "U 0 1"; gid_map "G 0 1"
//	                                 the user's ids, mapped to the outer
//	                                 namespace's 0 (the invoking user)
//	PR_CAPBSET_DROP every cap; clear ambient, inheritable, permitted,
//	effective                        nothing left to regain
//
// then returns to the Go runtime, whose stage2 checks the working
// directory, loads the seccomp filter and execs the app. Any failure exits
// 125 before the app can start. Mapping the outer 0 needs CAP_SETFCAP at
// unshare time, which the spec grants nixbox-init alone.

/*
#cgo CFLAGS: -O2 -Wall
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

static void die(const char *what) {
	fprintf(stderr, "nixbox: error: nixbox-init: %s: %s\n", what, strerror(errno));
	_exit(125);
}

static void write_file(const char *path, const char *data) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) die(path);
	size_t n = strlen(data);
	if (write(fd, data, n) != (ssize_t)n) die(path);
	close(fd);
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

__attribute__((constructor)) static void nixbox_stage2_userns(int argc, char **argv) {
	if (argc < 7 || strcmp(argv[1], "--stage2") || strcmp(argv[2], "--uid") || strcmp(argv[4], "--gid"))
		return;
	long uid = parse_id(argv[3]), gid = parse_id(argv[5]);
	char map[64];

	if (unshare(CLONE_NEWUSER) < 0) die("creating the app's user namespace");
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%ld 0 1", uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "%ld 0 1", gid);
	write_file("/proc/self/gid_map", map);

	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) die("dropping the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		die("clearing ambient capabilities");
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) < 0) die("dropping capabilities");
}
*/
import "C"
