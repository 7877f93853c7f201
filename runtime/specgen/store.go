package specgen

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nixbox/nixbox/runtime/closure"
)

// How the closure gets into the sandbox (docs/security.md, "How the closure
// is mounted"). A bind mount per store path costs the runtime about 22
// openat2 path-safety calls (host-facts §7.3): 0.7 ms per path, a third of
// a second for a closure of 500. Instead the spec holds three fixed things,
// whatever the closure's size:
//
//   - an empty tmpfs at /nix/store;
//   - one read-only, nosuid, nodev, non-recursive, private bind of the
//     host's /nix/store at StagingPath;
//   - the closure list at StoreListPath, a file of the root skeleton.
//
// nixbox-init, as PID 1 and before it reports ready (so before nixbox
// checks the sandbox and long before any app code runs), opens each listed
// name beneath the staging directory with openat2(RESOLVE_BENEATH|
// RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV), clones it with open_tree and moves
// the clone onto a directory or file it made on the tmpfs, recreates
// symlink members as symlinks, makes the whole /nix/store tree read-only,
// nosuid and nodev, detaches the staging bind and drops the capabilities
// it needed for that (CAP_SYS_ADMIN, CAP_SETPCAP) from every set, the
// bounding set included (cmd/nixbox-init/store.go). The openat2 returns the
// symlink itself for a member that is one: what each member is, and a
// symlink's target, are read there, from the member's descriptor, and
// never taken from the list.

// StagingPath is where the host's whole store is bound, read-only, for
// nixbox-init to assemble the closure from. nixbox-init detaches it before
// anything else runs in the sandbox; the app never sees it.
const StagingPath = "/.nixbox/store"

// StoreListPath is the closure list nixbox-init assembles the store from,
// a read-only file of the root skeleton (see StoreList).
const StoreListPath = "/.nixbox/store.list"

// StoreListHeader is the first line of every closure list; nixbox-init
// refuses a list without it. Version 1 had "p NAME" and "s NAME TARGET"
// lines; version 2 names members only, and nixbox-init finds out which
// are symlinks itself. The two binaries are built together; a mismatch
// fails closed, naming the header.
const StoreListHeader = "nixbox-store 2"

// storeTmpfsSize bounds the /nix/store tmpfs: it holds only empty
// directories, empty files and symlinks (mount points and symlink members),
// and is read-only before the app runs. Directories and short symlinks
// take no pages; a symlink target longer than 127 bytes takes one, so this
// leaves room for 4096 of them.
const storeTmpfsSize = "size=16m"

// StoreList returns the closure list for nixbox-init: the header line,
// then the base name of each member, one per line, in the closure's order.
// nixbox-init opens each beneath the staging bind without following
// symlinks: a directory or regular file is bound, a symlink is recreated
// with its literal target and never bound through (a bind follows its
// source, and a symlink output can point anywhere on the host: security
// suite case 5), and a missing member stops the sandbox (exit 125).
//
// A member that is not a valid top-level store path is an error: fail
// closed. Its base name is then 32 nix-base32 characters, '-' and
// [A-Za-z0-9+._?=-], so never "", ".", "..", ".links", and never holds a
// '/', a space or a newline.
func StoreList(cl closure.Closure) (string, error) {
	var b strings.Builder
	b.Grow(len(StoreListHeader) + 1 + len(cl.Paths)*64)
	b.WriteString(StoreListHeader + "\n")
	for _, p := range cl.Paths {
		sp, err := closure.ParseStorePath(p)
		if err != nil {
			return "", fmt.Errorf("%w: closure member: %w", ErrBuild, err)
		}
		b.WriteString(sp.Hash + "-" + sp.Name + "\n")
	}
	return b.String(), nil
}

// WithStore gives the sandbox an empty /nix/store tmpfs and the read-only
// staging bind of the host's store nixbox-init assembles the closure from
// (see StoreList), and grants nixbox-init what the assembly needs:
// CAP_SYS_ADMIN in the sandbox's user namespace (open_tree, move_mount,
// mount_setattr, umount2) and CAP_SETPCAP (to drop both from its bounding
// set afterwards, so that no later execve as the sandbox's root can regain
// them). nixbox-init drops them from every set before it reports ready
// and checks they are gone; from then on it holds exactly CAP_SETFCAP, as
// without the assembly.
//
// Why a staging bind of the whole store is acceptable: it exists only
// while nixbox-init (PID 1, the only process of the sandbox, running its
// own code) assembles the closure; it is detached before nixbox-init
// reports ready, so before nixbox's checks and before the app, which runs
// later in a nested user namespace with no capabilities and under seccomp.
// Sources are opened beneath the staging descriptor with
// RESOLVE_NO_SYMLINKS and never re-resolved by path, and targets live on a
// fresh tmpfs nobody else can write, which keeps the path safety of runc's
// CVE-2021-30465 and CVE-2024-21626 class.
func WithStore() Opt {
	return func(s *specs.Spec) error {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: closure.StoreDir, Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "nodev", "noexec", "mode=755", storeTmpfsSize}},
			specs.Mount{Destination: StagingPath, Type: "bind", Source: closure.StoreDir,
				Options: []string{"bind", "ro", "nosuid", "nodev", "private"}})
		p := ensureProcess(s)
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := p.Capabilities
		for _, set := range []*[]string{&c.Bounding, &c.Permitted, &c.Effective} {
			*set = addCaps(*set, "CAP_SETPCAP", "CAP_SYS_ADMIN")
		}
		return nil
	}
}

// addCaps appends the capabilities set lacks, in order.
func addCaps(set []string, caps ...string) []string {
	for _, c := range caps {
		found := false
		for _, x := range set {
			found = found || x == c
		}
		if !found {
			set = append(set, c)
		}
	}
	return set
}
