package specinvariant

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Paths nixbox puts in every sandbox; runtime/specgen's InitPath and
// SeccompPath must equal them (build_test.go checks).
const (
	InitPath    = "/.nixbox/init"
	SeccompPath = "/.nixbox/seccomp.bpf"
	StagingPath = "/.nixbox/store"
)

// storeDir is the Nix store, the only one nixbox supports.
const storeDir = "/nix/store"

// The invariants. Every error Check returns wraps exactly one of them.
var (
	ErrShape       = errors.New("spec lacks linux, process or root")
	ErrNamespaces  = errors.New("no new user or mount namespace, or a namespace joined by path")
	ErrCaps        = errors.New("capabilities beyond nixbox-init's CAP_SETFCAP (and, with the store staging bind, CAP_SYS_ADMIN and CAP_SETPCAP)")
	ErrNoNewPrivs  = errors.New("no_new_privs off")
	ErrRootRW      = errors.New("root is writable")
	ErrIDMap       = errors.New("id map is not a single mapping of one id")
	ErrInit        = errors.New("process does not start with nixbox-init")
	ErrSeccompFile = errors.New("compiled seccomp filter not bound read-only for nixbox-init")
	ErrPolicy      = errors.New("seccomp policy missing or unsafe")
	ErrStore       = errors.New("store mount neither a read-only, nosuid, nodev bind of one store path onto itself, nor the assembly's tmpfs and single read-only staging bind")
	ErrNixState    = errors.New("Nix daemon socket or /nix/var exposed")
	ErrSysfs       = errors.New("sysfs or cgroupfs mounted")
	ErrBindFlags   = errors.New("bind without nosuid,nodev")
	ErrReserved    = errors.New("mount over a path nixbox reserves")
	ErrPath        = errors.New("mount path not absolute and clean")
	ErrPseudo      = errors.New("bind of a kernel pseudo file system")
	ErrPropagation = errors.New("mount propagation shared with the host")
	ErrUnmasked    = errors.New("nixbox's own directory visible through a bind")
	ErrHidden      = errors.New("bind exposes a host path the sandbox must never see")
	ErrTmpfsLimit  = errors.New("writable tmpfs without a size limit, or with size=0 or nr_inodes=0 (no limit)")
)

// Options loosen the source checks for binds a profile acknowledged with
// unsafe = "<reason>" (security-suite §6: an escape-equivalent source is
// an error unless acknowledged). Destinations, flags and every other
// invariant are never loosened.
type Options struct {
	// UnsafeSources are the host paths of acknowledged unsafe binds.
	UnsafeSources map[string]bool
	// Protected are nixbox's own host directories (specgen.Input.Protected).
	// Where a bind's source contains one, a read-only tmpfs must mask it
	// at the matching place inside, mounted after everything above it.
	Protected []string
}

// Check returns every violated invariant of s and the seccomp policy the
// app runs under (Plan.Seccomp), or nil.
func Check(s *specs.Spec, policy *specs.LinuxSeccomp) []error {
	return CheckOptions(s, policy, Options{})
}

// CheckOptions is Check with acknowledged unsafe sources.
func CheckOptions(s *specs.Spec, policy *specs.LinuxSeccomp, o Options) []error {
	var errs []error
	bad := func(rule error, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{rule}, args...)...))
	}
	if s == nil || s.Linux == nil || s.Process == nil || s.Root == nil {
		bad(ErrShape, "%+v", s)
		return errs
	}
	assembly := hasStaging(s)
	checkProcess(s, assembly, bad)
	checkPolicy(policy, bad)
	checkMounts(s, o, assembly, bad)
	checkMasks(s, o.Protected, bad)
	return errs
}

type reporter func(rule error, format string, args ...any)

// hasStaging reports whether the spec has a mount at StagingPath: the
// store is then assembled by nixbox-init (runtime/specgen.WithStore), and
// the rules of that mode apply.
func hasStaging(s *specs.Spec) bool {
	for _, m := range s.Mounts {
		if m.Destination == StagingPath {
			return true
		}
	}
	return false
}

func checkProcess(s *specs.Spec, assembly bool, bad reporter) {
	var userNS, mountNS bool
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" {
			bad(ErrNamespaces, "%s namespace joined at %q", ns.Type, ns.Path)
		}
		userNS = userNS || ns.Type == specs.UserNamespace
		mountNS = mountNS || ns.Type == specs.MountNamespace
	}
	if !userNS || !mountNS {
		bad(ErrNamespaces, "%+v", s.Linux.Namespaces)
	}
	if !s.Process.NoNewPrivileges {
		bad(ErrNoNewPrivs, "process.noNewPrivileges is false")
	}
	if !s.Root.Readonly {
		bad(ErrRootRW, "root.readonly is false")
	}
	// nixbox-init alone holds CAP_SETFCAP, to map the app's nested user
	// namespace, and drops it before exec; never inheritable or ambient
	// (CVE-2022-29162). CAP_SYS_ADMIN and CAP_SETPCAP only to assemble the
	// store from the staging bind: nixbox-init, PID 1 and the only process
	// of the sandbox, drops them from every set, bounding included, before
	// it reports ready (cmd/nixbox-init/store.go); never otherwise.
	allowed := map[string]bool{"CAP_SETFCAP": true}
	if assembly {
		allowed["CAP_SYS_ADMIN"], allowed["CAP_SETPCAP"] = true, true
	}
	c := s.Process.Capabilities
	if c == nil {
		bad(ErrCaps, "no capabilities section (the runtime's default set applies)")
	} else {
		if len(c.Inheritable)+len(c.Ambient) != 0 {
			bad(ErrCaps, "inheritable %v, ambient %v", c.Inheritable, c.Ambient)
		}
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
			for _, cp := range set {
				if !allowed[cp] {
					bad(ErrCaps, "%s in %+v", cp, c)
				}
			}
		}
	}
	// The sandbox's 0 is the invoking user, and no other host id is mapped.
	for _, m := range [][]specs.LinuxIDMapping{s.Linux.UIDMappings, s.Linux.GIDMappings} {
		if len(m) != 1 || m[0].Size != 1 || m[0].ContainerID != 0 {
			bad(ErrIDMap, "%+v", m)
		}
	}
	// [init, --uid, N, --gid, N, (--allow-userns), --, program, args...];
	// --allow-userns (seccomp.allow_userns) leaves the app's user
	// namespace uncapped (cmd/nixbox-init/sysctl.go).
	a := s.Process.Args
	prog := 6
	if len(a) > 5 && a[5] == "--allow-userns" {
		prog = 7
	}
	if len(a) < prog+1 || a[0] != InitPath || a[1] != "--uid" || a[3] != "--gid" || a[prog-1] != "--" || !path.IsAbs(a[prog]) {
		bad(ErrInit, "args %q", a)
	}
	if p := s.Linux.RootfsPropagation; p == "shared" || p == "rshared" {
		bad(ErrPropagation, "rootfsPropagation %q", p)
	}
}

func checkPolicy(sc *specs.LinuxSeccomp, bad reporter) {
	if sc == nil || sc.DefaultAction == "" {
		bad(ErrPolicy, "no seccomp policy")
		return
	}
	if sc.DefaultAction == specs.ActAllow && len(sc.Syscalls) == 0 {
		bad(ErrPolicy, "default action allow and no rules")
	}
	for _, r := range sc.Syscalls {
		for _, n := range r.Names {
			if n != "ioctl" {
				continue
			}
			for _, a := range r.Args {
				// A 64-bit EQ on the request compares the upper half too,
				// which the kernel ignores (CVE-2019-10063).
				if a.Op == specs.OpEqualTo {
					bad(ErrPolicy, "ioctl rule with SCMP_CMP_EQ instead of SCMP_CMP_MASKED_EQ: %+v", a)
				}
			}
		}
	}
}

// own are the mounts nixbox itself makes at reserved places, by
// destination and type; each may appear once.
var own = map[[2]string]bool{
	{"/proc", "proc"}: true, {"/dev", "tmpfs"}: true, {"/dev/pts", "devpts"}: true,
	{"/dev/shm", "tmpfs"}: true, {"/tmp", "tmpfs"}: true,
	{InitPath, "bind"}: true, {SeccompPath, "bind"}: true,
}

// reserved are the destinations nixbox provides itself, with everything
// below them (security-suite §6).
var reserved = []string{
	"/proc", "/dev", "/sys", "/nix", "/etc/passwd", "/etc/group",
	"/run/nixbox", "/.nixbox", "/.nixbox-info",
}

// hidden are host paths no bind may expose, itself, below or through a
// parent, unless acknowledged unsafe (security-suite §1.4: the store's
// hard-link farm is the whole store; the rest is system configuration,
// setuid wrappers and secrets).
var hidden = []string{
	"/nix/store/.links", "/run/current-system", "/etc/static", "/etc/nixos",
	"/run/wrappers", "/run/secrets", "/run/agenix",
}

// reservedExact are reserved as a whole only: a mount below them is fine.
var reservedExact = []string{"/", "/tmp", "/etc"}

func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// tmpfsBounded reports whether tmpfs options set one size= and no zero
// size= or nr_inodes= (a zero, in any spelling such as "0k", is no limit).
func tmpfsBounded(opts []string) bool {
	sized := false
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k != "size" && k != "nr_inodes" {
			continue
		}
		if strings.TrimLeft(strings.TrimRight(v, "kKmMgGtTpPeE%"), "0") == "" {
			return false
		}
		sized = sized || k == "size"
	}
	return sized
}

func isBind(m specs.Mount) bool {
	return m.Type == "bind" || hasOpt(m.Options, "bind") || hasOpt(m.Options, "rbind")
}

func readOnly(m specs.Mount) bool {
	return hasOpt(m.Options, "ro") && !hasOpt(m.Options, "rw")
}

// cleanAbs reports whether p is absolute, clean and printable.
func cleanAbs(p string) bool {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return false
	}
	for _, r := range p {
		if r == 0xfffd || !unicode.IsGraphic(r) {
			return false
		}
	}
	return true
}

// storePath reports whether p is /nix/store/<name> with one component.
func storePath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/nix/store/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}

func checkMounts(s *specs.Spec, o Options, assembly bool, bad reporter) {
	seen := map[[2]string]int{}
	initArgs := len(s.Process.Args) > 0 && s.Process.Args[0] == InitPath
	var seccompOK, initOK bool
	for _, m := range s.Mounts {
		d, src := m.Destination, m.Source
		bind := isBind(m)
		if !cleanAbs(d) {
			bad(ErrPath, "destination %q", d)
			continue
		}
		if bind && !cleanAbs(src) {
			bad(ErrPath, "bind source %q", src)
			continue
		}
		// No sysfs, no cgroupfs (CVE-2023-25809), in any spelling.
		if under(d, "/sys") || m.Type == "sysfs" || m.Type == "cgroup" || m.Type == "cgroup2" ||
			bind && under(src, "/sys") {
			bad(ErrSysfs, "%+v", m)
		}
		// Every writable tmpfs is bounded: without size= it may take half
		// the RAM, and the kernel reads size=0 or nr_inodes=0 as "no
		// limit" (security suite case 59). A read-only one (the masks)
		// cannot be filled.
		if m.Type == "tmpfs" && !bind && !readOnly(m) && !tmpfsBounded(m.Options) {
			bad(ErrTmpfsLimit, "%+v", m)
		}
		if bind && (!hasOpt(m.Options, "nosuid") || !hasOpt(m.Options, "nodev")) {
			bad(ErrBindFlags, "%+v", m)
		}
		if hasOpt(m.Options, "shared") || hasOpt(m.Options, "rshared") {
			bad(ErrPropagation, "%+v", m)
		}
		// The daemon socket and the Nix database stay outside, whichever
		// side names them.
		if under(d, "/nix/var") || strings.Contains(d, "daemon-socket") {
			bad(ErrNixState, "destination %+v", m)
		}
		// The staging bind of the whole store: nixbox-init opens only
		// validated store-path names beneath it (never .links), assembles
		// the closure and detaches it before anything else runs. So only
		// exactly this: the host's /nix/store itself, read-only, nosuid,
		// nodev, non-recursive (a host mount below the store stays out),
		// private, once, at the reserved path, with nixbox-init as the
		// process. Anywhere else the whole store is an error (below).
		if d == StagingPath {
			seen[[2]string{d, ""}]++
			if m.Type != "bind" || src != storeDir || !readOnly(m) || !hasOpt(m.Options, "nosuid") ||
				!hasOpt(m.Options, "nodev") || hasOpt(m.Options, "rbind") || !hasOpt(m.Options, "private") {
				bad(ErrStore, "staging bind not a read-only, nosuid, nodev, non-recursive, private bind of %s: %+v", storeDir, m)
			}
			if seen[[2]string{d, ""}] > 1 {
				bad(ErrStore, "second staging bind: %+v", m)
			}
			if !initArgs {
				bad(ErrStore, "staging bind without nixbox-init as the process: %+v", m)
			}
			continue
		}
		unsafe := o.UnsafeSources[src]
		if bind && !unsafe {
			// A bind of /, /nix or /nix/var (or below it) hands over the
			// database and the daemon socket; /, /nix or /nix/store the
			// whole store instead of the closure.
			if under("/nix/var", src) || under(src, "/nix/var") || strings.Contains(src, "daemon-socket") {
				bad(ErrNixState, "source %+v", m)
			} else if under("/nix/store", src) {
				bad(ErrStore, "the whole store: %+v", m)
			}
			if under(src, "/proc") || under(src, "/dev") {
				bad(ErrPseudo, "%+v", m)
			}
			for _, h := range hidden {
				if under(src, h) || under(h, src) {
					bad(ErrHidden, "%s through %+v", h, m)
				}
			}
		}
		// The store view assembled by nixbox-init: one tmpfs at /nix/store,
		// nosuid and nodev (nixbox-init makes it and everything on it
		// read-only before it reports ready), only with the staging bind.
		if d == storeDir && m.Type == "tmpfs" {
			seen[[2]string{d, "tmpfs"}]++
			if !assembly || bind || !hasOpt(m.Options, "nosuid") || !hasOpt(m.Options, "nodev") ||
				seen[[2]string{d, "tmpfs"}] > 1 {
				bad(ErrStore, "%+v", m)
			}
			continue
		}
		// Or one read-only bind of each closure member onto itself, and
		// nothing else under /nix.
		if under(d, "/nix") {
			if !bind || src != d || !storePath(d) || !readOnly(m) ||
				!hasOpt(m.Options, "nosuid") || !hasOpt(m.Options, "nodev") {
				bad(ErrStore, "%+v", m)
			}
			continue
		}
		key := [2]string{d, m.Type}
		if own[key] {
			seen[key]++
			if seen[key] > 1 {
				bad(ErrReserved, "second mount at %s: %+v", d, m)
			}
			switch d {
			case SeccompPath:
				seccompOK = bind && readOnly(m) && hasOpt(m.Options, "nosuid") && hasOpt(m.Options, "nodev")
			case InitPath:
				initOK = bind && readOnly(m) && hasOpt(m.Options, "nosuid") && hasOpt(m.Options, "nodev")
			}
			continue
		}
		for _, r := range reserved {
			if under(d, r) {
				bad(ErrReserved, "%+v", m)
			}
		}
		for _, r := range reservedExact {
			if d == r {
				bad(ErrReserved, "%+v", m)
			}
		}
	}
	if !seccompOK {
		bad(ErrSeccompFile, "no read-only bind at %s", SeccompPath)
	}
	if !initOK {
		bad(ErrInit, "no read-only bind at %s", InitPath)
	}
	for _, k := range [][2]string{{"/proc", "proc"}, {"/dev", "tmpfs"}} {
		if seen[k] == 0 {
			// Without its own /proc and /dev the sandbox sees the ones of
			// the rootfs directory, which nixbox leaves empty; not a hole,
			// but no spec nixbox makes lacks them.
			bad(ErrShape, "no %s mount", k[0])
		}
	}
}

// checkMasks: every protected directory a bind exposes is covered by a
// read-only tmpfs, mounted after every mount at or above that place.
func checkMasks(s *specs.Spec, protected []string, bad reporter) {
	for i, m := range s.Mounts {
		if !isBind(m) || m.Type == "tmpfs" {
			continue
		}
		for _, p := range protected {
			if !under(p, m.Source) {
				continue
			}
			at := path.Join(m.Destination, strings.TrimPrefix(p, m.Source))
			ok := false
			for j := len(s.Mounts) - 1; j > i; j-- {
				n := s.Mounts[j]
				if n.Destination == at && n.Type == "tmpfs" && readOnly(n) {
					ok = true
					break
				}
				if under(at, n.Destination) {
					break // a later mount above the mask hides it
				}
			}
			if !ok {
				bad(ErrUnmasked, "%s through %+v (no read-only tmpfs at %s after it)", p, m, at)
			}
		}
	}
}
