//go:build !linux

package profiles

import "errors"

// errNoFileSafety is returned on systems where the descriptor-based checks
// of open_linux.go are not implemented: nixbox only runs on Linux.
var errNoFileSafety = errors.New("reading profile files is only supported on Linux")

func readProfile(dir, base string, uid int) ([]byte, string, error) {
	return nil, "", errNoFileSafety
}

func listDir(dir string) ([]string, error) { return nil, errNoFileSafety }
