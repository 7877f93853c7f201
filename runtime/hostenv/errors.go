package hostenv

import "errors"

var (
	// ErrUsernsUnavailable is returned when user namespaces cannot be used.
	ErrUsernsUnavailable = errors.New("user namespaces are not available")
	// ErrSeccompUnavailable is returned when seccomp filters cannot be applied.
	ErrSeccompUnavailable = errors.New("seccomp filtering is not available")
	// ErrIdentity is returned when the invoking user cannot be identified.
	ErrIdentity = errors.New("cannot identify the invoking user")
)

// HostError is a missing host capability with the reason and the fix.
type HostError struct {
	Err  error
	Why  string
	Hint string
}

func (e *HostError) Error() string { return e.Err.Error() + ": " + e.Why }

// Unwrap returns the sentinel.
func (e *HostError) Unwrap() error { return e.Err }
