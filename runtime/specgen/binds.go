package specgen

import (
	"fmt"
	"strings"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/hostenv"
)

// BindRequest is a profile bind after expansion, before the host checks.
type BindRequest struct {
	Bind
	// Create asks the caller to create a missing source directory.
	Create bool
	// Optional asks the caller to drop the bind when the source is missing.
	Optional bool
}

// ExpandBinds expands the sources and destinations of the profile's
// filesystem.ro, filesystem.rw and filesystem.bind entries. It reads nothing
// from the host: existence checks and creation are the caller's.
func ExpandBinds(p *profiles.Profile, env hostenv.Env) ([]BindRequest, error) {
	var out []BindRequest
	add := func(key, src, dst string, rw, create, optional bool, unsafe string) error {
		s, err := profiles.ExpandPath(src, env.Vars, env.Home)
		if err != nil {
			return keyErr(p, key, err)
		}
		d := s
		if dst != "" {
			if d, err = profiles.ExpandPath(dst, env.Vars, env.Home); err != nil {
				return keyErr(p, key, err)
			}
		}
		// The profile checks saw the path as written; a home path written
		// out in full (/home/u/.ssh) or a variable that expands onto a
		// reserved place is only visible now, so check again.
		if profiles.IsPseudoSource(s) {
			return keyErr(p, key, fmt.Errorf("source %q is a kernel pseudo file system", s))
		}
		if profiles.IsReservedDest(d) {
			return keyErr(p, key, fmt.Errorf("destination %q is reserved by nixbox", d))
		}
		if bad, why := profiles.EscapeEquivalent(homeRelative(s, env.Home)); bad && unsafe == "" {
			return keyErr(p, key, fmt.Errorf("source %q is sandbox-escape-equivalent (%s); "+
				"set unsafe = \"<reason>\" in a [[filesystem.bind]] entry to allow it", s, why))
		}
		out = append(out, BindRequest{Bind: Bind{Source: s, Dest: d, RW: rw, Key: key, Unsafe: unsafe}, Create: create, Optional: optional})
		return nil
	}
	for i, s := range p.Filesystem.RO {
		if err := add(fmt.Sprintf("filesystem.ro[%d]", i), s, "", false, false, false, ""); err != nil {
			return nil, err
		}
	}
	for i, s := range p.Filesystem.RW {
		if err := add(fmt.Sprintf("filesystem.rw[%d]", i), s, "", true, false, false, ""); err != nil {
			return nil, err
		}
	}
	for i, b := range p.Filesystem.Bind {
		if err := add(fmt.Sprintf("filesystem.bind[%d].source", i), b.Source, b.Dest,
			b.Mode == profiles.BindRW, b.Create, b.Optional, b.Unsafe); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EscapeEquivalent reports whether a host path (absolute, expanded) is a
// sandbox-escape-equivalent bind source, and why. It spells paths under
// home as "~/..." first, the form the profile rules know.
func EscapeEquivalent(hostPath, home string) (bool, string) {
	return profiles.EscapeEquivalent(homeRelative(hostPath, home))
}

// homeRelative spells p under home as "~/...", the form the profile rules
// know.
func homeRelative(p, home string) string {
	if p == home {
		return "~"
	}
	if rest, ok := strings.CutPrefix(p, home+"/"); ok && home != "/" {
		return "~/" + rest
	}
	return p
}
