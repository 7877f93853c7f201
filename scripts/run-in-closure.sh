#!/bin/sh
# run-in-closure.sh STOREPATH CMD [ARG...]: run CMD in a throwaway chroot
# that holds nothing but the Nix closure of STOREPATH (nix-store -qR), a
# private /proc, /dev/null and a tmpfs /tmp. A smoke test for the fixtures
# (a program that needs anything outside its closure fails), not a sandbox:
# no seccomp, no capability drop. Needs util-linux unshare and a user
# namespace; run as root (nix-store -qR needs the store lock).
#
# Closure members that are symlinks are recreated as symlinks, never
# followed.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 STOREPATH CMD [ARG...]" >&2; exit 2; }
root=$1
shift
case $root in /nix/store/*) ;; *) echo "$0: not a store path: $root" >&2; exit 2 ;; esac

paths=$(nix-store --query --requisites -- "$root")

# The inner script runs inside the new namespaces, still on the host root.
inner='
set -eu
r=$(mktemp -d)
mount -t tmpfs -o mode=0755 tmpfs "$r"
for p in $NIXBOX_CLOSURE; do
	if [ -L "$p" ]; then
		mkdir -p "$r$(dirname "$p")"
		ln -s "$(readlink "$p")" "$r$p"
	elif [ -d "$p" ]; then
		mkdir -p "$r$p"
		mount --bind -o ro "$p" "$r$p"
	else
		mkdir -p "$r$(dirname "$p")"
		: >"$r$p"
		mount --bind -o ro "$p" "$r$p"
	fi
done
mkdir -p "$r/proc" "$r/tmp" "$r/dev"
mount -t proc proc "$r/proc"
mount -t tmpfs tmpfs "$r/tmp"
: >"$r/dev/null"
mount --bind /dev/null "$r/dev/null"
mount -o remount,ro "$r"
unset NIXBOX_CLOSURE
exec chroot "$r" "$@"
'
NIXBOX_CLOSURE=$paths exec env -i NIXBOX_CLOSURE="$paths" HOME=/tmp \
	PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	unshare --user --map-root-user --mount --pid --net --ipc --uts --fork \
	/bin/sh -c "$inner" sh "$@"
