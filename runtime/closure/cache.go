package closure

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cacheMagic starts every cache entry; bump the version when the format
// changes. v2 records which members are symlinks (and their literal
// targets), so a cached closure costs no system call per member.
const cacheMagic = "nixbox-closure-v2"

// maxCacheBytes caps the size of a cache entry read back.
const maxCacheBytes = 8 << 20

// cacheFile returns the entry's path: the root's hash part names it.
func cacheFile(dir, root string) (string, bool) {
	if dir == "" {
		return "", false
	}
	sp, err := ParseStorePath(root)
	if err != nil {
		return "", false
	}
	return filepath.Join(dir, sp.Hash+".closure"), true
}

// cached is one root's closure as an entry holds it.
type cached struct {
	paths    []string
	symlinks map[string]string // member -> literal target
}

// readCache returns the cached closure of root, if an entry exists, is
// well-formed, is for this root, and the root exists on disk.
//
// Only the root is checked on disk (one Lstat), not every member: store
// paths are immutable, and Nix keeps a valid path's references valid (the
// closure invariant), so while the root exists its closure and each
// member's type are what they were when the entry was written. A member
// deleted behind Nix's back is caught where the sandbox is assembled:
// nixbox-init opens every member and refuses to start the app (exit 125)
// when one is missing. That is what makes a cached start cost no system
// call per store path (issue 6: ≤ 0.2 ms at 500 paths).
//
// Format: a header line "<magic> <root> <count>", then count lines in
// sorted path order, the root among them: "p PATH" for a member, or
// "s PATH TARGET" for a member that is a symlink, TARGET quoted as by
// strconv.Quote.
func readCache(dir, root string) (cached, bool) {
	f, ok := cacheFile(dir, root)
	if !ok {
		return cached{}, false
	}
	data, err := os.ReadFile(f)
	if err != nil || len(data) > maxCacheBytes {
		return cached{}, false
	}
	c, ok := parseCache(data, root)
	if !ok {
		return cached{}, false
	}
	if _, err := lstat(root); err != nil {
		return cached{}, false
	}
	return c, true
}

func parseCache(data []byte, root string) (cached, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxCacheBytes)
	if !sc.Scan() {
		return cached{}, false
	}
	hdr := strings.Fields(sc.Text())
	if len(hdr) != 3 || hdr[0] != cacheMagic || hdr[1] != root {
		return cached{}, false
	}
	n, err := strconv.Atoi(hdr[2])
	if err != nil || n < 1 {
		return cached{}, false
	}
	c := cached{paths: make([]string, 0, n), symlinks: map[string]string{}}
	hasRoot := false
	for sc.Scan() {
		kind, rest, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return cached{}, false
		}
		p := rest
		switch kind {
		case "p":
		case "s":
			var q string
			if p, q, ok = strings.Cut(rest, " "); !ok {
				return cached{}, false
			}
			t, err := strconv.Unquote(q)
			if err != nil || t == "" {
				return cached{}, false
			}
			c.symlinks[p] = t
		default:
			return cached{}, false
		}
		if _, err := ParseStorePath(p); err != nil {
			return cached{}, false
		}
		if len(c.paths) > 0 && p <= c.paths[len(c.paths)-1] {
			return cached{}, false // unsorted or duplicate
		}
		hasRoot = hasRoot || p == root
		c.paths = append(c.paths, p)
	}
	if sc.Err() != nil || len(c.paths) != n || !hasRoot {
		return cached{}, false
	}
	return c, true
}

// writeCache stores root's closure atomically: a 0600 temporary file in
// dir, renamed over the entry.
// paths must be sorted; symlinks holds the members that are symlinks.
func writeCache(dir, root string, paths []string, symlinks map[string]string) error {
	f, ok := cacheFile(dir, root)
	if !ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %d\n", cacheMagic, root, len(paths))
	for _, p := range paths {
		if t, ok := symlinks[p]; ok {
			fmt.Fprintf(&b, "s %s %s\n", p, strconv.Quote(t))
			continue
		}
		fmt.Fprintf(&b, "p %s\n", p)
	}
	tmp, err := os.CreateTemp(dir, ".closure-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f)
}
