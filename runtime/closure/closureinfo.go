package closure

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// maxClosureInfoBytes caps the size of a closure list read by
// ReadClosureInfo.
const maxClosureInfoBytes = 16 << 20

// ReadClosureInfo reads a closure from path, which is either the output
// directory of nixpkgs' closureInfo (its store-paths file is read) or a
// plain file with one store path per line. Empty lines are ignored; every
// other line must be a top-level store path (ParseStorePath), or the error
// wraps ErrPathInvalid and names the line number.
//
// Roots holds the first path listed: a hand-written list names the app
// first. nixpkgs' closureInfo sorts store-paths, so its first line is just
// the alphabetically first member; use an absolute command with it.
// Paths are deduplicated and sorted. The list is trusted as given: it is
// not checked against the Nix database, and members are not looked at on
// disk (nixbox-init does that when it assembles the store; see Closure).
func ReadClosureInfo(path string) (Closure, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Closure{}, fmt.Errorf("reading closure info: %w", err)
	}
	if fi.IsDir() {
		path = filepath.Join(path, "store-paths")
	}
	f, err := os.Open(path)
	if err != nil {
		return Closure{}, fmt.Errorf("reading closure info: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxClosureInfoBytes+1))
	if err != nil {
		return Closure{}, fmt.Errorf("reading closure info: %w", err)
	}
	if len(data) > maxClosureInfoBytes {
		return Closure{}, fmt.Errorf("reading closure info %s: larger than %d bytes", path, maxClosureInfoBytes)
	}

	var c Closure
	seen := map[string]struct{}{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		p := sc.Text()
		if p == "" {
			continue
		}
		if _, err := ParseStorePath(p); err != nil {
			return Closure{}, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if len(c.Roots) == 0 {
			c.Roots = []string{p}
		}
		if _, dup := seen[p]; !dup {
			seen[p] = struct{}{}
			c.Paths = append(c.Paths, p)
		}
	}
	if err := sc.Err(); err != nil {
		return Closure{}, fmt.Errorf("reading closure info %s: %w", path, err)
	}
	if len(c.Paths) == 0 {
		return Closure{}, fmt.Errorf("%w: %s lists no store paths", ErrPathInvalid, path)
	}
	sort.Strings(c.Paths)
	return c, nil
}
