package sandbox

import "errors"

var (
	// ErrSeccompUnavailable is returned when this binary was built without
	// seccomp support: nixbox never runs an app unfiltered.
	ErrSeccompUnavailable = errors.New("this nixbox binary was built without seccomp support")
	// ErrStart is returned when the sandbox could not be created or started.
	ErrStart = errors.New("cannot start the sandbox")
	// ErrState is returned when the state directory is unsafe or unusable.
	ErrState = errors.New("unusable state directory")
)
