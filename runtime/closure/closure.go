package closure

// Closure is the set of store paths an app needs at run time.
type Closure struct {
	// Roots are the store paths the closure was computed from, in the
	// order given.
	Roots []string
	// Paths holds every store path of the closure, sorted, roots included.
	// Nothing here says what a member is on disk: nixbox-init opens each
	// one without following symlinks when it assembles the sandbox's
	// store, recreates those that are symlinks as symlinks (never
	// binding through them: a symlink output can point anywhere on the
	// host) and refuses to start when one is missing
	// (cmd/nixbox-init/store.go).
	Paths []string
}
