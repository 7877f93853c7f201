package profiles

import (
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Path limits, from Linux's NAME_MAX and PATH_MAX (minus the NUL).
const (
	MaxPathLen      = 4095
	MaxComponentLen = 255
)

// xdgDefaults are the variables a profile path may start with, besides ~
// and $HOME, with the home-relative default used when the variable is
// unset. XDG_RUNTIME_DIR has no default: it must be set.
var xdgDefaults = map[string]string{
	"XDG_CONFIG_HOME":   ".config",
	"XDG_DATA_HOME":     ".local/share",
	"XDG_CACHE_HOME":    ".cache",
	"XDG_STATE_HOME":    ".local/state",
	"XDG_RUNTIME_DIR":   "",
	"XDG_DOWNLOAD_DIR":  "Downloads",
	"XDG_DOCUMENTS_DIR": "Documents",
	"XDG_MUSIC_DIR":     "Music",
	"XDG_PICTURES_DIR":  "Pictures",
	"XDG_VIDEOS_DIR":    "Videos",
	"XDG_DESKTOP_DIR":   "Desktop",
}

// pathError is a path problem without position; callers add file and key.
type pathError struct{ msg, hint string }

// splitPath checks the syntax of a profile path and splits it into its
// variable ("" for an absolute path, "HOME" for ~ and $HOME, or an XDG
// name) and the rest, which is "" or starts with "/". Nothing is ever
// cleaned: "..", ".", "//" and a trailing "/" are refused, so what the
// profile says is exactly what gets mounted (Flatpak rejects
// xdg-download/../foo rather than normalizing it).
func splitPath(s string) (variable, rest string, perr *pathError) {
	if s == "" {
		return "", "", &pathError{"empty path (must be absolute)", ""}
	}
	if len(s) > MaxPathLen {
		return "", "", &pathError{"path too long (more than " + strconv.Itoa(MaxPathLen) + " bytes)", ""}
	}
	for _, r := range s {
		if !utf8.ValidRune(r) || r == utf8.RuneError || !unicode.IsGraphic(r) || needsEscape(r) {
			return "", "", &pathError{"non-graphical character in path " + strconv.Quote(s), ""}
		}
	}
	switch {
	case s[0] == '/':
		rest = s
	case s == "~" || strings.HasPrefix(s, "~/"):
		variable, rest = "HOME", s[1:]
	case s[0] == '~':
		return "", "", &pathError{"~user paths are not supported in " + strconv.Quote(s) + " (must be absolute)", "use ~/ for your own home, or an absolute path"}
	case s[0] == '$':
		name, r, ok := cutVar(s[1:])
		if !ok {
			return "", "", &pathError{"malformed variable in " + strconv.Quote(s), "write $NAME or ${NAME}"}
		}
		if _, known := xdgDefaults[name]; !known && name != "HOME" {
			return "", "", &pathError{"unknown variable $" + name + " in " + strconv.Quote(s), "allowed: $HOME and the XDG base and user directories ($XDG_CONFIG_HOME, $XDG_DOWNLOAD_DIR, ...)"}
		}
		if r != "" && r[0] != '/' {
			return "", "", &pathError{"variable must be followed by / or nothing in " + strconv.Quote(s), ""}
		}
		variable, rest = name, r
	default:
		return "", "", &pathError{"relative path " + strconv.Quote(s) + " (must be absolute)", "start the path with /, ~/ or $HOME/"}
	}
	if rest == "/" && variable == "" {
		return variable, rest, nil
	}
	if rest == "" {
		return variable, rest, nil
	}
	for _, c := range strings.Split(rest[1:], "/") {
		switch {
		case c == "":
			return "", "", &pathError{"empty path component in " + strconv.Quote(s) + " (no //, no trailing /)", ""}
		case c == "..":
			return "", "", &pathError{"'..' in path " + strconv.Quote(s) + " (never cleaned; write the path without it)", ""}
		case c == ".":
			return "", "", &pathError{"'.' component in path " + strconv.Quote(s), ""}
		case len(c) > MaxComponentLen:
			return "", "", &pathError{"path component too long (more than " + strconv.Itoa(MaxComponentLen) + " bytes)", ""}
		}
	}
	return variable, rest, nil
}

// cutVar splits "NAME/rest" or "{NAME}/rest".
func cutVar(s string) (name, rest string, ok bool) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", "", false
		}
		name, rest = s[1:end], s[end+1:]
	} else {
		end := strings.IndexByte(s, '/')
		if end < 0 {
			end = len(s)
		}
		name, rest = s[:end], s[end:]
	}
	if name == "" {
		return "", "", false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	return name, rest, true
}

// canonical returns the path in one spelling for matching against the
// reserved and escape-equivalent tables: home-relative paths (including
// XDG variables that default into the home) as "~/…", the runtime dir as
// "$XDG_RUNTIME_DIR/…". It assumes splitPath accepted s.
func canonical(s string) string {
	v, rest, err := splitPath(s)
	if err != nil {
		return s
	}
	switch {
	case v == "":
		return rest
	case v == "HOME":
		return "~" + rest
	case v == "XDG_RUNTIME_DIR":
		return "$XDG_RUNTIME_DIR" + rest
	default:
		return "~/" + xdgDefaults[v] + rest
	}
}

// reservedDests are paths nixbox itself provides inside the sandbox; a
// bind or tmpfs may not replace them or anything below them.
var reservedDests = []string{
	"/proc", "/dev", "/sys", // kernel interfaces set up by the runtime
	"/nix",                      // the closure-only store view
	"/etc/passwd", "/etc/group", // synthesized user database
	"/run/nixbox", "/.nixbox", "/.nixbox-info", // launcher metadata
}

// IsReservedDest reports whether an absolute path inside the sandbox is
// one nixbox provides itself: "/", "/tmp" exactly (a nixbox tmpfs; paths
// below it are allowed), "/etc" exactly (a mount there would hide the
// synthesized /etc/passwd and /etc/group, which are files in the root, not
// mounts), "/run" exactly (the parent of /run/nixbox; paths below it, such
// as /run/user/1000/pulse, are allowed), or a path equal to or under
// /proc, /dev, /sys, /nix, /etc/passwd, /etc/group, /run/nixbox, /.nixbox
// or /.nixbox-info. Security suite §6.2: a destination nixbox reserves or
// a parent of one is refused, as Flatpak checks both directions, because
// a mount on the parent would replace what nixbox put below it. Use it
// again after ExpandPath.
func IsReservedDest(p string) bool {
	if p == "/" || p == "/tmp" || p == "/etc" || p == "/run" {
		return true
	}
	for _, r := range reservedDests {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// IsPseudoSource reports whether p is a kernel pseudo filesystem or magic
// link source (/proc…, /sys…, /dev…): binding /proc/self/fd/N or
// /proc/<pid>/root hands the sandbox host objects (CVE-2024-21626 style).
// Use it again after ExpandPath.
func IsPseudoSource(p string) bool { return isPseudoSource(p) }

func isPseudoSource(p string) bool {
	for _, r := range []string{"/proc", "/sys", "/dev"} {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// escapeEquivalent lists sources that hand the app a way out of the
// sandbox (or the user's secrets). "*" matches one path component.
// wholeOnly entries are escape-equivalent only as a whole (or through a
// parent); paths below them are fine, e.g. one file in the store or in
// the home.
var escapeEquivalent = []struct {
	path      string
	wholeOnly bool
	why       string
}{
	{"/", true, "the whole host file system"},
	{"~", true, "the whole home directory (shell startup files, keys, browser profiles)"},
	{"$XDG_RUNTIME_DIR", true, "the whole runtime dir (session bus, Wayland, agents)"},
	{"/run/user/*", true, "a whole runtime dir (session bus, Wayland, agents)"},
	{"$XDG_RUNTIME_DIR/bus", false, "the session bus (unfiltered D-Bus runs commands on the host)"},
	{"/run/user/*/bus", false, "the session bus (unfiltered D-Bus runs commands on the host)"},
	{"/nix", true, "the whole Nix tree"},
	{"/nix/store", true, "the whole store instead of the app's closure"},
	{"/nix/var", false, "the Nix database and daemon socket"},
	{"/nix/store/.links", false, "the store's hard-link farm (the whole store)"},
	{"/etc/static", false, "the system configuration"},
	{"/run/wrappers", false, "setuid wrappers"},
	{"/run/current-system", false, "the system configuration"},
	{"/etc/nixos", false, "the system configuration"},
	{"/run/secrets", false, "system secrets"},
	{"/run/agenix", false, "system secrets"},
	{"~/.ssh", false, "SSH keys"},
	{"~/.gnupg", false, "GnuPG keys and agent"},
	{"~/.config/nixbox", false, "nixbox's own profiles (the app could rewrite its sandbox)"},
	{"~/.local/share/nixbox", false, "nixbox's own state"},
	{"~/.cache/nixbox", false, "nixbox's caches (compiled seccomp filters, closures): the app could rewrite its filter"},
	{"$XDG_RUNTIME_DIR/nixbox", false, "nixbox's run state"},
	{"/tmp/nixbox-*", false, "nixbox's run state"},
	{"/var/run/docker.sock", false, "the Docker daemon (root on the host)"},
	{"/run/docker.sock", false, "the Docker daemon (root on the host)"},
	{"/run/podman", false, "the Podman socket"},
	{"/dev/kvm", false, "the KVM device"},
	{"/tmp/.X11-unix", false, "X11 sockets (keylogging, input injection)"},
	{"/run/dbus", false, "the system bus"},
	{"/var/run/dbus", false, "the system bus"},
}

// EscapeEquivalent reports whether a bind source gives the sandbox a way
// out or the user's secrets, and why. p is a profile path (~, $HOME and
// XDG prefixes are understood) or an absolute path. A source is
// escape-equivalent when it equals a listed path, is a parent of one
// (binding /run exposes /run/secrets; ~/.config exposes ~/.config/nixbox),
// or lies below one that is dangerous as a subtree.
//
// XXX(profiles): an absolute spelling of a home path (/home/u/.ssh) is not
// recognized here, because the home is a host fact; runtime/specgen must
// call this again on the expanded path with the home turned back into "~".
func EscapeEquivalent(p string) (bool, string) {
	c := canonical(p)
	for _, e := range escapeEquivalent {
		if matchPrefix(c, e.path) || (!e.wholeOnly && matchPrefix(e.path, c)) {
			return true, e.why
		}
	}
	return false, ""
}

// matchPrefix reports whether a is equal to b or an ancestor of b,
// component-wise, with "*" in b matching any one component.
func matchPrefix(a, b string) bool {
	if a == "/" {
		return strings.HasPrefix(b, "/")
	}
	ac := strings.Split(a, "/")
	bc := strings.Split(b, "/")
	if len(ac) > len(bc) {
		return false
	}
	for i := range ac {
		if ac[i] != bc[i] && bc[i] != "*" && ac[i] != "*" {
			return false
		}
	}
	return true
}

// ExpandPath expands a profile path for the host: "~" and "$HOME" (or
// "${HOME}") become home, and the XDG variables come from vars, falling
// back to their defaults under home when unset or empty
// (XDG_CONFIG_HOME=$HOME/.config, XDG_DATA_HOME=$HOME/.local/share,
// XDG_CACHE_HOME=$HOME/.cache, XDG_STATE_HOME=$HOME/.local/state,
// XDG_DOWNLOAD_DIR=$HOME/Downloads, and Documents, Music, Pictures,
// Videos, Desktop likewise). XDG_RUNTIME_DIR has no default; unset is an
// error. Only these variables expand. The input is checked first with the
// profile path rules, and the result again: it must be absolute, clean
// (no "..", ".", "//" or trailing "/"), free of control characters and
// within the length limits, so a variable holding "../x" or a relative
// path is an error, never silently used.
func ExpandPath(s string, vars map[string]string, home string) (string, error) {
	v, rest, perr := splitPath(s)
	if perr != nil {
		return "", &Error{Msg: perr.msg, Hint: perr.hint}
	}
	var base string
	switch {
	case v == "":
		base = ""
	case v == "HOME":
		base = home
		if err := checkExpanded(home, "$HOME"); err != nil {
			return "", err
		}
	default:
		val := vars[v]
		if val == "" {
			def := xdgDefaults[v]
			if def == "" {
				return "", &Error{Msg: "$" + v + " is not set", Hint: "run nixbox from a login session, or use a path that does not depend on it"}
			}
			if err := checkExpanded(home, "$HOME"); err != nil {
				return "", err
			}
			val = strings.TrimSuffix(home, "/") + "/" + def
		}
		if err := checkExpanded(val, "$"+v); err != nil {
			return "", err
		}
		base = val
	}
	out := base + rest
	if base == "/" && rest != "" {
		out = rest
	}
	if err := checkExpanded(out, strconv.Quote(s)); err != nil {
		return "", err
	}
	return out, nil
}

// checkExpanded checks that p is an absolute, clean, printable path.
func checkExpanded(p, what string) error {
	if p == "" || p[0] != '/' {
		return &Error{Msg: what + " expands to a relative path " + strconv.Quote(p) + " (must be absolute)"}
	}
	v, _, perr := splitPath(p)
	if perr != nil || v != "" || path.Clean(p) != p {
		msg := what + " expands to an unclean path " + strconv.Quote(p)
		if perr != nil {
			msg = what + " expands to a bad path: " + perr.msg
		}
		return &Error{Msg: msg}
	}
	return nil
}
