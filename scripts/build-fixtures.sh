#!/usr/bin/env bash
# build-fixtures.sh: build the Nix store fixtures of testdata/nix/fixtures.nix
# and write their store paths for tests. Run as root after setup-host.sh.
#
# Outputs (all readable by the unprivileged test user):
#   build/fixtures/index   gcroot (nix-build -o) that references every fixture
#   build/fixtures.env     KEY=/nix/store/... lines (shell-sourceable)
#   build/fixtures.json    the same as one JSON object
#
# Idempotent: when nothing changed, Nix builds nothing and the files are
# left untouched (well under a second).
#
# Options:
#   --salt S     force fresh rebuilds of every fixture (new store paths)
#   --no-smoke   skip running the fixtures in closure-only chroots
set -euo pipefail
umask 022

log() { printf 'build-fixtures: %s\n' "$*"; }
die() { printf 'build-fixtures: error: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
salt=
smoke=1
while [ $# -gt 0 ]; do
	case $1 in
	--salt) salt=${2:?--salt needs a value}; shift 2 ;;
	--no-smoke) smoke=0; shift ;;
	*) die "unknown argument: $1" ;;
	esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (single-user Nix, host-facts §3.1)"
command -v nix-build >/dev/null || die "nix-build not found: run scripts/setup-host.sh"
start=$(date +%s%N)

# A fingerprint of the host packages the fixtures copy: an upgrade of any
# of them rebuilds the copies (Nix can't see host files change).
host_id=$(dpkg-query -W -f='${Package}=${Version}\n' \
	libc6 coreutils bash libpcre2-8-0 libselinux1 libtinfo6 \
	python3.11-minimal libpython3.11-stdlib curl libcurl4 gcc 2>/dev/null |
	sha256sum | cut -c1-16)

out=$repo/build/fixtures
mkdir -p "$out"
args=(--argstr hostId "$host_id")
[ -z "$salt" ] || args+=(--argstr salt "$salt")

log "nix-build testdata/nix/fixtures.nix -A index (log: build/fixtures/build.log)"
if ! nix-build "$repo/testdata/nix/fixtures.nix" -A index "${args[@]}" \
	-o "$out/index" >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	die "nix-build failed"
fi
index=$(readlink -f "$out/index")
log "index: $index"

# Copy the key files only when they changed, so mtimes stay put.
for f in fixtures.env fixtures.json; do
	if ! cmp -s "$index/$f" "$repo/build/$f"; then
		install -m 0644 "$index/$f" "$repo/build/$f.tmp"
		mv -f "$repo/build/$f.tmp" "$repo/build/$f"
		log "wrote build/$f"
	else
		log "build/$f unchanged"
	fi
done

# shellcheck disable=SC1091
. "$repo/build/fixtures.env"

# Closure sizes are part of the fixtures' contract (host-facts §3.2).
check_size() { # KEY WANT
	local path=${!1} n
	n=$(nix-store --query --requisites -- "$path" | wc -l)
	[ "$n" -eq "$2" ] || die "closure($1) has $n paths, want $2"
}
check_size APP10 10
check_size APP100 100
check_size APP500 500
check_size COREUTILS 4
check_size BASH 3
check_size HELLO 2
log "closure sizes ok: app10=10 app100=100 app500=500 coreutils=4 bash=3 hello=2"

if [ "$smoke" -eq 1 ]; then
	run=$repo/scripts/run-in-closure.sh
	expect() { # WANT KEY CMD...
		local want=$1 key=$2 got
		shift 2
		got=$("$run" "${!key}" "$@" 2>&1 | head -n 1) || true
		[ "$got" = "$want" ] || die "smoke: $key $*: got \"$got\", want \"$want\""
	}
	expect "hello from the nix store" HELLO "$HELLO/bin/hello"
	expect "1" PYTHON3 "$PYTHON3/bin/python3" -c 'import json,os,socket; print(1)'
	expect "ok" BASH "$BASH/bin/bash" -c 'echo ok'
	expect "ok" COREUTILS "$COREUTILS/bin/echo" ok
	expect "" APP10 "$APP10/bin/app10"
	got=$("$run" "$CURL" "$CURL/bin/curl" --version | head -n 1)
	case $got in curl\ *) ;; *) die "smoke: curl --version: got \"$got\"" ;; esac
	# Proof that the chroot holds only the closure: coreutils is not in
	# hello's closure.
	if "$run" "$HELLO" "$COREUTILS/bin/true" 2>/dev/null; then
		die "smoke: coreutils ran outside its closure"
	fi
	log "smoke ok: hello, python3, bash, coreutils, app10, curl run with only their closure"
fi

# Non-root readers of the DB (host-facts §3.4): fold the WAL into the main
# file, so an immutable=1 reader sees every path, and keep the DB files
# world-readable (never world-writable).
db=/nix/var/nix/db/db.sqlite
if [ -e "$db-wal" ] && command -v sqlite3 >/dev/null; then
	sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null && log "db: checkpointed WAL"
fi
for f in "$db" "$db-wal" "$db-shm"; do
	[ -e "$f" ] && chmod go+r,go-w "$f"
done
chmod go+rx,go-w /nix/var/nix/db
log "db: $(stat -c '%A %n' "$db")"

chmod a+rx "$repo/build"
chmod -R a+rX "$out" "$repo/build/fixtures.env" "$repo/build/fixtures.json"
ms=$((($(date +%s%N) - start) / 1000000))
log "done in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
