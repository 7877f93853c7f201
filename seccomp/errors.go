package seccomp

import "errors"

// ErrUnknownPolicy is returned (wrapped, with the offending name) by Build
// when Options.Policy names no known policy. Only "strict", "compat" and ""
// (meaning "strict") are known.
var ErrUnknownPolicy = errors.New("unknown seccomp policy")

// ErrUnsupported is returned by ExportBPF when the binary was built without
// cgo or without the "seccomp" build tag (or for a non-Linux target), so
// libseccomp is not linked in and no BPF program can be produced. Callers
// must treat it as "cannot filter" and fail closed, like runc's
// ErrSeccompNotEnabled.
var ErrUnsupported = errors.New("seccomp BPF export not supported by this build (needs cgo and -tags seccomp)")

// ErrInvalidOptions is returned (wrapped, with the offending knob) by Build
// for an unknown action or a combination of knobs that cannot be enforced.
var ErrInvalidOptions = errors.New("invalid seccomp options")

// ErrUnknownSyscall is returned (wrapped, with the name) by Build when
// Options.Allow or Options.Deny names no x86_64 system call (KnownSyscall).
var ErrUnknownSyscall = errors.New("unknown system call")

// ErrNeverAllow is returned (wrapped, with the name) by Build when a
// profile asks to allow or deny clone3, which must always fail with ENOSYS.
var ErrNeverAllow = errors.New("system call cannot be changed")

// ErrNeedsUnsafe is returned (wrapped, with the name and the reason) by
// Build when Options.Allow names a call the policy denies on purpose
// (NeedsUnsafe) and Options.Unsafe is false.
var ErrNeedsUnsafe = errors.New("allowing this system call needs unsafe")
