#!/usr/bin/env bash
# setup-bench.sh: install the peers and tools `make bench` compares nixbox
# with (host-facts §1): hyperfine, bubblewrap, crun, runc and GNU time, all
# Debian packages, installed with apt only. Run as root after setup-host.sh.
# Idempotent: installs only what is missing; changes nothing else on the host
# (in particular, never the cgroup layout: see bench/ and host-facts §2).
set -euo pipefail

log() { printf 'setup-bench: %s\n' "$*"; }
die() { printf 'setup-bench: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get)"
command -v apt-get >/dev/null || die "apt-get not found (Debian or Ubuntu required)"
export DEBIAN_FRONTEND=noninteractive

pkgs=(hyperfine bubblewrap crun runc time util-linux)
"$(dirname "$0")/apt-missing.sh" setup-bench "${pkgs[@]}"
for t in hyperfine bwrap crun runc /usr/bin/time; do
	command -v "$t" >/dev/null || die "$t not found after installing ${pkgs[*]}"
done
log "versions: $(hyperfine --version), bwrap $(bwrap --version | awk '{print $2}'), crun $(crun --version | awk 'NR==1{print $3}'), runc $(runc --version | awk 'NR==1{print $3}')"
