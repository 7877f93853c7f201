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
