#!/usr/bin/env bash
# demo.sh NIXBOX FIXTURES_ENV: run the demo app twice as the unprivileged
# user nixbox-test: once directly on the host, once inside `nixbox run`,
# so the difference is the sandbox. Run as root (make demo does).
set -euo pipefail
nixbox=${1:?usage: demo.sh NIXBOX FIXTURES_ENV}
fixtures=${2:?usage: demo.sh NIXBOX FIXTURES_ENV}
user=nixbox-test
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (make demo uses sudo)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$fixtures"
home=$(getent passwd "$user" | cut -d: -f6)

# The unprivileged user must reach the binaries wherever the checkout is.
work=$(mktemp -d /tmp/nixbox-demo.XXXXXX)
trap 'rm -rf "$work"; [ -n "${listener:-}" ] && kill "$listener" 2>/dev/null || true' EXIT
chmod 755 "$work"
install -m 755 "$nixbox" "$(dirname "$nixbox")/nixbox-init" "$work/"

# A fake secret in the test account's home, and a service on the host's
# loopback: both reachable from the host, neither from the sandbox.
install -d -m 700 -o "$user" "$home/.ssh"
[ -e "$home/.ssh/id_rsa" ] || install -m 600 -o "$user" /dev/null "$home/.ssh/id_rsa"
echo "NBX-DEMO-SECRET" >"$home/.ssh/id_rsa"
port=47123
if command -v python3 >/dev/null; then
	python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
while True: s.accept()[0].close()' "$port" &
	listener=$!
	sleep 0.3
fi

cat >"$work/demo.toml" <<TOML
# The demo profile: the built-in default (no network, no host files,
# ephemeral home) plus one variable so the demo knows which port to try.
version = 1
extends = "default"
description = "nixbox demo"
[app]
package = "$DEMO"
command = "bin/nixbox-demo"
[env]
pass = ["NIXBOX_DEMO_PORT"]
TOML
chmod 644 "$work/demo.toml"

as_user() {
	runuser -u "$user" -- env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 NIXBOX_DEMO_PORT=$port "$@"
}

echo
echo "=== 1. The demo app run directly on the host, as $user ==="
as_user "$DEMO/bin/nixbox-demo" || true
echo
echo "=== 2. The same app under nixbox: nixbox run $work/demo.toml ==="
as_user "$work/nixbox" run "$work/demo.toml"
echo
echo "=== 3. What the profile allows: nixbox explain ==="
as_user "$work/nixbox" explain "$work/demo.toml"
