package profiles

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/errors.golden")

// parseAndValidate is what `nixbox check` does for one file.
func parseAndValidate(file string, src []byte) (*Profile, error) {
	p, err := Parse(file, src)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

type badCase struct {
	name string
	file string // default "p.toml"
	src  string
	line int
	key  string
	is   error // extra sentinel the error must match
	isnt error // sentinel it must not match
}

const v1 = "version = 1\n"

// badInputs are the security suite's §6.1, 6.2, 6.5 and 6.7 inputs (and
// 6.3/6.4 where they touch the profile). Each must give an *Error with the
// given line and key.
func badInputs() []badCase {
	deep := "x = " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n"
	long := "/" + strings.Repeat("a", 256)
	longPath := strings.Repeat("/aaaaaaaa", 512)
	var args strings.Builder
	args.WriteString("[app]\nargs = [\n")
	for range MaxListLen + 1 {
		args.WriteString("\"a\",\n")
	}
	args.WriteString("]\n")
	ro := func(p string) string { return v1 + "[filesystem]\nro = [" + p + "]\n" }
	bind := func(kv string) string { return v1 + "[[filesystem.bind]]\n" + kv + "\n" }
	tmpfs := func(size string) string {
		return v1 + "[[filesystem.tmpfs]]\ndest = \"/tmp/x\"\nsize = " + size + "\n"
	}
	inodes := func(n string) string {
		return v1 + "[[filesystem.tmpfs]]\ndest = \"/tmp/x\"\nnr_inodes = " + n + "\n"
	}
	homeInodes := func(n string) string { return v1 + "[home]\nnr_inodes = " + n + "\n" }
	pass := func(n string) string { return v1 + "[env]\npass = [\"" + n + "\"]\n" }
	pkg := func(n string) string { return v1 + "[app]\npackage = \"" + n + "\"\n" }
	cmd := func(n string) string { return v1 + "[app]\ncommand = \"" + n + "\"\n" }
	return []badCase{
		// 6.1 structure and types
		{name: "unknown key", src: v1 + "netwrok = false\n", line: 2, key: "netwrok"},
		{name: "unknown nested key", src: v1 + "[filesystem]\nrox = []\n", line: 3, key: "filesystem.rox"},
		{name: "unknown section", src: v1 + "[sandbox]\n", line: 2, key: "sandbox"},
		{name: "unknown bind key", src: bind("source = \"/a\"\ndst = \"/b\""), line: 4, key: "filesystem.bind[0].dst"},
		{name: "network as string", src: v1 + "network = \"false\"\n", line: 2, key: "network"},
		{name: "memory as bool", src: v1 + "[limits]\nmemory = true\n", line: 3, key: "limits.memory"},
		{name: "bind as string", src: v1 + "[filesystem]\nbind = \"/x\"\n", line: 3, key: "filesystem.bind"},
		{name: "pids as float", src: v1 + "[limits]\npids = 1.5\n", line: 3, key: "limits.pids"},
		{name: "version as string", src: "version = \"1\"\n", line: 1, key: "version"},
		{name: "ro element not string", src: ro("1"), line: 3, key: "filesystem.ro[0]"},
		{name: "duplicate key", src: v1 + "version = 1\n", line: 2, key: "version"},
		{name: "duplicate table", src: v1 + "[app]\n[network]\n[app]\n", line: 4, key: "app"},
		{name: "duplicate key in bind", src: bind("source = \"/a\"\nsource = \"/b\""), line: 4, key: "filesystem.bind[0].source"},
		{name: "table redefined by dotted key", src: v1 + "[app]\npackage = \"jq\"\n[app.package]\n", line: 4, key: "app.package"},
		{name: "missing version", src: "[app]\npackage = \"jq\"\n", line: 1, key: "version"},
		{name: "unsupported version", src: "version = 2\n", line: 1, key: "version"},
		{name: "empty file", src: "", line: 0, key: ""},
		{name: "only comments", src: "# hello\n\n   # world\n", line: 0, key: ""},
		{name: "trailing garbage", src: "version = 1 x\n", line: 1, key: ""},
		{name: "several documents", src: v1 + "---\n" + v1, line: 2, key: "---"},
		{name: "invalid utf-8", src: v1 + "# \xff\n", line: 2, key: ""},
		{name: "byte-order mark", src: "\xef\xbb\xbf" + v1, line: 1, key: ""},
		{name: "embedded NUL", src: "version = 1\x00\n", line: 1, key: ""},
		{name: "file over 1 MiB", src: v1 + "#" + strings.Repeat("x", MaxFileSize) + "\n", line: 0, key: ""},
		{name: "line over limit", src: v1 + "#" + strings.Repeat("x", MaxLineLength) + "\n", line: 2, key: ""},
		{name: "nesting too deep", src: v1 + deep, line: 2, key: "x" + strings.Repeat("[0]", MaxDepth-1)},
		{name: "list over 4096 entries", src: v1 + args.String(), line: 3, key: "app.args"},
		{name: "date value", src: v1 + "description = 1979-05-27\n", line: 2, key: "description"},
		{name: "bare string value", src: v1 + "description = hello\n", line: 2, key: "description"},
		{name: "control char in string", src: v1 + "description = \"a\x1bb\"\n", line: 2, key: "description"},
		{name: "escaped control char in description", src: v1 + "description = \"a\\u001b[31mb\"\n", line: 2, key: "description"},
		{name: "json duplicate key", file: "p.json", src: "{\"version\": 1,\n \"version\": 1}", line: 2, key: "version"},
		{name: "json unknown key", file: "p.json", src: "{\"version\": 1,\n \"app\": {\"pakage\": \"jq\"}}", line: 2, key: "app.pakage"},
		{name: "json trailing data", file: "p.json", src: "{\"version\": 1}\n{}", line: 2, key: ""},
		{name: "json null", file: "p.json", src: "{\"version\": 1,\n\"description\": null}", line: 2, key: "description"},
		{name: "json float version", file: "p.json", src: "{\"version\": 1.0}", line: 1, key: "version"},
		{name: "home mode ro", src: v1 + "[home]\nmode = \"ro\"\n", line: 3, key: "home.mode"},
		{name: "home nr_inodes 0", src: homeInodes(`0`), line: 3, key: "home.nr_inodes"},
		{name: "home nr_inodes minus one", src: homeInodes(`-1`), line: 3, key: "home.nr_inodes"},
		{name: "home nr_inodes string", src: homeInodes(`"4096"`), line: 3, key: "home.nr_inodes"},
		{name: "home nr_inodes float", src: homeInodes(`1.5`), line: 3, key: "home.nr_inodes"},
		{name: "home nr_inodes over 2^24", src: homeInodes(`16777217`), line: 3, key: "home.nr_inodes"},
		{name: "home nr_inodes 2^64", src: homeInodes(`18446744073709551616`), line: 3, key: "home.nr_inodes"},
		// Validated even where it is not used, like home.size.
		{name: "home nr_inodes 0 persistent", src: v1 + "[home]\nmode = \"persistent\"\nnr_inodes = 0\n", line: 4, key: "home.nr_inodes"},
		{name: "network mode off", src: v1 + "[network]\nmode = \"off\"\n", line: 3, key: "network.mode"},
		{name: "network host without unsafe", src: v1 + "[network]\nmode = \"host\"\n", line: 3, key: "network.mode"},
		{name: "network unsafe blank", src: v1 + "[network]\nmode = \"host\"\nunsafe = \" \"\n", line: 4, key: "network.unsafe"},
		{name: "network unsafe without host", src: v1 + "[network]\nmode = \"none\"\nunsafe = \"x\"\n", line: 4, key: "network.unsafe"},
		{name: "network unsafe without mode", src: v1 + "[network]\nunsafe = \"x\"\n", line: 3, key: "network.unsafe"},
		{name: "network unsafe control char", src: v1 + "[network]\nmode = \"host\"\nunsafe = \"a\\u001bb\"\n", line: 4, key: "network.unsafe"},
		{name: "seccomp policy unknown", src: v1 + "[seccomp]\npolicy = \"lax\"\n", line: 3, key: "seccomp.policy"},

		// 6.2 paths
		{name: "relative path", src: ro(`"Documents"`), line: 3, key: "filesystem.ro[0]"},
		{name: "dot relative path", src: ro(`"./x"`), line: 3, key: "filesystem.ro[0]"},
		{name: "tilde user", src: ro(`"~root/x"`), line: 3, key: "filesystem.ro[0]"},
		{name: "empty path", src: bind(`source = ""`), line: 3, key: "filesystem.bind[0].source"},
		{name: "dotdot absolute", src: ro(`"/home/u/../../etc"`), line: 3, key: "filesystem.ro[0]"},
		{name: "dotdot under home", src: ro(`"~/x/../../.ssh"`), line: 3, key: "filesystem.ro[0]"},
		{name: "dotdot after variable", src: ro(`"$XDG_DOWNLOAD_DIR/../foo"`), line: 3, key: "filesystem.ro[0]"},
		{name: "double slash", src: ro(`"/a//b"`), line: 3, key: "filesystem.ro[0]"},
		{name: "dot component", src: ro(`"/a/./b"`), line: 3, key: "filesystem.ro[0]"},
		{name: "trailing slash", src: ro(`"/a/"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape char in path", src: ro(`"/a\u001b[2J"`), line: 3, key: "filesystem.ro[0]"},
		{name: "newline in path", src: ro(`"/a\nb"`), line: 3, key: "filesystem.ro[0]"},
		{name: "tab in path", src: ro(`"/a\tb"`), line: 3, key: "filesystem.ro[0]"},
		{name: "NUL in path", src: ro(`"/a\u0000b"`), line: 3, key: "filesystem.ro[0]"},
		{name: "component over 255", src: ro(`"` + long + `"`), line: 3, key: "filesystem.ro[0]"},
		{name: "path over 4095", src: ro(`"` + longPath + `"`), line: 3, key: "filesystem.ro[0]"},
		{name: "unknown variable", src: ro(`"$FOO/x"`), line: 3, key: "filesystem.ro[0]"},
		{name: "variable glued to text", src: ro(`"${HOME}x"`), line: 3, key: "filesystem.ro[0]"},
		{name: "dest root", src: bind("source = \"/srv\"\ndest = \"/\""), line: 4, key: "filesystem.bind[0].dest"},
		{name: "dest proc", src: bind("source = \"/srv\"\ndest = \"/proc/sys\""), line: 4, key: "filesystem.bind[0].dest"},
		{name: "dest nix store", src: bind("source = \"/srv\"\ndest = \"/nix/store/x\""), line: 4, key: "filesystem.bind[0].dest"},
		{name: "dest passwd", src: bind("source = \"/srv/passwd\"\ndest = \"/etc/passwd\""), line: 4, key: "filesystem.bind[0].dest"},
		{name: "dest run nixbox", src: bind("source = \"/srv\"\ndest = \"/run/nixbox/x\""), line: 4, key: "filesystem.bind[0].dest"},
		{name: "dest run", src: bind("source = \"/srv\"\ndest = \"/run\""), line: 4, key: "filesystem.bind[0].dest"},
		{name: "tmpfs on run", src: v1 + "[[filesystem.tmpfs]]\ndest = \"/run\"\n", line: 3, key: "filesystem.tmpfs[0].dest"},
		{name: "dest nixbox info", src: bind("source = \"/srv\"\ndest = \"/.nixbox-info\""), line: 4, key: "filesystem.bind[0].dest"},
		{name: "tmpfs on tmp", src: v1 + "[[filesystem.tmpfs]]\ndest = \"/tmp\"\n", line: 3, key: "filesystem.tmpfs[0].dest"},
		{name: "implicit dest reserved", src: bind(`source = "/nix/store/0c0vq7rkbmhh2rdrhvn2hm4m4kc8mr3z-x"`), line: 3, key: "filesystem.bind[0].source"},
		{name: "source proc fd", src: ro(`"/proc/self/fd/3"`), line: 3, key: "filesystem.ro[0]"},
		{name: "source proc pid root", src: bind("source = \"/proc/1/root\"\ndest = \"/x\"\nunsafe = \"x\""), line: 3, key: "filesystem.bind[0].source"},
		{name: "source sys", src: ro(`"/sys/class"`), line: 3, key: "filesystem.ro[0]"},
		{name: "source dev whole", src: bind("source = \"/dev\"\ndest = \"/hostdev\""), line: 3, key: "filesystem.bind[0].source"},
		{name: "escape root", src: bind("source = \"/\"\ndest = \"/host\""), line: 3, key: "filesystem.bind[0].source"},
		{name: "escape home", src: v1 + "[filesystem]\nrw = [\"~\"]\n", line: 3, key: "filesystem.rw[0]"},
		{name: "escape home variable", src: ro(`"$HOME"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape ssh", src: ro(`"~/.ssh"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape ssh file", src: ro(`"$HOME/.ssh/id_ed25519"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape gnupg", src: bind(`source = "~/.gnupg"` + "\nunsafe = \" \""), line: 3, key: "filesystem.bind[0].source"},
		{name: "escape nixbox config", src: ro(`"$XDG_CONFIG_HOME/nixbox"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape config parent", src: v1 + "[filesystem]\nrw = [\"~/.config\"]\n", line: 3, key: "filesystem.rw[0]"},
		{name: "escape runtime dir", src: ro(`"$XDG_RUNTIME_DIR"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape session bus", src: ro(`"${XDG_RUNTIME_DIR}/bus"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape run user", src: ro(`"/run/user/1000"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape nix daemon", src: ro(`"/nix/var/nix/daemon-socket/socket"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape whole store", src: bind("source = \"/nix/store\"\ndest = \"/store\""), line: 3, key: "filesystem.bind[0].source"},
		{name: "escape docker", src: ro(`"/var/run/docker.sock"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape secrets", src: ro(`"/run/secrets/db"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape x11", src: ro(`"/tmp/.X11-unix"`), line: 3, key: "filesystem.ro[0]"},
		{name: "escape run parent", src: ro(`"/run"`), line: 3, key: "filesystem.ro[0]"},
		{name: "bind mode", src: bind("source = \"/srv\"\nmode = \"rx\""), line: 4, key: "filesystem.bind[0].mode"},
		{name: "tmpfs size 0", src: tmpfs(`"0"`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs size bogus", src: tmpfs(`"123bogus"`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs size empty", src: tmpfs(`""`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs size negative", src: tmpfs(`"-1"`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs size space negative", src: tmpfs(`" -1"`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs size 2^64", src: tmpfs(`"18446744073709551616"`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs size 2^63+1", src: tmpfs(`"9223372036854775809"`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs size as int", src: tmpfs(`64`), line: 4, key: "filesystem.tmpfs[0].size"},
		{name: "tmpfs nr_inodes 0", src: inodes(`0`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},
		{name: "tmpfs nr_inodes minus one", src: inodes(`-1`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},
		{name: "tmpfs nr_inodes string", src: inodes(`"4096"`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},
		{name: "tmpfs nr_inodes float", src: inodes(`1.5`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},
		{name: "tmpfs nr_inodes suffix", src: inodes(`"4k"`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},
		{name: "tmpfs nr_inodes over 2^24", src: inodes(`16777217`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},
		{name: "tmpfs nr_inodes 2^63-1", src: inodes(`9223372036854775807`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},
		{name: "tmpfs nr_inodes 2^64", src: inodes(`18446744073709551616`), line: 4, key: "filesystem.tmpfs[0].nr_inodes"},

		// 6.3 packages (as far as the profile goes)
		{name: "package option", src: pkg("--option"), line: 3, key: "app.package"},
		{name: "package whitespace", src: pkg("jq --impure"), line: 3, key: "app.package"},
		{name: "package semicolon", src: pkg("jq;id"), line: 3, key: "app.package"},
		{name: "store path uppercase", src: pkg("/nix/store/0C0VQ7RKBMHH2RDRHVN2HM4M4KC8MR3Z-jq"), line: 3, key: "app.package"},
		{name: "store path letter e", src: pkg("/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-jq"), line: 3, key: "app.package"},
		{name: "store path dotdot", src: pkg("/nix/store/../etc"), line: 3, key: "app.package"},
		{name: "store path drv", src: pkg("/nix/store/0c0vq7rkbmhh2rdrhvn2hm4m4kc8mr3z-jq.drv"), line: 3, key: "app.package"},
		{name: "store path sub path", src: pkg("/nix/store/0c0vq7rkbmhh2rdrhvn2hm4m4kc8mr3z-jq/bin/jq"), line: 3, key: "app.package"},
		{name: "closureinfo relative", src: pkg("closureinfo:closure"), line: 3, key: "app.package"},
		{name: "command option", src: cmd("-c"), line: 3, key: "app.command"},
		{name: "command dotdot", src: cmd("bin/../../etc/x"), line: 3, key: "app.command"},
		{name: "command outside store", src: cmd("/usr/bin/sh"), line: 3, key: "app.command"},

		// 6.5 environment and arguments
		{name: "env name dash", src: v1 + "[env.set]\n\"A-B\" = \"x\"\n", line: 3, key: "env.set.A-B"},
		{name: "env name empty", src: v1 + "[env.set]\n\"\" = \"x\"\n", line: 3, key: "env.set."},
		{name: "env name equals", src: v1 + "[env.set]\n\"A=B\" = \"x\"\n", line: 3, key: "env.set.A=B"},
		{name: "env value NUL", src: v1 + "[env.set]\nA = \"x\\u0000y\"\n", line: 3, key: "env.set.A"},
		{name: "env value not string", src: v1 + "[env.set]\nA = 1\n", line: 3, key: "env.set.A"},
		{name: "pass wildcard", src: pass("*"), line: 3, key: "env.pass[0]"},
		{name: "pass token", src: pass("GITHUB_TOKEN"), line: 3, key: "env.pass[0]"},
		{name: "pass secret", src: pass("CLIENT_SECRET"), line: 3, key: "env.pass[0]"},
		{name: "pass password", src: pass("DB_PASSWORD_FILE"), line: 3, key: "env.pass[0]"},
		{name: "pass aws", src: pass("AWS_ACCESS_KEY_ID"), line: 3, key: "env.pass[0]"},
		{name: "pass ssh agent", src: pass("SSH_AUTH_SOCK"), line: 3, key: "env.pass[0]"},
		{name: "pass ld preload", src: pass("LD_PRELOAD"), line: 3, key: "env.pass[0]"},
		{name: "pass nix", src: pass("NIX_PATH"), line: 3, key: "env.pass[0]"},
		{name: "arg NUL", src: v1 + "[app]\nargs = [\"ok\", \"a\\u0000b\"]\n", line: 3, key: "app.args[1]"},

		// 6.7 provenance
		{name: "extends path", src: v1 + "extends = \"../x\"\n", line: 2, key: "extends[0]"},
		{name: "extends absolute", src: v1 + "extends = [\"ok\", \"/etc/x\"]\n", line: 2, key: "extends[1]"},
		{name: "extends space", src: v1 + "extends = \"a b\"\n", line: 2, key: "extends[0]"},
		{name: "extends option", src: v1 + "extends = \"-x\"\n", line: 2, key: "extends[0]"},

		// roadmap keys: invalid values are invalid; valid ones unsupported
		{name: "memory swap without memory", src: v1 + "[limits]\nmemory_swap = \"2G\"\n", line: 3, key: "limits.memory_swap", isnt: ErrNotSupported},
		{name: "memory swap below memory", src: v1 + "[limits]\nmemory = \"2G\"\nmemory_swap = \"1G\"\n", line: 4, key: "limits.memory_swap", isnt: ErrNotSupported},
		{name: "memory zero", src: v1 + "[limits]\nmemory = \"0\"\n", line: 3, key: "limits.memory", isnt: ErrNotSupported},
		{name: "memory ambiguous m", src: v1 + "[limits]\nmemory = \"1m\"\n", line: 3, key: "limits.memory", isnt: ErrNotSupported},
		{name: "memory over 2^63", src: v1 + "[limits]\nmemory = \"9223372036854775808\"\n", line: 3, key: "limits.memory", isnt: ErrNotSupported},
		{name: "pids zero", src: v1 + "[limits]\npids = 0\n", line: 3, key: "limits.pids", isnt: ErrNotSupported},
		{name: "pids minus one", src: v1 + "[limits]\npids = -1\n", line: 3, key: "limits.pids", isnt: ErrNotSupported},
		{name: "pids over 2^22", src: v1 + "[limits]\npids = 4194305\n", line: 3, key: "limits.pids", isnt: ErrNotSupported},
		{name: "cpu nan", src: v1 + "[limits]\ncpu = nan\n", line: 3, key: "limits.cpu", isnt: ErrNotSupported},
		{name: "cpu zero", src: v1 + "[limits]\ncpu = 0.0\n", line: 3, key: "limits.cpu", isnt: ErrNotSupported},
		{name: "cpu percent", src: v1 + "[limits]\ncpu = \"50%\"\n", line: 3, key: "limits.cpu", isnt: ErrNotSupported},
		{name: "wayland supported later", src: v1 + "[sockets]\nwayland = true\n", line: 3, key: "sockets.wayland", is: ErrNotSupported},
		{name: "dbus supported later", src: v1 + "[dbus]\ntalk = [\"org.freedesktop.portal.*\"]\n", line: 3, key: "dbus.talk", is: ErrNotSupported},
		{name: "share user namespace", src: v1 + "[namespaces]\nshare = [\"user\"]\n", line: 3, key: "namespaces.share[0]", isnt: ErrNotSupported},
		{name: "seccomp action unknown", src: v1 + "[seccomp]\naction = \"allow\"\n", line: 3, key: "seccomp.action", isnt: ErrNotSupported},
		{name: "seccomp multiarch with compat", src: v1 + "[seccomp]\npolicy = \"compat\"\nallow_multiarch = true\n", line: 4, key: "seccomp.allow_multiarch", isnt: ErrNotSupported},

		// security suite §6.6: seccomp overrides
		{name: "seccomp allow unknown name", src: v1 + "[seccomp]\nallow = [\"read\", \"ptrcae\"]\n", line: 3, key: "seccomp.allow[1]", isnt: ErrNotSupported},
		{name: "seccomp deny unknown name", src: v1 + "[seccomp]\ndeny = [\"socketcall\"]\n", line: 3, key: "seccomp.deny[0]", isnt: ErrNotSupported},
		{name: "seccomp allow clone3", src: v1 + "[seccomp]\nallow = [\"clone3\"]\nunsafe = \"x\"\n", line: 3, key: "seccomp.allow[0]", isnt: ErrNotSupported},
		{name: "seccomp deny clone3", src: v1 + "[seccomp]\ndeny = [\"clone3\"]\n", line: 3, key: "seccomp.deny[0]", isnt: ErrNotSupported},
		{name: "seccomp allow never-allow", src: v1 + "[seccomp]\nallow = [\"sysfs\", \"unshare\"]\n", line: 3, key: "seccomp.allow[1]", isnt: ErrNotSupported},
		{name: "seccomp allow keyctl", src: v1 + "[seccomp]\nallow = [\"keyctl\"]\n", line: 3, key: "seccomp.allow[0]", isnt: ErrNotSupported},
		{name: "seccomp allow ioctl", src: v1 + "[seccomp]\nallow = [\"ioctl\"]\n", line: 3, key: "seccomp.allow[0]", isnt: ErrNotSupported},
		{name: "seccomp unsafe empty", src: v1 + "[seccomp]\nunsafe = \"\"\n", line: 3, key: "seccomp.unsafe", isnt: ErrNotSupported},
		{name: "seccomp log with compat", src: v1 + "[seccomp]\npolicy = \"compat\"\naction = \"log\"\n", line: 4, key: "seccomp.action", isnt: ErrNotSupported},
	}
}

// TestBadInput checks that every bad input is refused with an *Error at
// the right line and key.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range badInputs() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := tc.file
			if file == "" {
				file = "p.toml"
			}
			p, err := parseAndValidate(file, []byte(tc.src))
			if err == nil {
				t.Fatalf("parse and validate = %+v, nil; want an error", p)
			}
			if p != nil {
				t.Errorf("got both a profile and an error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			if e.Line != tc.line || e.Key != tc.key {
				t.Errorf("error at line %d key %q, want line %d key %q (%v)", e.Line, e.Key, tc.line, tc.key, err)
			}
			if e.File != file {
				t.Errorf("error file %q, want %q", e.File, file)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			if tc.isnt != nil && errors.Is(err, tc.isnt) {
				t.Errorf("errors.Is(%v, %v) = true, want false", err, tc.isnt)
			}
		})
	}
}

// TestErrorsGolden pins the wording of every bad-input error (and hint)
// in testdata/errors.golden; run `go test ./profiles -update` to rewrite.
// This is the only test that compares error text.
func TestErrorsGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	for _, tc := range badInputs() {
		file := tc.file
		if file == "" {
			file = "p.toml"
		}
		_, err := parseAndValidate(file, []byte(tc.src))
		fmt.Fprintf(&b, "%s\n\t%v\n", tc.name, err)
		var e *Error
		if errors.As(err, &e) && e.Hint != "" {
			fmt.Fprintf(&b, "\thint: %s\n", escape(e.Hint))
		}
	}
	golden := filepath.Join("testdata", "errors.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		got := golden + ".got"
		_ = os.WriteFile(got, b.Bytes(), 0o644)
		t.Errorf("error messages differ from %s; see %s (diff them, then run with -update if intended)", golden, got)
	}
}
