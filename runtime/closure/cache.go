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
// changes.
const cacheMagic = "nixbox-closure-v1"

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

// readCache returns the cached closure of root, if an entry exists, is
// well-formed, is for this root, and every path it lists exists on disk.
//
// Format: a header line "<magic> <root> <count>", then count sorted store
// paths, one per line, the root among them.
func readCache(dir, root string) ([]string, bool) {
	f, ok := cacheFile(dir, root)
	if !ok {
		return nil, false
	}
	data, err := os.ReadFile(f)
	if err != nil || len(data) > maxCacheBytes {
		return nil, false
	}
	paths, ok := parseCache(data, root)
	if !ok {
		return nil, false
	}
	for _, p := range paths {
		if _, err := lstat(p); err != nil {
			return nil, false
		}
	}
	return paths, true
}

func parseCache(data []byte, root string) ([]string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() {
		return nil, false
	}
	hdr := strings.Fields(sc.Text())
	if len(hdr) != 3 || hdr[0] != cacheMagic || hdr[1] != root {
		return nil, false
	}
	n, err := strconv.Atoi(hdr[2])
	if err != nil || n < 1 {
		return nil, false
	}
	paths := make([]string, 0, n)
	hasRoot := false
	for sc.Scan() {
		p := sc.Text()
		if _, err := ParseStorePath(p); err != nil {
			return nil, false
		}
		if len(paths) > 0 && p <= paths[len(paths)-1] {
			return nil, false // unsorted or duplicate
		}
		hasRoot = hasRoot || p == root
		paths = append(paths, p)
	}
	if sc.Err() != nil || len(paths) != n || !hasRoot {
		return nil, false
	}
	return paths, true
}

// writeCache stores root's closure atomically: a 0600 temporary file in
// dir, renamed over the entry.
func writeCache(dir, root string, paths []string) error {
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
		b.WriteString(p)
		b.WriteByte('\n')
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
