package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kind is the type of a skeleton entry.
type Kind string

// Entry kinds.
const (
	Dir     Kind = "dir"
	File    Kind = "file"
	Symlink Kind = "symlink"
)

// Entry is one file system object to create in the root directory.
type Entry struct {
	// Path is relative to the root directory, clean, without "..".
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
	// Mode of a file or directory (permission bits only).
	Mode os.FileMode `json:"mode,omitempty"`
	// Data is the content of a file.
	Data string `json:"data,omitempty"`
	// Target is the literal target of a symlink.
	Target string `json:"target,omitempty"`
}

// Write creates dir (mode 0755; it must not exist yet, so nothing in it can
// have been planted) and every entry in it, parents first. Symlinks are
// created, never followed: a parent that is not a real directory is an
// error.
func Write(dir string, entries []Entry) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("creating root directory: %w", err)
	}
	for _, e := range entries {
		if e.Path == "" || filepath.IsAbs(e.Path) || filepath.Clean(e.Path) != e.Path ||
			e.Path == ".." || strings.HasPrefix(e.Path, "../") {
			return fmt.Errorf("rootfs entry %q: not a clean relative path", e.Path)
		}
		p := filepath.Join(dir, e.Path)
		if err := mkdirs(dir, filepath.Dir(e.Path)); err != nil {
			return err
		}
		var err error
		switch e.Kind {
		case Dir:
			err = os.Mkdir(p, e.Mode|0o700)
			if os.IsExist(err) {
				err = nil
			}
		case File:
			var f *os.File
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, e.Mode)
			if err == nil {
				_, err = f.WriteString(e.Data)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		case Symlink:
			err = os.Symlink(e.Target, p)
		default:
			err = fmt.Errorf("unknown kind %q", e.Kind)
		}
		if err != nil {
			return fmt.Errorf("creating %s in the root directory: %w", e.Path, err)
		}
	}
	return nil
}

// mkdirs creates rel (relative to dir) component by component, refusing to
// pass through anything but a real directory.
func mkdirs(dir, rel string) error {
	if rel == "." {
		return nil
	}
	cur := dir
	for _, c := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, c)
		st, err := os.Lstat(cur)
		if os.IsNotExist(err) {
			if err := os.Mkdir(cur, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", cur, err)
			}
			continue
		}
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return fmt.Errorf("creating %s: a parent is not a directory", cur)
		}
	}
	return nil
}
