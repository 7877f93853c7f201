#!/usr/bin/env bash
# setup-host.sh: prepare a fresh Debian 12 / Ubuntu machine for nixbox's
# tests and demo. Run as root. Idempotent: a second run changes nothing.
#
# What it does (one output line per step):
#   1. apt-get install the packages that are missing (no other downloads);
#      nix-bin only when no nix-store is on PATH.
#   2. If Nix came from Debian/Ubuntu, make /etc/nix/nix.conf single-user
#      (host-facts §3.1) without clobbering an admin's config: a file that
#      is not the packaged default only gets the missing keys appended
#      after a marker comment, and a backup is kept.
#   3. Create the unprivileged test user nixbox-test (useradd -m, which
#      also allocates a /etc/subuid and /etc/subgid range).
set -euo pipefail

log() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v apt-get >/dev/null || die "apt-get not found (Debian or Ubuntu required)"

export DEBIAN_FRONTEND=noninteractive

# ---- 1. packages -----------------------------------------------------------
pkgs=(gcc libc6-dev make pkg-config libseccomp-dev libsqlite3-dev patchelf uidmap runc sqlite3
	procps util-linux iproute2)
if ! command -v nix-store >/dev/null; then
	pkgs+=(nix-bin)
fi

"$(dirname "$0")/apt-missing.sh" setup-host "${pkgs[@]}"

# ---- 2. nix.conf -----------------------------------------------------------
conf=/etc/nix/nix.conf
marker='# nixbox: single-user settings (scripts/setup-host.sh)'
# key<TAB>line, in the order of host-facts §3.1.
settings=(
	$'sandbox\tsandbox = false'
	$'build-users-group\tbuild-users-group ='
	$'substituters\tsubstituters ='
	$'experimental-features\texperimental-features = nix-command'
	$'max-jobs\tmax-jobs = auto'
)

nix_from_distro() {
	local ns
	ns=$(command -v nix-store) || return 1
	ns=$(readlink -f "$ns")
	dpkg -S "$ns" >/dev/null 2>&1
}

# conf_is_default succeeds when $conf is byte-identical to the conffile
# shipped by whichever package owns it (nix-setup-systemd on Debian 12).
conf_is_default() {
	local owner want have
	owner=$(dpkg -S "$conf" 2>/dev/null | cut -d: -f1 | head -n1) || return 1
	[ -n "$owner" ] || return 1
	want=$(dpkg-query -W -f='${Conffiles}\n' "$owner" 2>/dev/null |
		awk -v f="$conf" '$1 == f { print $2 }')
	have=$(md5sum "$conf" | cut -d' ' -f1)
	[ -n "$want" ] && [ "$want" = "$have" ]
}

has_key() {
	grep -Eq "^[[:space:]]*$1[[:space:]]*=" "$conf"
}

if ! nix_from_distro; then
	log "nix.conf: Nix is not a distro package, leaving $conf alone"
else
	mkdir -p /etc/nix
	if [ ! -e "$conf" ]; then
		{
			echo "$marker"
			for s in "${settings[@]}"; do echo "${s#*$'\t'}"; done
		} >"$conf"
		chmod 0644 "$conf"
		log "nix.conf: wrote $conf"
	else
		add=()
		for s in "${settings[@]}"; do
			has_key "${s%%$'\t'*}" || add+=("${s#*$'\t'}")
		done
		if [ ${#add[@]} -eq 0 ]; then
			log "nix.conf: all settings present in $conf"
		else
			backup="$conf.nixbox-backup.$(date +%Y%m%d%H%M%S)"
			cp -p "$conf" "$backup"
			if conf_is_default; then
				why="packaged default"
			else
				why="admin-modified"
			fi
			{
				# End a last line that lacks a newline before appending.
				[ -z "$(tail -c1 "$conf")" ] || echo
				grep -qxF "$marker" "$conf" || echo "$marker"
				for l in "${add[@]}"; do echo "$l"; done
			} >>"$conf"
			log "nix.conf: $why $conf, appended: $(printf '"%s"; ' "${add[@]}")(backup: $backup)"
		fi
	fi
fi

# ---- 3. test user ----------------------------------------------------------
user=nixbox-test
if id "$user" >/dev/null 2>&1; then
	log "user: $user exists"
else
	useradd -m -s /bin/bash "$user"
	log "user: created $user"
fi
if grep -q "^$user:" /etc/subuid && grep -q "^$user:" /etc/subgid; then
	log "user: $user has subuid $(grep "^$user:" /etc/subuid | cut -d: -f2-) and subgid $(grep "^$user:" /etc/subgid | cut -d: -f2-)"
else
	log "user: warning: $user has no /etc/subuid or /etc/subgid range (multi-uid maps will not work)"
fi

log "done"
