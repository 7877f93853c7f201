package profiles

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Every error this package returns for bad input is, or
// wraps, one of them; test with errors.Is.
var (
	// ErrInvalid is returned when a profile is malformed or breaks a rule.
	// Every *Error matches it with errors.Is, including those that also
	// match ErrNotSupported or ErrUnsafe.
	ErrInvalid = errors.New("invalid profile")
	// ErrNotFound is returned when a profile name is found neither in the
	// profile directories nor in the built-in library.
	ErrNotFound = errors.New("profile not found")
	// ErrNotSupported is returned when a profile sets a roadmap key (limits,
	// sockets, devices, dbus, namespace sharing, seccomp overrides) that
	// this build cannot enforce. nixbox refuses rather than run without it.
	ErrNotSupported = errors.New("not supported yet")
	// ErrUnsafe is returned when a profile file or its directory can be
	// written by someone other than the user or root, is a symlink, or is
	// not a regular file.
	ErrUnsafe = errors.New("unsafe profile file")
)

// Error is a problem in a profile, with where it was found. It prints as
// "FILE:LINE:COL: KEY: MSG", leaving out the empty or zero parts. It never
// contains raw file content: values are quoted, and control characters in
// every part are escaped (Flatpak CVE-2023-28101: a crafted key or path
// must not be able to rewrite the user's terminal).
type Error struct {
	// File is the profile's path, or "builtin:<name>".
	File string
	// Line and Col are 1-based; zero when unknown.
	Line, Col int
	// Key is the dotted key path, e.g. "filesystem.bind[2].source"; list
	// indexes are 0-based.
	Key string
	// Msg says what is wrong, lower case, no trailing period.
	Msg string
	// Hint, when set, says how to fix it. It is not part of Error(); the
	// CLI prints it on its own "nixbox: hint:" line.
	Hint string
	// Err is an optional sentinel (ErrNotSupported, ErrUnsafe) that the
	// error also matches; nil for plain invalid input.
	Err error
}

// Error formats the error as "FILE:LINE:COL: KEY: MSG" with control
// characters escaped.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(escape(e.File))
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Col > 0 {
				b.WriteString(":" + strconv.Itoa(e.Col))
			}
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(escape(e.Key))
		b.WriteString(": ")
	}
	b.WriteString(escape(e.Msg))
	return b.String()
}

// Is reports whether target is ErrInvalid: every *Error is invalid input.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the optional sentinel in Err.
func (e *Error) Unwrap() error { return e.Err }

// escape replaces control characters, invalid UTF-8 and bidirectional
// overrides (Trojan Source) with Go-style escapes, leaving other text as is.
func escape(s string) string {
	clean := true
	for _, r := range s {
		if needsEscape(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case needsEscape(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// needsEscape reports whether r must not reach a terminal as is.
func needsEscape(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
		return true
	}
	return false
}
