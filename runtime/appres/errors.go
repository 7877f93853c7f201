package appres

import "errors"

var (
	// ErrCommandNotFound is returned when the command to run doesn't exist
	// (the CLI exits 127).
	ErrCommandNotFound = errors.New("command not found")

	// ErrNotExecutable is returned when the command exists but is not an
	// executable regular file (the CLI exits 126).
	ErrNotExecutable = errors.New("command not executable")

	// ErrOutsideStore is returned when a command path, or a symlink on the
	// way to it, leads outside the Nix store.
	ErrOutsideStore = errors.New("outside the nix store")
)
