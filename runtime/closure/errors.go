package closure

import "errors"

var (
	// ErrPathInvalid is returned when a store path is malformed or not valid
	// in the Nix database.
	ErrPathInvalid = errors.New("store path invalid")

	// ErrDBUnavailable is returned when neither the Nix database nor the
	// nix-store fallback can answer a closure query.
	ErrDBUnavailable = errors.New("nix database unavailable")

	// ErrNotInClosure is returned when a path that must be inside the
	// closure (such as the program to run) is not inside any member.
	ErrNotInClosure = errors.New("not in closure")
)
