package profiles

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/nixbox/nixbox/seccomp"
)

// check is one named validation rule (runc's validator.go style): it
// returns the first problem it finds, or nil.
type check struct {
	name string
	fn   func(*Profile) error
}

// checks run in order; value checks come before checkRoadmap so that an
// invalid value in a roadmap section is reported as invalid, not merely
// as not supported.
var checks = []check{
	{"version", checkVersion},         // the format version is the one we speak
	{"description", checkDescription}, // printable one-liner for `nixbox profiles`
	{"extends", checkExtends},         // parent names are plain profile names
	{"app", checkApp},                 // package, command, args, packages
	{"filesystem", checkFilesystem},   // paths, modes, reserved dests, escapes
	{"home", checkHome},               // home mode and size
	{"env", checkEnv},                 // names, values, no secrets passed
	{"network", checkNetwork},         // network mode enum; host needs unsafe
	{"seccomp", checkSeccomp},         // policy and action enums, syscall names
	{"namespaces", checkNamespaces},   // shareable namespace names
	{"limits", checkLimits},           // resource limit ranges
	{"devices", checkDevices},         // device paths under /dev
	{"dbus", checkDBus},               // bus names
	{"roadmap", checkRoadmap},         // refuse keys this build cannot enforce
}

// Validate checks the cross-field and value rules of a profile (normally
// the merged, effective one) and returns the first problem as an *Error
// citing the position recorded in Pos. It never changes p. A roadmap key
// that is set to a valid value gives an *Error that also matches
// ErrNotSupported.
func (p *Profile) Validate() error {
	for _, c := range checks {
		if err := c.fn(p); err != nil {
			return err
		}
	}
	return nil
}

// errAt builds an *Error for key, with the recorded position of the key
// or, failing that, of its nearest recorded parent.
func (p *Profile) errAt(key, msg, hint string) *Error {
	e := &Error{File: p.Source, Key: key, Msg: msg, Hint: hint}
	for k := key; k != ""; {
		if pos, ok := p.Pos[k]; ok {
			if pos.File != "" {
				e.File = pos.File
			}
			e.Line, e.Col = pos.Line, pos.Col
			break
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return e
}

func (p *Profile) has(key string) bool {
	_, ok := p.Pos[key]
	return ok
}

func idx(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }

// checkVersion: the effective profile speaks format version 1.
func checkVersion(p *Profile) error {
	if p.Version != Version {
		return p.errAt("version", "unsupported version "+strconv.Itoa(p.Version)+" (this nixbox supports version "+strconv.Itoa(Version)+")", "")
	}
	return nil
}

// checkDescription: one printable line of at most 200 characters, since
// `nixbox profiles` prints it to a terminal.
func checkDescription(p *Profile) error {
	if !printable(p.Description) {
		return p.errAt("description", "non-graphical character in description", "")
	}
	if len(p.Description) > 200 {
		return p.errAt("description", "description longer than 200 bytes", "keep it to one line")
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if needsEscape(r) || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

var reProfileName = lazyRegexp(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// ValidName checks a profile name (app id) as used on the command line and
// in extends: letters, digits, '.', '_' and '-', not starting with '-' or
// '.', at most 128 bytes. Such a name can never be a path (no '/', no
// "..") or an option. It returns an *Error with Key and Msg set.
func ValidName(name string) error {
	if !reProfileName().MatchString(name) || len(name) > 128 {
		return &Error{Msg: "invalid profile name " + strconv.Quote(name) + " (letters, digits, '.', '_', '-'; not starting with '-' or '.')",
			Hint: "to load a file, give a path containing '/', such as ./" + name}
	}
	return nil
}

// checkExtends: every parent is a valid profile name, never a path.
func checkExtends(p *Profile) error {
	for i, n := range p.Extends {
		if err := ValidName(n); err != nil {
			e := err.(*Error)
			return p.errAt(idx("extends", i), e.Msg, "extends takes profile names, which are looked up like `nixbox run NAME`")
		}
	}
	return nil
}

const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

var (
	reStorePath   = lazyRegexp(`^/nix/store/([` + nixBase32 + `]{32})-([A-Za-z0-9+._?=-]+)$`)
	reCommandName = lazyRegexp(`^[A-Za-z0-9._+-]+$`)
)

// checkStoreRoot validates "/nix/store/<hash>-<name>" with no sub path.
func checkStoreRoot(s string) (msg, hint string) {
	m := reStorePath().FindStringSubmatch(s)
	if m == nil {
		if rest, ok := strings.CutPrefix(s, "/nix/store/"); ok && reStorePath().MatchString("/nix/store/"+strings.SplitN(rest, "/", 2)[0]) {
			return "store path " + strconv.Quote(s) + " has a sub path (not allowed in a package)", "name the store path root here and the file in app.command"
		}
		return "invalid store path " + strconv.Quote(s), "a store path is /nix/store/<32 nix-base32 characters>-<name>"
	}
	name := m[2]
	if strings.HasPrefix(name, ".") || len(name) > 211 {
		return "invalid store path " + strconv.Quote(s) + " (bad name)", ""
	}
	if strings.HasSuffix(name, ".drv") {
		return "store path " + strconv.Quote(s) + " is a derivation, not a package", "build it first and name the output path"
	}
	return "", ""
}

// checkPackageRef validates app.package and app.packages entries: a store
// path root, "closureinfo:<absolute path>", or a bare command name. Refs
// starting with '-' or holding whitespace or ';' could be taken as nix
// options or shell syntax (security suite 6.3).
func checkPackageRef(s string) (msg, hint string) {
	switch {
	case s == "":
		return "empty package", ""
	case strings.HasPrefix(s, "-"):
		return "package " + strconv.Quote(s) + " starts with '-'", ""
	case strings.ContainsAny(s, ";") || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || needsEscape(r) }) >= 0:
		return "package " + strconv.Quote(s) + " contains whitespace, control characters or ';'", ""
	case strings.HasPrefix(s, "closureinfo:"):
		f := strings.TrimPrefix(s, "closureinfo:")
		if v, _, perr := splitPath(f); perr != nil || v != "" {
			return "closureinfo: needs an absolute path, got " + strconv.Quote(f), ""
		}
		return "", ""
	case strings.HasPrefix(s, "/nix/store/"):
		return checkStoreRoot(s)
	case strings.HasPrefix(s, "/"):
		return "package path " + strconv.Quote(s) + " is outside /nix/store", "give a store path, or a command name found in PATH"
	case !reCommandName().MatchString(s) || s == "." || s == "..":
		return "invalid package name " + strconv.Quote(s), "a command name is letters, digits, '.', '_', '+', '-'"
	}
	return "", ""
}

// checkCommand validates app.command: a clean relative path inside the
// package, or an absolute path inside a store path; never '-'-leading
// (CVE-2024-32462 style option injection).
func checkCommand(s string) (msg, hint string) {
	if strings.HasPrefix(s, "-") {
		return "command " + strconv.Quote(s) + " starts with '-'", ""
	}
	rel := s
	if strings.HasPrefix(s, "/") {
		parts := strings.SplitN(strings.TrimPrefix(s, "/nix/store/"), "/", 2)
		if !strings.HasPrefix(s, "/nix/store/") || !reStorePath().MatchString("/nix/store/"+parts[0]) {
			return "command " + strconv.Quote(s) + " is outside the store", "use a path relative to the package, such as bin/" + "app"
		}
		if len(parts) == 1 {
			return "command " + strconv.Quote(s) + " is a store path root, not a file", ""
		}
		rel = parts[1]
	}
	if !printable(rel) || rel == "" {
		return "invalid command " + strconv.Quote(s), ""
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." || len(c) > MaxComponentLen {
			return "command " + strconv.Quote(s) + " must be a clean path (no '..', '.', '//' or trailing '/')", ""
		}
	}
	return "", ""
}

// checkApp: package, command, args and extra packages are well formed.
func checkApp(p *Profile) error {
	a := p.App
	if p.has("app.package") || a.Package != "" {
		if msg, hint := checkPackageRef(a.Package); msg != "" {
			return p.errAt("app.package", msg, hint)
		}
	}
	if p.has("app.command") || a.Command != "" {
		if msg, hint := checkCommand(a.Command); msg != "" {
			return p.errAt("app.command", msg, hint)
		}
	}
	for i, s := range a.Args {
		if strings.IndexByte(s, 0) >= 0 {
			return p.errAt(idx("app.args", i), "NUL byte in argument", "")
		}
	}
	for i, s := range a.Packages {
		if msg, hint := checkPackageRef(s); msg != "" {
			return p.errAt(idx("app.packages", i), msg, hint)
		}
	}
	return nil
}

// checkSource validates a host path used as a bind source.
func checkSource(s string, unsafe string) (msg, hint string) {
	if _, _, perr := splitPath(s); perr != nil {
		return perr.msg, perr.hint
	}
	if c := canonical(s); isPseudoSource(c) {
		hint := "the sandbox has its own /proc, /sys and /dev"
		if c == "/dev" || strings.HasPrefix(c, "/dev/") {
			hint = "device access will be granted by [devices] allow"
		}
		return "source " + strconv.Quote(s) + " is a kernel pseudo file system (/proc, /sys, /dev)", hint
	}
	if esc, why := EscapeEquivalent(s); esc && strings.TrimSpace(unsafe) == "" {
		return "source " + strconv.Quote(s) + " is sandbox-escape-equivalent: " + why, "if you really mean it, use a [[filesystem.bind]] entry with unsafe = \"<reason>\""
	}
	return "", ""
}

// checkDest validates a path inside the sandbox used as a mount point.
func checkDest(s string) (msg, hint string) {
	if _, _, perr := splitPath(s); perr != nil {
		return perr.msg, perr.hint
	}
	if c := canonical(s); IsReservedDest(c) {
		return "destination " + strconv.Quote(s) + " is reserved by nixbox", "choose another path inside the sandbox"
	}
	return "", ""
}

// checkFilesystem: every grant has a well-formed, non-reserved path, and
// escape-equivalent sources carry an unsafe reason.
func checkFilesystem(p *Profile) error {
	fs := p.Filesystem
	for _, l := range []struct {
		key  string
		list []string
	}{{"filesystem.ro", fs.RO}, {"filesystem.rw", fs.RW}} {
		for i, s := range l.list {
			if msg, hint := checkSource(s, ""); msg != "" {
				return p.errAt(idx(l.key, i), msg, hint)
			}
			if msg, hint := checkDest(s); msg != "" {
				return p.errAt(idx(l.key, i), msg, hint)
			}
		}
	}
	for i, b := range fs.Bind {
		k := idx("filesystem.bind", i)
		if !printable(b.Unsafe) {
			return p.errAt(k+".unsafe", "non-graphical character in unsafe reason", "")
		}
		if msg, hint := checkSource(b.Source, b.Unsafe); msg != "" {
			return p.errAt(k+".source", msg, hint)
		}
		if b.Dest == "" && !p.has(k+".dest") {
			if msg, hint := checkDest(b.Source); msg != "" {
				return p.errAt(k+".source", msg+" (dest defaults to the source)", hint)
			}
		} else if msg, hint := checkDest(b.Dest); msg != "" {
			return p.errAt(k+".dest", msg, hint)
		}
		if b.Mode != "" && b.Mode != BindRO && b.Mode != BindRW || b.Mode == "" && p.has(k+".mode") {
			return p.errAt(k+".mode", "invalid mode "+strconv.Quote(string(b.Mode))+" (must be \"ro\" or \"rw\")", "")
		}
	}
	for i, t := range fs.Tmpfs {
		k := idx("filesystem.tmpfs", i)
		if t.Dest == "" && !p.has(k+".dest") {
			return p.errAt(k, "tmpfs without dest", "")
		}
		if msg, hint := checkDest(t.Dest); msg != "" {
			return p.errAt(k+".dest", msg, hint)
		}
		if t.Size != "" || p.has(k+".size") {
			if _, err := ParseSize(t.Size); err != nil {
				return p.errAt(k+".size", err.(*Error).Msg, "")
			}
		}
		// nr_inodes = 0 would mean "no inode limit" to the kernel, and a
		// huge one the same in effect: every inode costs kernel memory
		// that size= does not bound (security suite case 59, §6.4). The
		// profile package does not read the host, so the cap is fixed.
		if t.NrInodes != 0 || p.has(k+".nr_inodes") {
			if err := checkNrInodes(p, k+".nr_inodes", t.NrInodes); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNrInodes refuses a tmpfs inode limit outside 1..MaxTmpfsInodes,
// with a hint for 0, which the kernel reads as no limit.
func checkNrInodes(p *Profile, key string, n int64) error {
	if n >= 1 && n <= MaxTmpfsInodes {
		return nil
	}
	hint := ""
	if n == 0 {
		hint = "the kernel reads 0 as no limit; leave nr_inodes out for its default"
	}
	return p.errAt(key, "nr_inodes out of range (1 to "+strconv.Itoa(MaxTmpfsInodes)+")", hint)
}

// MaxTmpfsSize is the largest tmpfs (and ephemeral home) size accepted.
const MaxTmpfsSize = 16 << 30

// MaxTmpfsInodes is the largest tmpfs nr_inodes accepted: one inode per
// KiB of the largest tmpfs (2^24). It is fixed rather than read from the
// host (the kernel itself takes any unsigned long); a tmpfs inode costs
// about 1 KiB of kernel memory outside the size limit.
const MaxTmpfsInodes = MaxTmpfsSize >> 10

var reSize = lazyRegexp(`^[1-9][0-9]*[KMG]?$`)

// ParseSize parses a tmpfs size: decimal digits with an optional K, M or G
// suffix (powers of 1024), greater than zero and at most 16G. Everything
// else is refused, including bubblewrap's test vectors "0", "123bogus",
// "", "-1", " -1", 2^64 and 2^63+1; lower-case suffixes are refused too.
func ParseSize(s string) (uint64, error) {
	bad := func(why string) error {
		return &Error{Msg: "invalid size " + strconv.Quote(s) + " (" + why + ")"}
	}
	if !reSize().MatchString(s) {
		if s == "0" {
			return 0, bad("must be greater than zero")
		}
		return 0, bad("digits with an optional K, M or G suffix, e.g. \"64M\"")
	}
	mult := uint64(1)
	switch s[len(s)-1] {
	case 'K':
		mult = 1 << 10
	case 'M':
		mult = 1 << 20
	case 'G':
		mult = 1 << 30
	}
	digits := strings.TrimRight(s, "KMG")
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > MaxTmpfsSize/mult {
		return 0, bad("at most 16G")
	}
	return n * mult, nil
}

// checkHome: mode is an enum; size and nr_inodes are checked like a
// tmpfs's (both are validated even for a persistent home, which ignores
// them, so a profile stays valid when its mode changes).
func checkHome(p *Profile) error {
	switch p.Home.Mode {
	case HomeEphemeral, HomePersistent:
	case "":
		if p.has("home.mode") {
			return p.errAt("home.mode", "empty home mode (must be \"ephemeral\" or \"persistent\")", "")
		}
	default:
		return p.errAt("home.mode", "invalid home mode "+strconv.Quote(string(p.Home.Mode))+" (must be \"ephemeral\" or \"persistent\")", "")
	}
	if p.Home.Size != "" || p.has("home.size") {
		if _, err := ParseSize(p.Home.Size); err != nil {
			return p.errAt("home.size", err.(*Error).Msg, "")
		}
	}
	if n := p.Home.NrInodes; n != nil {
		// As for filesystem.tmpfs[].nr_inodes: the kernel reads 0 as "no
		// inode limit", and every inode costs kernel memory that size=
		// does not bound (security suite case 59, §6.4).
		if err := checkNrInodes(p, "home.nr_inodes", *n); err != nil {
			return err
		}
	}
	return nil
}

var reEnvName = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretEnv reports why a variable name looks like a secret or like a
// loader/Nix control variable that must not leak from the host.
func secretEnv(name string) string {
	u := strings.ToUpper(name)
	switch {
	case strings.HasSuffix(u, "_TOKEN"), strings.HasSuffix(u, "_SECRET"), strings.Contains(u, "PASSWORD"),
		strings.HasSuffix(u, "_API_KEY"), strings.HasPrefix(u, "AWS_"):
		return "it looks like a secret"
	case u == "SSH_AUTH_SOCK", u == "GPG_AGENT_INFO":
		return "it hands the app your key agent"
	case strings.HasPrefix(u, "LD_"), strings.HasPrefix(u, "NIX_"):
		return "it controls the dynamic loader or Nix"
	}
	return ""
}

// checkEnv: names are portable, values hold no NUL, and env.pass copies
// no secrets and no wildcard from the host.
func checkEnv(p *Profile) error {
	for _, name := range sortedKeys(p.Env.Set) {
		k := "env.set." + name
		if !reEnvName().MatchString(name) {
			return p.errAt(k, "invalid variable name "+strconv.Quote(name)+" (letters, digits and '_', not starting with a digit)", "")
		}
		if strings.IndexByte(p.Env.Set[name], 0) >= 0 {
			return p.errAt(k, "NUL byte in value", "")
		}
	}
	for i, name := range p.Env.Pass {
		k := idx("env.pass", i)
		if name == "*" || strings.Contains(name, "*") {
			return p.errAt(k, "wildcard in env.pass (the host environment holds secrets)", "list the variables the app needs by name")
		}
		if !reEnvName().MatchString(name) {
			return p.errAt(k, "invalid variable name "+strconv.Quote(name)+" (letters, digits and '_', not starting with a digit)", "")
		}
		if why := secretEnv(name); why != "" {
			return p.errAt(k, "refusing to pass "+name+": "+why, "if the app needs a value, set it with [env.set] in a profile only you can read")
		}
	}
	return nil
}

// checkNetwork: network mode is an enum, and mode = "host" carries a
// reason in network.unsafe given by the same profile. Host networking
// shares the host's network namespace, and with it the abstract unix
// sockets X11 and D-Bus listen on (@/tmp/.X11-unix/X0, the session bus
// of some hosts) and every service on localhost: security suite case 53
// (CVE-2024-27297 used abstract sockets as a cross-boundary channel)
// flags it as an exposure that fails without an explicit acknowledgement.
func checkNetwork(p *Profile) error {
	n := p.Network
	switch n.Mode {
	case NetworkNone, NetworkHost:
	case "":
		if p.has("network.mode") {
			return p.errAt("network.mode", "invalid network mode \"\" (must be \"none\" or \"host\")", "")
		}
	default:
		return p.errAt("network.mode", "invalid network mode "+strconv.Quote(string(n.Mode))+" (must be \"none\" or \"host\")", "")
	}
	if n.Unsafe != "" || p.has("network.unsafe") {
		if strings.TrimSpace(n.Unsafe) == "" {
			return p.errAt("network.unsafe", "unsafe must give a reason", "say why the app needs the host network")
		}
		if !printable(n.Unsafe) {
			return p.errAt("network.unsafe", "non-graphical character in unsafe", "")
		}
		if n.Mode != NetworkHost {
			return p.errAt("network.unsafe", "unsafe without mode = \"host\" (only host networking needs an acknowledgement)", "remove unsafe, or set mode = \"host\" next to it if the app needs the host network")
		}
		mp, mok := p.Pos["network.mode"]
		up, uok := p.Pos["network.unsafe"]
		if mok && uok && mp.File != up.File {
			return p.errAt("network.unsafe", "unsafe without mode = \"host\" in the same profile (mode is set in "+mp.File+")", "set mode = \"host\" next to unsafe, or remove unsafe")
		}
	}
	if n.Mode == NetworkHost && n.Unsafe == "" {
		return p.errAt("network.mode", "network mode \"host\" needs network.unsafe: the app shares the host's network namespace, with its abstract unix sockets (X11, D-Bus) and local services", "if you really need it, set unsafe = \"<reason>\" in [network] next to mode = \"host\"")
	}
	return nil
}

var reSyscall = lazyRegexp(`^[a-z_][a-z0-9_]{0,63}$`)

// checkSeccomp: policy and action are enums; syscall names are x86_64
// system calls nixbox knows (seccomp.KnownSyscall); clone3 can be neither
// allowed nor denied; allowing a call the policy denies on purpose needs a
// reason in seccomp.unsafe (security suite §6.6). Whether the host's
// libseccomp knows a name is checked when the filter is compiled.
func checkSeccomp(p *Profile) error {
	s := p.Seccomp
	switch {
	case s.Policy == "strict", s.Policy == "compat":
	case s.Policy == "" && !p.has("seccomp.policy"):
	case seccomp.PolicyTestingAllowAll != "" && s.Policy == seccomp.PolicyTestingAllowAll:
		// The allow-all policy of the no-seccomp test build; the constant
		// is "" unless built with the nixbox_testing tag, which release
		// builds never are (seccomp/testing_on.go).
	default:
		return p.errAt("seccomp.policy", "invalid seccomp policy "+strconv.Quote(s.Policy)+" (must be \"strict\" or \"compat\")", "")
	}
	switch {
	case s.Action == "errno", s.Action == "kill":
	case s.Action == "log":
		if s.Policy == "compat" {
			return p.errAt("seccomp.action", "action \"log\" needs the strict policy (compat allows by default: there is nothing to log)", "")
		}
	case s.Action == "" && !p.has("seccomp.action"):
	default:
		return p.errAt("seccomp.action", "invalid seccomp action "+strconv.Quote(s.Action)+" (must be \"errno\", \"kill\" or \"log\")", "")
	}
	if s.AllowMultiarch != nil && *s.AllowMultiarch && s.Policy == "compat" {
		// compat allows by default, so i386's socketcall and every i386
		// call not on the denylist would be open; only strict can be
		// rendered for i386 (seccomp.Options.AllowMultiarch).
		return p.errAt("seccomp.allow_multiarch", "allow_multiarch needs the strict policy (a denylist cannot filter i386 system calls)", "remove policy = \"compat\", or allow_multiarch")
	}
	if s.Unsafe == "" && p.has("seccomp.unsafe") {
		return p.errAt("seccomp.unsafe", "unsafe must give a reason", "say why the profile needs the calls it allows")
	}
	if !printable(s.Unsafe) {
		return p.errAt("seccomp.unsafe", "non-graphical character in unsafe", "")
	}
	for _, l := range []struct {
		key  string
		list []string
	}{{"seccomp.allow", s.Allow}, {"seccomp.deny", s.Deny}} {
		for i, n := range l.list {
			k := idx(l.key, i)
			switch {
			case !reSyscall().MatchString(n):
				return p.errAt(k, "invalid system call name "+strconv.Quote(n), "")
			case !seccomp.KnownSyscall(n):
				return p.errAt(k, "unknown system call "+strconv.Quote(n), "names are x86_64 system calls, as in `man 2 syscalls`")
			case seccomp.NeverAllowed(n):
				return p.errAt(k, "clone3 must fail with ENOSYS so that libc falls back to clone; it can be neither allowed nor denied", "")
			}
			if l.key != "seccomp.allow" {
				continue
			}
			if why, ok := seccomp.NeedsUnsafe(n); ok && s.Unsafe == "" {
				return p.errAt(k, "allowing "+n+" needs seccomp.unsafe: "+why, "set unsafe = \"<reason>\" in [seccomp] if you really need it")
			}
		}
	}
	return nil
}

// checkNamespaces: only namespaces that can be shared without handing
// over the sandbox are named (never user or mount).
func checkNamespaces(p *Profile) error {
	for i, n := range p.Namespaces.Share {
		switch n {
		case "net", "ipc", "pid", "uts", "cgroup":
		case "user", "mnt", "mount":
			return p.errAt(idx("namespaces.share", i), "the "+n+" namespace can never be shared (it is the sandbox)", "")
		default:
			return p.errAt(idx("namespaces.share", i), "unknown namespace "+strconv.Quote(n)+" (net, ipc, pid, uts or cgroup)", "")
		}
	}
	return nil
}

var reMemory = lazyRegexp(`^[1-9][0-9]*[KMGT]?$`)

// checkMemory: "max", or a positive byte count with K/M/G/T suffix below
// 2^63. "0" does not mean unlimited, and a lower-case "m" is ambiguous.
func checkMemory(s string) string {
	if s == "max" {
		return ""
	}
	if !reMemory().MatchString(s) {
		return "invalid memory size " + strconv.Quote(s) + " (a positive number with an optional K, M, G or T suffix, or \"max\")"
	}
	shift := map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}[s[len(s)-1]]
	n, err := strconv.ParseUint(strings.TrimRight(s, "KMGT"), 10, 64)
	if err != nil || n > math.MaxInt64>>shift {
		return "memory size " + strconv.Quote(s) + " out of range"
	}
	return ""
}

// ParseMemory returns the bytes of a valid limits.memory or
// limits.memory_swap value, or -1 for "max" (no limit).
func ParseMemory(s string) (int64, error) {
	if s == "max" {
		return -1, nil
	}
	if msg := checkMemory(s); msg != "" {
		return 0, fmt.Errorf("%w: %s", ErrInvalid, msg)
	}
	shift := map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}[s[len(s)-1]]
	n, _ := strconv.ParseInt(strings.TrimRight(s, "KMGT"), 10, 64)
	return n << shift, nil
}

// checkLimits: resource limits are in range. runc maps pids 0 to 1 and -1
// to unlimited silently; nixbox refuses both.
func checkLimits(p *Profile) error {
	l := p.Limits
	for _, m := range []struct{ key, val string }{{"limits.memory", l.Memory}, {"limits.memory_swap", l.MemorySwap}} {
		if m.val != "" || p.has(m.key) {
			if msg := checkMemory(m.val); msg != "" {
				return p.errAt(m.key, msg, "")
			}
		}
	}
	if l.MemorySwap != "" {
		mem, _ := ParseMemory(l.Memory)
		swap, _ := ParseMemory(l.MemorySwap)
		switch {
		case l.Memory == "":
			return p.errAt("limits.memory_swap", "memory_swap needs limits.memory too (it is memory plus swap)", "")
		case swap != -1 && (mem == -1 || swap < mem):
			return p.errAt("limits.memory_swap", "memory_swap ("+l.MemorySwap+") is memory plus swap: it must be at least limits.memory ("+l.Memory+")", "")
		}
	}
	if l.CPU != nil && (math.IsNaN(*l.CPU) || *l.CPU <= 0 || *l.CPU > 1024) {
		return p.errAt("limits.cpu", "cpu must be a number of cores above 0 and at most 1024", "")
	}
	for _, r := range []struct {
		key      string
		v        *int64
		min, max int64
	}{
		{"limits.cpu_weight", l.CPUWeight, 1, 10000},
		{"limits.pids", l.Pids, 1, 1 << 22},
		{"limits.io_weight", l.IOWeight, 1, 10000},
		{"limits.nofile", l.Nofile, 1, 1 << 20},
		{"limits.core", l.Core, 0, math.MaxInt64},
	} {
		if r.v != nil && (*r.v < r.min || *r.v > r.max) {
			return p.errAt(r.key, r.key[len("limits."):]+" out of range ("+strconv.FormatInt(r.min, 10)+" to "+strconv.FormatInt(r.max, 10)+")", "")
		}
	}
	return nil
}

// checkDevices: device grants are clean paths under /dev.
func checkDevices(p *Profile) error {
	for i, d := range p.Devices.Allow {
		v, rest, perr := splitPath(d)
		if perr != nil || v != "" || !strings.HasPrefix(rest, "/dev/") {
			return p.errAt(idx("devices.allow", i), "invalid device "+strconv.Quote(d)+" (a clean path under /dev/)", "")
		}
	}
	return nil
}

var reBusName = lazyRegexp(`^[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)+(\.\*)?$`)

// checkDBus: names are well-known bus names, optionally ending in ".*".
func checkDBus(p *Profile) error {
	for _, l := range []struct {
		key  string
		list []string
	}{{"dbus.talk", p.DBus.Talk}, {"dbus.own", p.DBus.Own}, {"dbus.see", p.DBus.See}} {
		for i, n := range l.list {
			if len(n) > 255 || !reBusName().MatchString(n) {
				return p.errAt(idx(l.key, i), "invalid bus name "+strconv.Quote(n), "")
			}
		}
	}
	return nil
}

// checkRoadmap refuses keys this build parses but cannot enforce. Running
// without a limit or filter the profile asks for would be a silent
// downgrade (style.md §9), so the run stops instead.
func checkRoadmap(p *Profile) error {
	k := p.Sockets
	set := []struct {
		key string
		on  bool
	}{
		{"namespaces.share", len(p.Namespaces.Share) > 0},
		{"sockets.wayland", k.Wayland != nil},
		{"sockets.x11", k.X11 != nil},
		{"sockets.pulseaudio", k.Pulseaudio != nil},
		{"sockets.pipewire", k.Pipewire != nil},
		{"devices.allow", len(p.Devices.Allow) > 0},
		{"dbus.talk", len(p.DBus.Talk) > 0},
		{"dbus.own", len(p.DBus.Own) > 0},
		{"dbus.see", len(p.DBus.See) > 0},
	}
	for _, x := range set {
		if x.on {
			e := p.errAt(x.key, "not supported yet (the profile asks for "+x.key+"; nixbox refuses rather than run without it)", "remove the key, or wait for a nixbox release that enforces it")
			e.Err = ErrNotSupported
			return e
		}
	}
	return nil
}

// lazyRegexp compiles expr on first use. The package's patterns are
// compiled lazily rather than at package init because every nixbox
// process runs this package's init, including libcontainer's re-exec'd
// init and `nixbox version`, which never validate a profile: compiling
// them all at init cost about 2 ms per process (GODEBUG=inittrace=1).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
