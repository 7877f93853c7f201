package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/appres"
	"github.com/nixbox/nixbox/runtime/cgroups"
	"github.com/nixbox/nixbox/runtime/closure"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/hostfs"
	"github.com/nixbox/nixbox/runtime/sandbox"
	"github.com/nixbox/nixbox/seccomp"
)

// Exit codes. This file is the only place that turns errors into codes and
// messages (style.md §5).
const (
	exitFailure       = 1   // a non-run subcommand failed
	exitUsage         = 2   // a non-run subcommand was called wrongly
	exitLauncher      = 125 // nixbox failed before the app started
	exitNotExecutable = 126 // the command is in the closure but cannot run
	exitNotFound      = 127 // the command is not in the closure
)

// cliError is a usage error with an optional hint.
type cliError struct {
	msg, hint string
}

func (e *cliError) Error() string { return e.msg }

func usageErr(hint, format string, args ...any) error {
	return &cliError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// appExit carries the app's own exit status through the error path.
type appExit int

func (e appExit) Error() string { return fmt.Sprintf("app exited with %d", int(e)) }

// report prints err as one "nixbox: error:" line (plus a hint line) and
// returns the exit code. isRun selects run's codes (125 for every launcher
// failure) over the other subcommands' (2 usage, 1 failure).
func report(s *streams, err error, isRun bool) int {
	if err == nil {
		return 0
	}
	var ae appExit
	if errors.As(err, &ae) {
		return int(ae)
	}
	var oom *oomKilled
	if errors.As(err, &oom) {
		// Not an error of nixbox's: the app's status, and why.
		fmt.Fprintf(s.err, "nixbox: %s\n", sanitize(oom.Error()))
		return oom.code
	}
	if errors.Is(err, errHelp) {
		fmt.Fprint(s.out, usageText)
		return 0
	}
	code, hint := classify(err, isRun)
	fmt.Fprintf(s.err, "nixbox: error: %s\n", sanitize(err.Error()))
	if hint != "" {
		fmt.Fprintf(s.err, "nixbox: hint: %s\n", sanitize(hint))
	}
	return code
}

func classify(err error, isRun bool) (int, string) {
	fail := exitFailure
	if isRun {
		fail = exitLauncher
	}
	var ce *cliError
	var pe *profiles.Error
	var he *hostenv.HostError
	var cge *cgroups.Error
	switch {
	case errors.As(err, &ce):
		if isRun {
			return exitLauncher, ce.hint
		}
		return exitUsage, ce.hint
	case errors.Is(err, appres.ErrOutsideStore):
		hint := "install the app with Nix (nix profile install, home-manager, NixOS), or give a /nix/store path"
		if isRun {
			return exitNotFound, hint
		}
		return fail, hint
	case errors.Is(err, appres.ErrCommandNotFound), errors.Is(err, closure.ErrNotInClosure):
		if isRun {
			return exitNotFound, "the command must be a program inside the app's Nix closure"
		}
		return fail, ""
	case errors.Is(err, appres.ErrNotExecutable):
		if isRun {
			return exitNotExecutable, "check the file's mode, or set app.command to the right program"
		}
		return fail, ""
	case errors.As(err, &he):
		return fail, he.Hint
	case errors.As(err, &cge):
		return fail, cge.Hint
	case errors.Is(err, cgroups.ErrNotInCgroup):
		return fail, "libcontainer did not put the sandbox in its cgroup; run `nixbox doctor`"
	case errors.Is(err, cgroups.ErrNotRoot):
		return fail, "run it as root: sudo nixbox setup-cgroups --user NAME"
	case errors.As(err, &pe) && pe.Hint != "":
		return fail, pe.Hint
	case errors.Is(err, profiles.ErrNotFound):
		return fail, "`nixbox profiles` lists the available profiles"
	case errors.Is(err, profiles.ErrUnsafe):
		return fail, "profile files must be owned by you or root and not writable by others (chmod go-w FILE)"
	case errors.Is(err, profiles.ErrNotSupported):
		return fail, "remove the key, or use a nixbox version that enforces it"
	case errors.As(err, &pe):
		return fail, ""
	case errors.Is(err, closure.ErrPathInvalid):
		return fail, "build or realise the package first (nix-build / nix-store -r), or check the path"
	case errors.Is(err, closure.ErrDBUnavailable):
		return fail, "nixbox reads the Nix database read-only; check /nix/var/nix/db is readable"
	case errors.Is(err, hostfs.ErrSymlink):
		return fail, "an earlier run may have planted it; inspect and remove the symlink"
	case errors.Is(err, hostfs.ErrSourceMissing):
		return fail, "create it, or mark the bind optional = true or create = true"
	case errors.Is(err, errOutputExists):
		return fail, "nixbox never overwrites a file: choose a new name, or remove the old file first"
	case errors.Is(err, seccomp.ErrUnsupported):
		return fail, "rebuild nixbox with cgo and -tags seccomp (make build)"
	case errors.Is(err, sandbox.ErrNotEnterable):
		return fail, "`nixbox ps` lists the running instances you can enter; an app started by an older nixbox cannot be entered"
	case errors.Is(err, sandbox.ErrSeccompUnavailable):
		return fail, "rebuild nixbox with cgo and -tags seccomp (make build)"
	}
	return fail, ""
}

// sanitize escapes control characters so that what is shown is what is
// there (CVE-2023-28101: escape sequences in metadata).
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
