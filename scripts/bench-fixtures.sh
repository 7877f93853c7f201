#!/usr/bin/env bash
# bench-fixtures.sh: build the benchmark-only fixtures of
# testdata/nix/fixtures.nix (app2000: a synthetic closure of exactly 2000
# paths) and append their store paths to build/bench/fixtures.env, next to
# the test fixtures' keys. Run as root after scripts/build-fixtures.sh.
#
# app2000 is not part of the index that `make test` builds: a cold build is
# ~1500 more trivial derivations (about 100 s here); afterwards it is
# a no-op (< 1 s). The gcroot build/bench/app2000 keeps it alive.
set -euo pipefail
umask 022

log() { printf 'bench-fixtures: %s\n' "$*"; }
die() { printf 'bench-fixtures: error: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || die "must run as root (single-user Nix, host-facts §3.1)"
[ -r "$repo/build/fixtures.env" ] || die "build/fixtures.env missing: run scripts/build-fixtures.sh"

# The same host fingerprint as scripts/build-fixtures.sh, so app2000 shares
# glibc (and the syn-lib chain) with the test fixtures instead of
# rebuilding them. Keep the two lists in sync.
host_id=$(dpkg-query -W -f='${Package}=${Version}\n' \
	libc6 coreutils bash libpcre2-8-0 libselinux1 libtinfo6 \
	python3.11-minimal libpython3.11-stdlib curl libcurl4 gcc 2>/dev/null |
	sha256sum | cut -c1-16)

out=$repo/build/bench
mkdir -p "$out"
start=$(date +%s%N)
log "nix-build testdata/nix/fixtures.nix -A app2000 (log: build/bench/build.log)"
if ! nix-build "$repo/testdata/nix/fixtures.nix" -A app2000 --argstr hostId "$host_id" \
	-o "$out/app2000" >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	die "nix-build failed"
fi
app2000=$(readlink -f "$out/app2000")
n=$(nix-store --query --requisites -- "$app2000" | wc -l)
[ "$n" -eq 2000 ] || die "closure(APP2000) has $n paths, want 2000"

{
	cat "$repo/build/fixtures.env"
	echo "APP2000=$app2000"
} >"$out/fixtures.env.tmp"
mv -f "$out/fixtures.env.tmp" "$out/fixtures.env"

# Non-root readers of the DB (host-facts §3.4), as build-fixtures.sh does:
# fold the WAL into the main file and keep the DB world-readable.
db=/nix/var/nix/db/db.sqlite
if [ -e "$db-wal" ] && command -v sqlite3 >/dev/null; then
	sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
fi
for f in "$db" "$db-wal" "$db-shm"; do
	[ -e "$f" ] && chmod go+r,go-w "$f"
done
chmod a+rx "$repo/build" "$out"
chmod a+r "$out/fixtures.env"
ms=$((($(date +%s%N) - start) / 1000000))
log "APP2000=$app2000 (2000 paths) in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
