package profiles

// Schema of a nixbox profile, format version 1.
//
// Every field is documented with: its effect, its default, and a security
// note. Optional fields are pointers or empty slices so that "unset" (inherit
// from the parent profile) differs from "set to the zero value". The full
// reference is docs/profiles.md, checked against the decoder and validator
// by docsync_test.go.

// Version is the only profile format version this build understands.
const Version = 1

// Pos is a position in a profile file. Line and Col are 1-based; a zero Line
// means the value has no position (built-in default or merged value).
type Pos struct {
	File string
	Line int
	Col  int
}

// Profile is one parsed profile. After Load it is the effective profile, with
// every `extends` parent merged in (see Merge).
type Profile struct {
	// Name is the profile name: the file name without ".toml", or the name
	// given on the command line.
	Name string
	// Source says where the profile came from: a file path, or
	// "builtin:<name>" for the embedded library.
	Source string
	// Chain lists the sources of the profile and its parents, child first.
	Chain []string

	// Version of the format; must be 1. Mandatory.
	Version int
	// Extends names parent profiles, merged in order before this one.
	// Optional.
	Extends []string
	// Description is one line shown by `nixbox profiles`. Optional.
	Description string

	App        App
	Filesystem Filesystem
	Home       Home
	Env        Env
	Network    Network
	Namespaces Namespaces
	Seccomp    Seccomp
	Limits     Limits
	Sockets    Sockets
	Devices    Devices
	DBus       DBus

	// Pos maps a dotted key path ("app.package", "filesystem.bind[2].source")
	// to where it was written, for error messages after parsing.
	Pos map[string]Pos
}

// App says what runs.
type App struct {
	// Package is the app: a store path (/nix/store/<hash>-<name>), a command
	// name looked up in PATH whose symlinks resolve into /nix/store, or
	// "closureinfo:<file>" naming a closureInfo-style file whose first
	// store path is the app's root (the closure itself is still read from
	// the Nix database). Optional in a base profile; a run needs one unless
	// the command line gives a store path.
	Package string
	// Command is the program to execute: a path relative to the package
	// ("bin/firefox") or an absolute path inside the closure. Default: the
	// command the package was found by, else bin/<profile name>, else the
	// only entry of bin/. Security: it
	// must resolve inside the closure, or the run exits 127.
	Command string
	// Args are put before the arguments from the command line. Optional.
	Args []string
	// Packages are extra store paths or commands whose closures are added
	// to the sandbox, and whose bin/ directories are added to PATH.
	// Optional.
	Packages []string
}

// BindMode is "ro" or "rw".
type BindMode string

const (
	// BindRO mounts the source read-only (the default when Mode is empty).
	BindRO BindMode = "ro"
	// BindRW mounts the source read-write. Loosens isolation: the app can
	// change host files.
	BindRW BindMode = "rw"
)

// Bind is one host path made visible in the sandbox.
type Bind struct {
	// Source is the host path; it may start with ~ or $HOME or an XDG
	// variable. Mandatory.
	Source string
	// Dest is the path inside; default: the expanded Source.
	Dest string
	// Mode is "ro" (default) or "rw". Security: rw lets the app change the
	// host files; shown as a warning by `nixbox explain`.
	Mode BindMode
	// Create makes a missing Source directory (mode 0700) before the run.
	Create bool
	// Optional skips a missing Source instead of failing.
	Optional bool
	// Unsafe must hold a reason when Source is escape-equivalent
	// (~/.ssh, the whole home, /run/user/UID, ...). Default empty: refused.
	Unsafe string
}

// Tmpfs is an empty, private, size-limited tmpfs.
type Tmpfs struct {
	// Dest is the path inside. Mandatory.
	Dest string
	// Size is the size limit, e.g. "64M"; default "64M".
	Size string
	// NrInodes caps the number of inodes (files, directories, links;
	// the root directory takes one), 1 to MaxTmpfsInodes; 0 = unset,
	// which leaves the kernel's default (half the RAM pages).
	NrInodes int64
}

// Filesystem lists what host paths the app sees. Default: nothing.
type Filesystem struct {
	// RO is shorthand for read-only binds at the same path inside.
	RO []string
	// RW is shorthand for read-write binds at the same path inside.
	RW []string
	// Bind lists binds in the long form.
	Bind []Bind
	// Tmpfs lists private tmpfs mounts.
	Tmpfs []Tmpfs
}

// HomeMode says what the app's $HOME is.
type HomeMode string

const (
	// HomeEphemeral: an empty tmpfs, gone at exit (default).
	HomeEphemeral HomeMode = "ephemeral"
	// HomePersistent: $XDG_DATA_HOME/nixbox/<profile>/home, kept between runs.
	HomePersistent HomeMode = "persistent"
)

// Home configures the app's home directory. The real home is never visible
// unless a bind grants parts of it.
type Home struct {
	// Mode: "ephemeral" (default) or "persistent".
	Mode HomeMode
	// Size of the ephemeral tmpfs; default "256M".
	Size string
	// NrInodes caps the inodes of the ephemeral tmpfs, 1 to
	// MaxTmpfsInodes, like Tmpfs.NrInodes; nil = unset, which leaves the
	// kernel's default. A pointer so that a child's explicit value
	// (even an invalid 0) wins over its parent's and is validated.
	// Validated but not used for a persistent home.
	NrInodes *int64
}

// Env is the app's environment. It starts empty except for HOME, USER,
// LOGNAME, PATH, TERM (when a terminal is attached) and TMPDIR.
type Env struct {
	// Set maps names to values. Values are used literally (no expansion).
	Set map[string]string
	// Pass lists host variable names copied in when set. Security: secrets
	// (*_TOKEN, SSH_AUTH_SOCK, ...) are refused; "*" is refused.
	Pass []string
}

// NetworkMode is "none" or "host".
type NetworkMode string

const (
	// NetworkNone: a new network namespace with only loopback (default).
	NetworkNone NetworkMode = "none"
	// NetworkHost: the host's network namespace. Security: also exposes
	// abstract unix sockets (X11, D-Bus) and every service listening on
	// the host; needs Network.Unsafe, and is warned by `nixbox explain`.
	NetworkHost NetworkMode = "host"
)

// Network configures networking.
type Network struct {
	// Mode is "none" (default) or "host".
	Mode NetworkMode
	// Unsafe must hold a reason when Mode is "host" (security suite case
	// 53: host networking shares the X11 and D-Bus abstract sockets).
	// It goes with the Mode of the same profile: a profile that sets
	// Mode replaces the inherited Unsafe with its own (see Merge), and
	// Unsafe without Mode = "host" in the same profile is refused.
	Unsafe string
}

// Namespaces lists namespaces to share with the host (roadmap: not
// supported yet; any value is refused).
type Namespaces struct {
	Share []string
}

// Seccomp selects the system call filter and loosens or tightens it.
// Precedence: deny > allow and the allow_* switches > policy. Every
// loosening is a warning in `nixbox explain`.
type Seccomp struct {
	// Policy is "strict" (default) or "compat".
	Policy string
	// Allow lists system calls allowed with any arguments. Unknown names,
	// and clone3, are refused; never-allow names need Unsafe.
	Allow []string
	// Deny lists system calls that always fail (EPERM, or Action). A deny
	// wins over every allow, including a parent's.
	Deny []string
	// Unsafe must hold a reason when Allow names a call the policy denies
	// on purpose (unshare, mount, bpf, keyctl, ...). Default empty.
	Unsafe string
	// AllowPtrace allows ptrace, process_vm_readv/writev, kcmp and
	// pidfd_getfd (debuggers). Loosening.
	AllowPtrace *bool
	// AllowPerf allows perf_event_open (profilers). Loosening.
	AllowPerf *bool
	// AllowUserns allows clone/unshare with namespace flags, and chroot
	// (browsers' own sandboxes). Loosening.
	AllowUserns *bool
	// AllowMultiarch adds the i386 ABI (int $0x80: 32-bit games, old
	// Wine) with the strict policy's rules, and allows modify_ldt and
	// personality(PER_LINUX32). Strict only. Loosening: 32-bit code can
	// open any socket family through socketcall (docs/seccomp.md).
	AllowMultiarch *bool
	// Action is what a denied call does: "errno" (default), "kill" or
	// "log" (strict only; a learning mode that allows and logs).
	Action string
}

// Limits are resource limits, enforced through the sandbox's cgroup
// (docs/limits.md). Any of the cgroup limits (all but Nofile and Core)
// needs a delegated cgroup: without one the run is refused (exit 125),
// never run without the limit.
type Limits struct {
	// Memory is the memory limit: "max" or a size with K/M/G/T suffix.
	Memory string
	// MemorySwap is the memory plus swap limit, same syntax.
	MemorySwap string
	// CPU is a quota in cores (0.5: half of one core).
	CPU *float64
	// CPUWeight is the relative CPU weight, 1 to 10000.
	CPUWeight *int64
	// Pids is the most processes and threads.
	Pids *int64
	// IOWeight is the relative I/O weight, 1 to 10000.
	IOWeight *int64
	// Nofile is RLIMIT_NOFILE (no cgroup needed).
	Nofile *int64
	// Core is RLIMIT_CORE in bytes (no cgroup needed).
	Core *int64
}

// Sockets grants host sockets (roadmap: not supported yet).
type Sockets struct {
	Wayland    *bool
	X11        *bool
	Pulseaudio *bool
	Pipewire   *bool
}

// Devices grants device nodes (roadmap: not supported yet).
type Devices struct {
	Allow []string
}

// DBus filters the session and system bus (roadmap: not supported yet).
type DBus struct {
	Talk []string
	Own  []string
	See  []string
}
