package closure

// Closure is the set of store paths an app needs at run time.
type Closure struct {
	// Roots are the store paths the closure was computed from, in the
	// order given.
	Roots []string
	// Paths holds every store path of the closure, sorted, roots included.
	Paths []string
	// Symlinks maps each member that is itself a symlink to its literal
	// target. Such members are recreated as symlinks in the sandbox and
	// never bind-mounted through: a symlink output can point anywhere on
	// the host.
	Symlinks map[string]string
}
