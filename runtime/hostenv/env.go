package hostenv

// Env holds every host fact that the spec generator uses. It is filled once
// by Detect in cmd/nixbox; tests write literals.
type Env struct {
	// UID and GID of the invoking user; mapped to themselves inside.
	UID int
	GID int
	// User is the login name (for the synthesized /etc/passwd).
	User string
	// Group is the name of the primary group.
	Group string
	// Home is the user's home directory path; the sandbox $HOME has the
	// same path.
	Home string
	// Vars are the host environment variables (used only for `env.pass`
	// and path expansion of $XDG_* names).
	Vars map[string]string
	// Terminal is true when stdin is a terminal: the app gets a pty.
	Terminal bool
	// InitPath is the host path of the nixbox-init binary, bound read-only
	// at /.nixbox/init inside every sandbox.
	InitPath string
}
