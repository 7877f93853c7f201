package specgen

import (
	"fmt"

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
	add := func(key, src, dst string, rw, create, optional bool) error {
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
		out = append(out, BindRequest{Bind: Bind{Source: s, Dest: d, RW: rw, Key: key}, Create: create, Optional: optional})
		return nil
	}
	for i, s := range p.Filesystem.RO {
		if err := add(fmt.Sprintf("filesystem.ro[%d]", i), s, "", false, false, false); err != nil {
			return nil, err
		}
	}
	for i, s := range p.Filesystem.RW {
		if err := add(fmt.Sprintf("filesystem.rw[%d]", i), s, "", true, false, false); err != nil {
			return nil, err
		}
	}
	for i, b := range p.Filesystem.Bind {
		if err := add(fmt.Sprintf("filesystem.bind[%d].source", i), b.Source, b.Dest,
			b.Mode == profiles.BindRW, b.Create, b.Optional); err != nil {
			return nil, err
		}
	}
	return out, nil
}
