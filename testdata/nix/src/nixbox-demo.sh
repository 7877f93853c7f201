#!@bash@/bin/bash
# nixbox-demo: show what a sandboxed app can and cannot see. Every line
# starts with CAN or CANNOT. @...@ placeholders are filled in by the
# fixture builder (testdata/nix/fixtures.nix).
set -u
PATH=@coreutils@/bin
export PATH
closure_size=@closureSize@
port=${NIXBOX_DEMO_PORT:-22}

say() { printf '%s\n' "$*"; }

say "CAN run as $(id 2>&1)"

if entries=$(ls -A /nix/store 2>/dev/null); then
	n=0
	[ -z "$entries" ] || n=$(printf '%s\n' "$entries" | wc -l)
	if [ "$n" -le "$closure_size" ]; then
		say "CANNOT see the host store: /nix/store lists $n entries, this app's closure has $closure_size paths"
	else
		say "CAN see the host store: /nix/store lists $n entries, more than this app's closure of $closure_size paths"
	fi
else
	say "CANNOT list /nix/store"
fi

for f in "$HOME/.ssh/id_rsa" /etc/shadow /etc/passwd; do
	if head -c 1 "$f" >/dev/null 2>&1; then
		say "CAN read $f"
	else
		say "CANNOT read $f"
	fi
done

probe=/nix/store/.nixbox-demo-probe-$$
if (: >"$probe") 2>/dev/null; then
	rm -f "$probe"
	say "CAN write /nix/store"
else
	say "CANNOT write /nix/store"
fi

if (: >"$HOME/.nixbox-demo-probe") 2>/dev/null; then
	rm -f "$HOME/.nixbox-demo-probe"
	say "CAN write \$HOME ($HOME)"
else
	say "CANNOT write \$HOME ($HOME)"
fi

if msg=$(timeout 3 @bash@/bin/bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>&1); then
	say "CAN connect to 127.0.0.1:$port"
else
	msg=${msg##*: }
	say "CANNOT connect to 127.0.0.1:$port (${msg:-timed out})"
fi

if [ -r /proc/net/dev ]; then
	ifs=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')
	say "CAN see network interfaces: ${ifs% }"
else
	say "CANNOT see network interfaces"
fi

pids=
for d in /proc/[0-9]*; do
	[ -d "$d" ] && pids="$pids ${d#/proc/}"
done
set -- $pids
say "CAN see $# processes in /proc:$pids"
