// Package specinvariant checks the security invariants every OCI spec
// nixbox generates must hold (style.md §8.4, issue 4): a new user
// namespace, no capabilities for the app, no_new_privs, a read-only root,
// a closure-only read-only store, no Nix daemon socket or /nix/var, no
// /sys, nosuid,nodev binds, size-limited writable tmpfs mounts (never
// size=0 or nr_inodes=0), the compiled seccomp filter loaded by
// nixbox-init, and no mount over a path nixbox reserves.
//
// It takes no *testing.T, so the golden tests and the fuzz targets share
// the same code. It imports nothing of nixbox's: the rules are written out
// here again rather than borrowed from package profiles or specgen, so a
// bug in their checks is not also a bug in the oracle.
package specinvariant
