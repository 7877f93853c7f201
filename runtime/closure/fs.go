package closure

import (
	"io/fs"
	"os"
)

// testOnlyRootDir, when set by tests, is prefixed to store paths for the
// on-disk check of a cached root (Lstat), so a fake store under a
// temporary directory stands in for /nix/store. Closure contents are
// unaffected.
var testOnlyRootDir string

func lstat(p string) (fs.FileInfo, error) { return os.Lstat(testOnlyRootDir + p) }
