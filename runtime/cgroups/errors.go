package cgroups

import "errors"

var (
	// ErrNoDelegation is returned by PrepareParent when the caller has no
	// cgroup it may create a sandbox's cgroup in. The error names what is
	// missing; (*Error).Hint names the fix.
	ErrNoDelegation = errors.New("no delegated cgroup for resource limits")
	// ErrNoCgroups is returned when no cgroup file system is mounted.
	ErrNoCgroups = errors.New("no cgroup file system mounted")
	// ErrNotRoot is returned by Delegate when the caller is not root.
	ErrNotRoot = errors.New("delegating a cgroup subtree needs root")
	// ErrNotInCgroup is returned by Verify when a started sandbox is not
	// in the cgroup its spec names: its limits would not apply.
	ErrNotInCgroup = errors.New("the sandbox is not in its limited cgroup")
)

// Error is a cgroup problem with the fix. It unwraps to a sentinel.
type Error struct {
	Err  error
	Why  string
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() + ": " + e.Why }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }
