#!/usr/bin/env bash
# apt-missing.sh NAME PKG...: install with apt only the Debian packages that
# are not installed yet; print one line as NAME. Shared by setup-host.sh
# and setup-bench.sh. Run as root.
set -euo pipefail
name=$1
shift
export DEBIAN_FRONTEND=noninteractive
installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}
missing=()
for p in "$@"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	printf '%s: packages: all present (%s)\n' "$name" "$*"
	exit 0
fi
printf '%s: packages: installing %s\n' "$name" "${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
printf '%s: packages: installed %s\n' "$name" "${missing[*]}"
