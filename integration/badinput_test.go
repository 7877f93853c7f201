//go:build integration

package integration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	h "github.com/nixbox/nixbox/integration/harness"
)

// Bad input (security suite §6.1–6.5, §6.8) through the real binary, as
// every runner: the right exit code, one error line (plus at most one
// hint), errors located in the profile file, nothing on stdout and
// nothing written to the runner's home or state dir.

// badCase is one bad input.
type badCase struct {
	name string
	// body, when set, is written as a profile file (raw bytes allowed); the
	// profile is then run through `run`, `spec` and `explain` with
	// --profile FILE, unless args is set. "$P" in args is the file path.
	body string
	// setup runs before the snapshot; p is the profile path ("" if none).
	setup func(t *testing.T, r *h.Runner, p string)
	// args is the command line; "$P" is the profile path, "$ECHO" the
	// fixture echo, "$CU" the coreutils store path.
	args []string
	// code is the exit status of args (or of `run` for profile cases).
	code int
	// file is where a profile error must be located: "" = the profile file
	// itself when body is set; "-" = not located in a file.
	file func(r *h.Runner, p string) string
	line int    // the line in the profile file; 0 = a file-level error
	key  string // the key path after FILE:LINE:COL:
	msg  string // a substring of the error line
	hint string // a substring of the hint line; "" = no check
}

// badStorePaths are malformed store paths (6.3).
const (
	goodHash = "0c0vq7rkbmhh2rdrhvn2hm4m4kc8mr3z"
	upHash   = "0C0VQ7RKBMHH2RDRHVN2HM4M4KC8MR3Z"
)

func letterHash(c byte) string { return strings.Repeat(string(c), 32) }

func badCases(t *testing.T) []badCase {
	cu := h.Fixture(t, "COREUTILS")
	v1 := "version = 1\n"
	ext := v1 + "extends = \"default\"\n"
	// Profile errors: the line and key path are the golden ones of
	// profiles/testdata/errors.golden, seen through the binary.
	cs := []badCase{
		// 6.1 structure and types
		{name: "unknown key", body: v1 + "netwrok = false\n", line: 2, key: "netwrok", msg: `unknown key "netwrok"`, hint: `did you mean "network"?`},
		{name: "unknown nested key", body: v1 + "[filesystem]\nrox = []\n", line: 3, key: "filesystem.rox", msg: `unknown key "rox"`, hint: `did you mean "ro"?`},
		{name: "unknown section", body: v1 + "[sandbox]\nx = 1\n", line: 2, key: "sandbox", msg: `unknown key "sandbox"`, hint: "known keys here"},
		{name: "unknown bind key", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndst = \"/x\"\n", line: 4, key: "filesystem.bind[0].dst", msg: `unknown key "dst"`, hint: `did you mean "dest"?`},
		{name: "network as string", body: v1 + "network = \"false\"\n", line: 2, key: "network", msg: "expected a table, found a string"},
		{name: "memory as bool", body: v1 + "[limits]\nmemory = true\n", line: 3, key: "limits.memory", msg: "expected a string, found a boolean"},
		{name: "bind as string", body: v1 + "[filesystem]\nbind = \"/x\"\n", line: 3, key: "filesystem.bind", msg: "expected a list, found a string"},
		{name: "pids as float", body: v1 + "[limits]\npids = 1.5\n", line: 3, key: "limits.pids", msg: "expected an integer, found a float"},
		{name: "version as string", body: "version = \"1\"\n", line: 1, key: "version", msg: "expected an integer"},
		{name: "duplicate key", body: v1 + v1, line: 2, key: "version", msg: "duplicate key"},
		{name: "duplicate table", body: v1 + "[app]\nargs = []\n[app]\ncommand = \"bin/x\"\n", line: 4, key: "app", msg: "duplicate table"},
		{name: "missing version", body: "description = \"x\"\n", line: 1, key: "version", msg: "missing version (this nixbox supports version 1)", hint: "version = 1"},
		{name: "unsupported version", body: "version = 2\n", line: 1, key: "version", msg: "unsupported version 2 (this nixbox supports version 1)"},
		{name: "empty file", body: "", msg: "empty profile"},
		{name: "only comments", body: "# nothing\n\n# here\n", msg: "empty profile"},
		{name: "trailing garbage", body: "version = 1 x\n", line: 1, msg: "unexpected text after value"},
		{name: "several documents", body: v1 + "---\nversion = 1\n", line: 2, key: "---"},
		{name: "invalid utf-8", body: v1 + "# \xff\xfe\n", line: 2, msg: "invalid UTF-8"},
		{name: "byte-order mark", body: "\xef\xbb\xbf" + v1, line: 1, msg: "byte-order mark"},
		{name: "embedded NUL", body: "version = 1\x00\n", line: 1, msg: "NUL byte"},
		{name: "file over 1 MiB", body: v1 + "# " + strings.Repeat("x", 1<<20) + "\n", msg: "file too large"},
		{name: "list over 4096 entries", body: v1 + "[app]\nargs = [" + strings.Repeat("\"a\",", 4097) + "]\n", line: 3, key: "app.args", msg: "more than 4096 entries"},
		{name: "nesting deeper than 32", body: v1 + "[app]\nargs = " + strings.Repeat("[", 33) + strings.Repeat("]", 33) + "\n", line: 3, msg: "value nested too deeply (limit 32)"},

		// 6.2 paths
		{name: "relative path", body: v1 + "[filesystem]\nro = [\"Documents\"]\n", line: 3, key: "filesystem.ro[0]", msg: `relative path "Documents" (must be absolute)`},
		{name: "dot relative path", body: v1 + "[filesystem]\nro = [\"./x\"]\n", line: 3, key: "filesystem.ro[0]", msg: "must be absolute"},
		{name: "tilde user", body: v1 + "[filesystem]\nro = [\"~root/x\"]\n", line: 3, key: "filesystem.ro[0]", msg: "~user paths are not supported"},
		{name: "empty path", body: v1 + "[[filesystem.bind]]\nsource = \"\"\n", line: 3, key: "filesystem.bind[0].source", msg: "empty path"},
		{name: "dotdot absolute", body: v1 + "[filesystem]\nro = [\"/home/u/../../etc\"]\n", line: 3, key: "filesystem.ro[0]", msg: "'..' in path"},
		{name: "dotdot under home", body: v1 + "[filesystem]\nrw = [\"~/x/../../.ssh\"]\n", line: 3, key: "filesystem.rw[0]", msg: "'..' in path"},
		{name: "escape char in path", body: v1 + "[filesystem]\nro = [\"/a\\u001b[2J\"]\n", line: 3, key: "filesystem.ro[0]", msg: `non-graphical character in path "/a\x1b[2J"`},
		{name: "newline in path", body: v1 + "[filesystem]\nro = [\"/a\\nb\"]\n", line: 3, key: "filesystem.ro[0]", msg: `non-graphical character in path "/a\nb"`},
		{name: "tab in path", body: v1 + "[filesystem]\nro = [\"/a\\tb\"]\n", line: 3, key: "filesystem.ro[0]", msg: "non-graphical character"},
		{name: "NUL in path", body: v1 + "[filesystem]\nro = [\"/a\\u0000b\"]\n", line: 3, key: "filesystem.ro[0]", msg: "non-graphical character"},
		{name: "path component over 255 bytes", body: v1 + "[filesystem]\nro = [\"/" + strings.Repeat("a", 256) + "\"]\n", line: 3, key: "filesystem.ro[0]", msg: "path component too long (more than 255 bytes)"},
		{name: "path over 4095 bytes", body: v1 + "[filesystem]\nro = [\"" + strings.Repeat("/"+strings.Repeat("a", 200), 21) + "\"]\n", line: 3, key: "filesystem.ro[0]", msg: "path too long (more than 4095 bytes)"},
		{name: "double slash", body: v1 + "[filesystem]\nro = [\"/usr//share\"]\n", line: 3, key: "filesystem.ro[0]", msg: "empty path component"},
		{name: "dot component", body: v1 + "[filesystem]\nro = [\"/usr/./share\"]\n", line: 3, key: "filesystem.ro[0]", msg: "'.' component in path"},
		{name: "trailing slash", body: v1 + "[filesystem]\nro = [\"/usr/share/\"]\n", line: 3, key: "filesystem.ro[0]", msg: "empty path component"},
		{name: "expansion to dotdot", body: v1 + "[filesystem]\nro = [\"$HOME/../x\"]\n", line: 3, key: "filesystem.ro[0]", msg: "'..' in path"},
		{name: "unknown variable", body: v1 + "[filesystem]\nro = [\"$FOO/x\"]\n", line: 3, key: "filesystem.ro[0]", msg: "unknown variable $FOO", hint: "allowed: $HOME"},
		{name: "dest proc", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/proc\"\n", line: 4, key: "filesystem.bind[0].dest", msg: `destination "/proc" is reserved`},
		{name: "dest nix store", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/nix/store/x\"\n", line: 4, key: "filesystem.bind[0].dest", msg: "is reserved"},
		{name: "dest passwd", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/etc/passwd\"\n", line: 4, key: "filesystem.bind[0].dest", msg: "is reserved"},
		{name: "dest dev", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/dev/x\"\n", line: 4, key: "filesystem.bind[0].dest", msg: "is reserved"},
		{name: "dest root", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/\"\n", line: 4, key: "filesystem.bind[0].dest", msg: `destination "/" is reserved`},
		{name: "dest nix", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/nix\"\n", line: 4, key: "filesystem.bind[0].dest", msg: `destination "/nix" is reserved`},
		{name: "dest run nixbox", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/run/nixbox\"\n", line: 4, key: "filesystem.bind[0].dest", msg: "is reserved"},
		{name: "dest run", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/run\"\n", line: 4, key: "filesystem.bind[0].dest", msg: `destination "/run" is reserved`},
		{name: "dest run trailing slash", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/run/\"\n", line: 4, key: "filesystem.bind[0].dest", msg: "empty path component"},
		{name: "tmpfs on run", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/run\"\n", line: 3, key: "filesystem.tmpfs[0].dest", msg: `destination "/run" is reserved`},
		{name: "dest nixbox-info", body: v1 + "[[filesystem.bind]]\nsource = \"/usr/share\"\ndest = \"/.nixbox-info\"\n", line: 4, key: "filesystem.bind[0].dest", msg: "is reserved"},
		{name: "implicit dest reserved", body: v1 + "[filesystem]\nro = [\"/proc/sys\"]\n", line: 3, key: "filesystem.ro[0]"},
		{name: "tmpfs on proc", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/proc/x\"\n", line: 3, key: "filesystem.tmpfs[0].dest", msg: "is reserved"},
		{name: "source proc fd", body: v1 + "[filesystem]\nro = [\"/proc/self/fd/0\"]\n", line: 3, key: "filesystem.ro[0]", msg: "pseudo file system"},
		{name: "source sys", body: v1 + "[[filesystem.bind]]\nsource = \"/sys\"\ndest = \"/hostsys\"\n", line: 3, key: "filesystem.bind[0].source", msg: "pseudo file system"},
		{name: "source dev whole", body: v1 + "[[filesystem.bind]]\nsource = \"/dev\"\ndest = \"/hostdev\"\n", line: 3, key: "filesystem.bind[0].source", msg: "pseudo file system"},
		{name: "source device node", body: v1 + "[filesystem]\nro = [\"/dev/kvm\"]\n", line: 3, key: "filesystem.ro[0]", msg: "pseudo file system"},
		{name: "escape ssh", body: v1 + "[filesystem]\nro = [\"~/.ssh\"]\n", line: 3, key: "filesystem.ro[0]", msg: "sandbox-escape-equivalent", hint: "unsafe"},
		{name: "escape home", body: v1 + "[filesystem]\nrw = [\"~\"]\n", line: 3, key: "filesystem.rw[0]", msg: "sandbox-escape-equivalent", hint: "unsafe"},
		{name: "escape nix var", body: v1 + "[[filesystem.bind]]\nsource = \"/nix/var\"\ndest = \"/x\"\n", line: 3, key: "filesystem.bind[0].source", msg: "sandbox-escape-equivalent"},
		{name: "escape root", body: v1 + "[[filesystem.bind]]\nsource = \"/\"\ndest = \"/host\"\n", line: 3, key: "filesystem.bind[0].source", msg: "sandbox-escape-equivalent"},
		{name: "escape run secrets", body: v1 + "[filesystem]\nro = [\"/run/secrets\"]\n", line: 3, key: "filesystem.ro[0]", msg: "sandbox-escape-equivalent", hint: "unsafe"},
		{name: "escape docker socket", body: v1 + "[filesystem]\nro = [\"/var/run/docker.sock\"]\n", line: 3, key: "filesystem.ro[0]", msg: "sandbox-escape-equivalent"},
		{name: "escape gnupg", body: v1 + "[filesystem]\nro = [\"~/.gnupg\"]\n", line: 3, key: "filesystem.ro[0]", msg: "sandbox-escape-equivalent"},
		{name: "escape nixbox config", body: v1 + "[filesystem]\nro = [\"~/.config/nixbox\"]\n", line: 3, key: "filesystem.ro[0]", msg: "sandbox-escape-equivalent"},
		{name: "escape runtime dir", body: v1 + "[filesystem]\nro = [\"/run/user/0\"]\n", line: 3, key: "filesystem.ro[0]", msg: "sandbox-escape-equivalent"},

		// 6.3 packages and store paths in a profile
		{name: "package uppercase", body: v1 + "[app]\npackage = \"/nix/store/" + upHash + "-jq\"\n", line: 3, key: "app.package", msg: "invalid store path"},
		{name: "package letter e", body: v1 + "[app]\npackage = \"/nix/store/" + letterHash('e') + "-jq\"\n", line: 3, key: "app.package", msg: "invalid store path"},
		{name: "package letter t", body: v1 + "[app]\npackage = \"/nix/store/" + letterHash('t') + "-jq\"\n", line: 3, key: "app.package", msg: "invalid store path"},
		{name: "package dotdot", body: v1 + "[app]\npackage = \"/nix/store/../etc\"\n", line: 3, key: "app.package", msg: "invalid store path"},
		{name: "package drv", body: v1 + "[app]\npackage = \"/nix/store/" + goodHash + "-jq.drv\"\n", line: 3, key: "app.package", msg: "is a derivation"},
		{name: "package option", body: v1 + "[app]\npackage = \"--option\"\n", line: 3, key: "app.package", msg: "starts with '-'"},
		{name: "command dotdot", body: v1 + "[app]\ncommand = \"bin/../../etc/x\"\n", line: 3, key: "app.command", msg: "clean path"},

		// 6.4 limits and numbers: bubblewrap's bogus --size vector
		{name: "tmpfs size 0", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nsize = \"0\"\n", line: 4, key: "filesystem.tmpfs[0].size", msg: `invalid size "0"`},
		{name: "tmpfs size bogus", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nsize = \"123bogus\"\n", line: 4, key: "filesystem.tmpfs[0].size", msg: `invalid size "123bogus"`},
		{name: "tmpfs size empty", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nsize = \"\"\n", line: 4, key: "filesystem.tmpfs[0].size", msg: `invalid size ""`},
		{name: "tmpfs size negative", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nsize = \"-1\"\n", line: 4, key: "filesystem.tmpfs[0].size", msg: `invalid size "-1"`},
		{name: "tmpfs size space negative", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nsize = \" -1\"\n", line: 4, key: "filesystem.tmpfs[0].size", msg: `invalid size " -1"`},
		{name: "tmpfs size 2^64", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nsize = \"18446744073709551616\"\n", line: 4, key: "filesystem.tmpfs[0].size", msg: "invalid size"},
		{name: "tmpfs size 2^63+1", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nsize = \"9223372036854775809\"\n", line: 4, key: "filesystem.tmpfs[0].size", msg: "invalid size"},
		// Security suite case 59: nr_inodes 0 would be no limit to the kernel.
		{name: "tmpfs nr_inodes 0", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nnr_inodes = 0\n", line: 4, key: "filesystem.tmpfs[0].nr_inodes", msg: "nr_inodes out of range (1 to 16777216)", hint: "no limit"},
		{name: "tmpfs nr_inodes negative", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nnr_inodes = -1\n", line: 4, key: "filesystem.tmpfs[0].nr_inodes", msg: "nr_inodes out of range"},
		{name: "tmpfs nr_inodes string", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nnr_inodes = \"4096\"\n", line: 4, key: "filesystem.tmpfs[0].nr_inodes", msg: "expected an integer, found a string"},
		{name: "tmpfs nr_inodes float", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nnr_inodes = 1.5\n", line: 4, key: "filesystem.tmpfs[0].nr_inodes", msg: "expected an integer, found a float"},
		{name: "tmpfs nr_inodes over 2^24", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nnr_inodes = 16777217\n", line: 4, key: "filesystem.tmpfs[0].nr_inodes", msg: "nr_inodes out of range"},
		{name: "tmpfs nr_inodes 2^64", body: v1 + "[[filesystem.tmpfs]]\ndest = \"/scratch\"\nnr_inodes = 18446744073709551616\n", line: 4, key: "filesystem.tmpfs[0].nr_inodes", msg: "integer out of range"},
		{name: "home size bogus", body: v1 + "[home]\nsize = \"1Q\"\n", line: 3, key: "home.size"},
		// The ephemeral home's inode limit, like a tmpfs's (case 59).
		{name: "home nr_inodes 0", body: v1 + "[home]\nnr_inodes = 0\n", line: 3, key: "home.nr_inodes", msg: "nr_inodes out of range (1 to 16777216)", hint: "no limit"},
		{name: "home nr_inodes negative", body: v1 + "[home]\nnr_inodes = -1\n", line: 3, key: "home.nr_inodes", msg: "nr_inodes out of range"},
		{name: "home nr_inodes string", body: v1 + "[home]\nnr_inodes = \"4096\"\n", line: 3, key: "home.nr_inodes", msg: "expected an integer, found a string"},
		{name: "home nr_inodes float", body: v1 + "[home]\nnr_inodes = 1.5\n", line: 3, key: "home.nr_inodes", msg: "expected an integer, found a float"},
		{name: "home nr_inodes over 2^24", body: v1 + "[home]\nnr_inodes = 16777217\n", line: 3, key: "home.nr_inodes", msg: "nr_inodes out of range"},
		{name: "home nr_inodes 0 persistent", body: v1 + "[home]\nmode = \"persistent\"\nnr_inodes = 0\n", line: 4, key: "home.nr_inodes", msg: "nr_inodes out of range", hint: "no limit"},
		{name: "memory zero", body: v1 + "[limits]\nmemory = \"0\"\n", line: 3, key: "limits.memory", msg: "invalid memory size"},
		{name: "memory negative", body: v1 + "[limits]\nmemory = \"-1\"\n", line: 3, key: "limits.memory", msg: "invalid memory size"},
		{name: "memory 1e30", body: v1 + "[limits]\nmemory = \"1e30\"\n", line: 3, key: "limits.memory", msg: "invalid memory size"},
		{name: "memory unknown suffix", body: v1 + "[limits]\nmemory = \"1Q\"\n", line: 3, key: "limits.memory", msg: "invalid memory size"},
		{name: "memory ambiguous m", body: v1 + "[limits]\nmemory = \"1m\"\n", line: 3, key: "limits.memory", msg: "invalid memory size"},
		{name: "memory over 2^63", body: v1 + "[limits]\nmemory = \"9223372036854775808\"\n", line: 3, key: "limits.memory", msg: "out of range"},
		{name: "pids zero", body: v1 + "[limits]\npids = 0\n", line: 3, key: "limits.pids", msg: "out of range"},
		{name: "pids over 2^22", body: v1 + "[limits]\npids = 4194305\n", line: 3, key: "limits.pids", msg: "out of range"},
		{name: "cpu zero", body: v1 + "[limits]\ncpu = 0\n", line: 3, key: "limits.cpu", msg: "above 0"},
		{name: "cpu negative", body: v1 + "[limits]\ncpu = -1.0\n", line: 3, key: "limits.cpu", msg: "above 0"},
		{name: "cpu huge", body: v1 + "[limits]\ncpu = 1000000.0\n", line: 3, key: "limits.cpu", msg: "at most"},
		{name: "cpu nan", body: v1 + "[limits]\ncpu = nan\n", line: 3, key: "limits.cpu", msg: "above 0"},
		{name: "cpu percent", body: v1 + "[limits]\ncpu = \"50%\"\n", line: 3, key: "limits.cpu", msg: "expected a number, found a string"},
		{name: "nofile beyond the limit", body: v1 + "[limits]\nnofile = 99999999999\n", line: 3, key: "limits.nofile", msg: "out of range"},
		{name: "pids minus one", body: v1 + "[limits]\npids = -1\n", line: 3, key: "limits.pids", msg: "out of range"},
		{name: "roadmap dbus.talk", body: ext + "[dbus]\ntalk = [\"org.freedesktop.Notifications\"]\n", line: 4, key: "dbus.talk", msg: "not supported yet"},

		// 6.6 seccomp overrides
		{name: "seccomp unknown syscall", body: v1 + "[seccomp]\nallow = [\"opne\"]\n", line: 3, key: "seccomp.allow[0]", msg: `unknown system call "opne"`},
		{name: "seccomp never-allow", body: v1 + "[seccomp]\nallow = [\"unshare\"]\n", line: 3, key: "seccomp.allow[0]", msg: "needs seccomp.unsafe", hint: "unsafe"},
		{name: "seccomp action allow", body: v1 + "[seccomp]\naction = \"allow\"\n", line: 3, key: "seccomp.action", msg: "invalid seccomp action"},
		// The allow-all policy of the no-seccomp test build exists only
		// with the nixbox_testing build tag, never in the binary under test.
		{name: "seccomp test-build policy", body: v1 + "[seccomp]\npolicy = \"testing-allow-all\"\n", line: 3, key: "seccomp.policy", msg: "invalid seccomp policy"},

		// Security suite case 53: host networking shares the X11 and D-Bus
		// abstract sockets, so it needs an acknowledgement of its own
		// profile; curl's reason does not cover a child's mode = "host".
		{name: "network host without unsafe", body: ext + "[network]\nmode = \"host\"\n", line: 4, key: "network.mode", msg: `network mode "host" needs network.unsafe`, hint: `unsafe = "<reason>"`},
		{name: "network host inherited reason", body: v1 + "extends = \"curl\"\n[network]\nmode = \"host\"\n", line: 4, key: "network.mode", msg: "needs network.unsafe", hint: `unsafe = "<reason>"`},
		{name: "network unsafe without host", body: ext + "[network]\nunsafe = \"x\"\n", line: 4, key: "network.unsafe", msg: `unsafe without mode = "host"`},

		// 6.5 environment
		{name: "env name dash", body: v1 + "[env.set]\n\"A-B\" = \"x\"\n", line: 3, key: "env.set.A-B", msg: "invalid variable name"},
		{name: "env name equals", body: v1 + "[env.set]\n\"A=B\" = \"x\"\n", line: 3, key: "env.set.A=B", msg: "invalid variable name"},
		{name: "env name empty", body: v1 + "[env.set]\n\"\" = \"x\"\n", line: 3, key: "env.set.", msg: "invalid variable name"},
		{name: "env value NUL", body: v1 + "[env.set]\nA = \"x\\u0000y\"\n", line: 3, key: "env.set.A", msg: "NUL byte in value"},
		{name: "pass wildcard", body: v1 + "[env]\npass = [\"*\"]\n", line: 3, key: "env.pass[0]", msg: "wildcard"},
		{name: "pass token", body: v1 + "[env]\npass = [\"GITHUB_TOKEN\"]\n", line: 3, key: "env.pass[0]", msg: "looks like a secret"},
		{name: "pass aws", body: v1 + "[env]\npass = [\"AWS_SECRET_ACCESS_KEY\"]\n", line: 3, key: "env.pass[0]", msg: "refusing to pass"},
		{name: "pass ssh agent", body: v1 + "[env]\npass = [\"SSH_AUTH_SOCK\"]\n", line: 3, key: "env.pass[0]", msg: "refusing to pass SSH_AUTH_SOCK"},
		{name: "pass ld preload", body: v1 + "[env]\npass = [\"LD_PRELOAD\"]\n", line: 3, key: "env.pass[0]", msg: "refusing to pass LD_PRELOAD"},
		{name: "arg NUL", body: v1 + "[app]\nargs = [\"a\", \"b\\u0000c\"]\n", line: 3, key: "app.args[1]", msg: "NUL byte"},

		// extends
		{name: "extends unknown parent", body: v1 + "extends = [\"nosuchparent\"]\n", line: 2, key: "extends[0]", msg: `parent profile "nosuchparent" not found`},
		{name: "extends path", body: v1 + "extends = [\"../x\"]\n", line: 2, key: "extends[0]", msg: "invalid profile name"},
		{
			name:  "extends cycle",
			setup: userProfiles(map[string]string{"cyca": v1 + "extends = [\"cycb\"]\n", "cycb": v1 + "extends = [\"cyca\"]\n"}),
			args:  []string{"run", "--profile", "cyca", "$ECHO", "x"}, code: 125,
			file: func(r *h.Runner, _ string) string { return filepath.Join(userProfileDir(r), "cycb.toml") },
			line: 2, key: "extends[0]", msg: "extends cycle",
		},

		// 6.7 provenance, as far as it exists
		{
			name: "group-writable profile", body: ext,
			setup: func(t *testing.T, _ *h.Runner, p string) { chmod(t, p, 0o666) },
			msg:   "writable by group or others", hint: "chmod go-w",
		},
		{
			name: "profile in world-writable dir", body: ext,
			setup: func(t *testing.T, _ *h.Runner, p string) { chmod(t, filepath.Dir(p), 0o777) },
			file:  func(_ *h.Runner, p string) string { return filepath.Dir(p) },
			msg:   "writable by group or others",
		},

		// 6.2 a missing bind source: located in the profile like any other
		// profile error, and refused before anything is written.
		{name: "missing bind source", body: ext + "[filesystem]\nro = [\"~/nonexistent\"]\n", line: 4, key: "filesystem.ro[0]", msg: "can't find source path"},
	}

	// 6.3 store paths and commands on the command line.
	echo := filepath.Join(cu, "bin", "echo")
	cli := []badCase{
		{name: "cli uppercase hash", args: []string{"run", "--profile", "default", "/nix/store/" + upHash + "-jq/bin/jq"}, code: 125, msg: "invalid"},
		{name: "cli letter e", args: []string{"run", "--profile", "default", "/nix/store/" + letterHash('e') + "-jq/bin/jq"}, code: 125, msg: "invalid"},
		{name: "cli letter o", args: []string{"run", "--profile", "default", "/nix/store/" + letterHash('o') + "-jq/bin/jq"}, code: 125, msg: "invalid"},
		{name: "cli letter u", args: []string{"run", "--profile", "default", "/nix/store/" + letterHash('u') + "-jq/bin/jq"}, code: 125, msg: "invalid"},
		{name: "cli letter t", args: []string{"run", "--profile", "default", "/nix/store/" + letterHash('t') + "-jq/bin/jq"}, code: 125, msg: "invalid"},
		{name: "cli store dotdot", args: []string{"run", "--profile", "default", "/nix/store/../etc/passwd"}, code: 125, msg: "invalid"},
		{name: "cli spec uppercase hash", args: []string{"spec", "--profile", "default", "/nix/store/" + upHash + "-jq/bin/jq"}, code: 1, msg: "invalid"},
		{name: "cli drv missing", args: []string{"run", "--profile", "default", "/nix/store/" + goodHash + "-jq.drv"}, code: 125, msg: ".drv"},
		{name: "cli unknown store path", args: []string{"run", "--profile", "default", "/nix/store/" + goodHash + "-jq/bin/jq"}, code: 125, msg: "/nix/store/" + goodHash + "-jq"},
		{name: "cli spec unknown store path", args: []string{"spec", "--profile", "default", "/nix/store/" + goodHash + "-jq/bin/jq"}, code: 1, msg: "/nix/store/" + goodHash + "-jq"},
		{name: "cli command not in closure", args: []string{"run", "--profile", "default", filepath.Join(cu, "bin", "nosuch")}, code: 127, msg: "not found", hint: "closure"},
		{name: "cli command dotdot out of store", args: []string{"run", "--profile", "default", cu + "/bin/../../../etc/passwd"}, code: 127},
		{name: "cli spec command not in closure", args: []string{"spec", "--profile", "default", filepath.Join(cu, "bin", "nosuch")}, code: 1},
		{name: "cli profile with non-store app", args: []string{"run", "--profile", "default", "/usr/bin/true"}, code: 125, msg: "not a store path"},
		{name: "cli escape in app name", args: []string{"run", "\x1b[2Jx"}, code: 125, msg: `\x1b[2J`},
		{name: "cli escape in command", args: []string{"run", "--profile", "default", cu + "/bin/\x1b]0;owned\x07"}, code: 127, msg: `\x1b]0;owned\x07`},

		// 6.8 CLI
		{name: "run unknown flag", args: []string{"run", "--profil", "default", "$ECHO"}, code: 125, msg: "unknown flag --profil", hint: "did you mean --profile?"},
		{name: "spec unknown flag", args: []string{"spec", "--profil", "default", "$ECHO"}, code: 2, msg: "unknown flag --profil", hint: "did you mean --profile?"},
		{name: "explain unknown flag", args: []string{"explain", "--profil", "default", "$ECHO"}, code: 2, msg: "unknown flag --profil", hint: "did you mean --profile?"},
		{name: "run bundle is not a run flag", args: []string{"run", "--bundle", "/x", "$ECHO"}, code: 125, msg: "unknown flag --bundle"},
		{name: "run repeated profile", args: []string{"run", "--profile", "default", "--profile", "cli", "$ECHO"}, code: 125, msg: "only allowed once"},
		{name: "spec repeated profile", args: []string{"spec", "--profile=default", "--profile=default", "$ECHO"}, code: 2, msg: "only allowed once"},
		{name: "spec repeated bundle", args: []string{"spec", "--bundle", "/tmp/nbx-a", "--bundle", "/tmp/nbx-b", "$ECHO"}, code: 2, msg: "only allowed once"},
		{name: "run empty app", args: []string{"run", ""}, code: 125, msg: "empty app name"},
		{name: "explain empty app", args: []string{"explain", ""}, code: 2, msg: "empty app name"},
		{name: "run no app", args: []string{"run"}, code: 125, msg: "no app given"},
		{name: "spec no app", args: []string{"spec", "--profile", "default"}, code: 2, msg: "no app given"},
		{name: "spec bundle without value", args: []string{"spec", "--bundle"}, code: 2, msg: "--bundle needs a value"},
		{name: "run profile without value", args: []string{"run", "--profile"}, code: 125, msg: "--profile needs a value"},
		{name: "run missing app", args: []string{"run", "nosuchapp"}, code: 125, msg: `"nosuchapp"`, hint: "nixbox profiles"},
		{name: "explain missing app", args: []string{"explain", "nosuchapp"}, code: 1, msg: `"nosuchapp"`},
		{name: "run missing profile file", args: []string{"run", "--profile", "/nonexistent-nbx/p.toml", "$ECHO"}, code: 125, msg: "/nonexistent-nbx/p.toml"},
		{name: "run invalid profile name", args: []string{"run", "--profile", "-x", "$ECHO"}, code: 125},
		{name: "unknown command", args: []string{"rnu", "$ECHO"}, code: 2, msg: `unknown command "rnu"`, hint: `did you mean "run"?`},
		{name: "profiles extra argument", args: []string{"profiles", "x"}, code: 2},
	}
	for i := range cli {
		for j, a := range cli[i].args {
			cli[i].args[j] = strings.ReplaceAll(a, "$ECHO", echo)
		}
		cli[i].file = func(*h.Runner, string) string { return "-" }
	}
	return append(cs, cli...)
}

// userProfileDir is where nixbox looks up profile names for r.
func userProfileDir(r *h.Runner) string {
	return filepath.Join(r.Home, ".config", "nixbox", "profiles")
}

// userProfiles returns a setup that writes named profiles (root-owned,
// 0644, in 0755 dirs: accepted for every runner).
func userProfiles(files map[string]string) func(t *testing.T, r *h.Runner, p string) {
	return func(t *testing.T, r *h.Runner, _ string) {
		dir := userProfileDir(r)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for d := dir; d != r.Home; d = filepath.Dir(d) {
			chmod(t, d, 0o755)
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name+".toml"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every path below the roots with its type, mode and size.
func snapshot(t *testing.T, roots ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			size := info.Size()
			if d.IsDir() {
				size = 0
			}
			out[p] = fmt.Sprintf("%v %d", info.Mode(), size)
			return nil
		})
		if err != nil {
			t.Fatalf("snapshot of %s: %v", root, err)
		}
	}
	return out
}

func diffSnapshots(before, after map[string]string) []string {
	var d []string
	for p, a := range after {
		if b, ok := before[p]; !ok {
			d = append(d, "new: "+p+" ("+a+")")
		} else if a != b {
			d = append(d, "changed: "+p+" ("+b+" -> "+a+")")
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			d = append(d, "removed: "+p)
		}
	}
	sort.Strings(d)
	return d
}

// hasControl reports a raw control character (other than the final
// newlines, already split off).
func hasControl(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// checkBad runs one bad command line and checks everything §6 asks.
func checkBad(t *testing.T, r *h.Runner, c badCase, args []string, code int, file string) {
	t.Helper()
	before := snapshot(t, r.Home, r.Tmp)
	res := r.Run(t, "", args...)
	after := snapshot(t, r.Home, r.Tmp)
	q := fmt.Sprintf("%q", args)
	if len(q) > 300 {
		q = q[:300] + "…"
	}
	if res.Code != code {
		t.Errorf("%s: exit %d, want %d\n%s", q, res.Code, code, res)
	}
	if res.Stdout != "" {
		t.Errorf("%s: stdout not empty: %q", q, res.Stdout)
	}
	for _, bad := range []string{"panic", "goroutine"} {
		if strings.Contains(res.Stderr, bad) {
			t.Errorf("%s: stderr mentions %q: %q", q, bad, res.Stderr)
		}
	}
	if d := diffSnapshots(before, after); len(d) > 0 {
		t.Errorf("%s: the failed command wrote to the runner's home or state dir:\n  %s", q, strings.Join(d, "\n  "))
	}
	if !strings.HasSuffix(res.Stderr, "\n") {
		t.Errorf("%s: stderr does not end in a newline: %q", q, res.Stderr)
		return
	}
	lines := strings.Split(strings.TrimSuffix(res.Stderr, "\n"), "\n")
	if len(lines) > 2 || !strings.HasPrefix(lines[0], "nixbox: error: ") ||
		(len(lines) == 2 && !strings.HasPrefix(lines[1], "nixbox: hint: ")) {
		t.Errorf("%s: stderr is not one error line plus at most one hint line: %q", q, res.Stderr)
		return
	}
	for _, l := range lines {
		if hasControl(l) {
			t.Errorf("%s: raw control character in %q", q, l)
		}
	}
	msg := strings.TrimPrefix(lines[0], "nixbox: error: ")
	if c.msg != "" && !strings.Contains(msg, c.msg) {
		t.Errorf("%s: error %q does not contain %q", q, msg, c.msg)
	}
	if c.hint != "" && (len(lines) < 2 || !strings.Contains(lines[1], c.hint)) {
		t.Errorf("%s: want a hint containing %q, stderr %q", q, c.hint, res.Stderr)
	}
	if file == "-" {
		return
	}
	var re string
	switch {
	case c.line == 0:
		re = "^" + regexp.QuoteMeta(file) + ": "
	case c.key == "":
		re = "^" + regexp.QuoteMeta(file) + ":" + strconv.Itoa(c.line) + ":[0-9]+: "
	default:
		re = "^" + regexp.QuoteMeta(file) + ":" + strconv.Itoa(c.line) + ":[0-9]+: " + regexp.QuoteMeta(c.key) + ": "
	}
	if !regexp.MustCompile(re).MatchString(msg) {
		t.Errorf("%s: error %q is not located as %s", q, msg, re)
	}
}

// TestBadInput: every bad input of §6 that applies today is refused by the
// real binary, before anything is written.
func TestBadInput(t *testing.T) {
	cases := badCases(t)
	if len(cases) < 45 {
		t.Fatalf("only %d cases", len(cases))
	}
	echo := h.Bin(t, "COREUTILS", "echo")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := ""
				if c.args == nil || c.body != "" || strings.Contains(strings.Join(c.args, " "), "$P") {
					p = h.WriteProfile(t, "p", c.body)
				}
				if c.setup != nil {
					c.setup(t, r, p)
				}
				file := p
				if c.file != nil {
					file = c.file(r, p)
				}
				if c.args != nil {
					args := make([]string, len(c.args))
					for i, a := range c.args {
						args[i] = strings.ReplaceAll(strings.ReplaceAll(a, "$P", p), "$ECHO", echo)
					}
					checkBad(t, r, c, args, c.code, file)
					return
				}
				checkBad(t, r, c, []string{"run", "--profile", p, echo, "x"}, 125, file)
				checkBad(t, r, c, []string{"spec", "--profile", p, echo, "x"}, 1, file)
				checkBad(t, r, c, []string{"explain", "--profile", p, echo}, 1, file)
			})
		}
	})
}

// TestRealDrvAsApp: a .drv that exists in the store is not an app (§6.3);
// it must be refused as a launcher error, never tried as a command.
func TestRealDrvAsApp(t *testing.T) {
	drvs, _ := filepath.Glob("/nix/store/*.drv")
	if len(drvs) == 0 {
		h.SkipOrFail(t, "no .drv in /nix/store to try")
	}
	c := badCase{msg: "derivation"}
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		checkBad(t, r, c, []string{"run", "--profile", "default", drvs[0]}, 125, "-")
		checkBad(t, r, c, []string{"run", drvs[0]}, 125, "-")
	})
}

// TestDoubleDashVerbatim: after the app (and an optional "--"), every
// argument goes to the app verbatim, even ones that look like nixbox's own
// flags (§6.8).
func TestDoubleDashVerbatim(t *testing.T) {
	echo := h.Bin(t, "COREUTILS", "echo")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"run", "--profile", "default", echo, "--", "--profile=x"}, "--profile=x\n"},
			{[]string{"run", "--profile", "default", echo, "--profile=x", "--bundle"}, "--profile=x --bundle\n"},
			{[]string{"run", "--profile", "default", echo, "--", "--", "-v"}, "-- -v\n"},
		} {
			res := r.Run(t, "", tc.args...)
			if res.Code != 0 || res.Stdout != tc.want || res.Stderr != "" {
				t.Errorf("%q: want stdout %q, %s", tc.args, tc.want, res)
			}
		}
	})
}
