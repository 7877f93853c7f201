package hostfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	// ErrSymlink is returned when a directory nixbox would use is a
	// symlink (CVE-2024-42472: an app replaced its persistent directory
	// with a symlink so that the next run mounted host files).
	ErrSymlink = errors.New("refusing to follow symlink")
	// ErrSourceMissing is returned when a bind source does not exist.
	ErrSourceMissing = errors.New("can't find source path")
	// ErrSourceType is returned when a bind source is not a directory,
	// regular file, symlink or socket (a FIFO or device could block or
	// grant a device).
	ErrSourceType = errors.New("unsupported source type")
)

// EnsureAppHome returns the persistent home of a profile,
// DATAHOME/nixbox/PROFILE/home, creating missing directories with mode
// 0700. Every component from DATAHOME down must be a real directory, not a
// symlink, and the ones nixbox owns must belong to uid.
func EnsureAppHome(dataHome, profile string, uid int) (string, error) {
	if !filepath.IsAbs(dataHome) || filepath.Clean(dataHome) != dataHome {
		return "", fmt.Errorf("data directory %q is not a clean absolute path", dataHome)
	}
	if profile == "" || strings.ContainsAny(profile, "/\x00") || profile == "." || profile == ".." {
		return "", fmt.Errorf("bad profile name %q for a home directory", profile)
	}
	if err := mkdirAllNoSymlink(dataHome, 0o700); err != nil {
		return "", err
	}
	dir := dataHome
	for _, c := range []string{"nixbox", profile, "home"} {
		dir = filepath.Join(dir, c)
		if err := mkdirOwned(dir, uid); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// mkdirAllNoSymlink creates dir and its parents. Existing symlinked
// components are followed: they are the admin's or the user's own layout
// (/home -> /usr/home), not something an app could have planted. The
// per-app directories below the data dir are checked by mkdirOwned, which
// refuses symlinks.
func mkdirAllNoSymlink(dir string, mode os.FileMode) error {
	cur := "/"
	for _, c := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if c == "" {
			continue
		}
		cur = filepath.Join(cur, c)
		var st unix.Stat_t
		err := unix.Lstat(cur, &st)
		if errors.Is(err, unix.ENOENT) {
			if err := os.Mkdir(cur, mode); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("creating %s: %w", cur, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("checking %s: %w", cur, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			// Symlinks above the user's data dir are the admin's choice
			// (e.g. /home -> /usr/home); resolve them.
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%s is not a directory", cur)
		}
	}
	return nil
}

func mkdirOwned(dir string, uid int) error {
	err := os.Mkdir(dir, 0o700)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("%w %s: nixbox's per-app directories must be real directories; remove the link", ErrSymlink, dir)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s is not a directory; remove it", dir)
	case int(st.Uid) != uid:
		return fmt.Errorf("%s is owned by uid %d, not %d", dir, st.Uid, uid)
	}
	return nil
}

// CheckSource checks a bind source. A missing source is created as a
// directory (mode 0700) when create is true, else it is ErrSourceMissing.
// It reports whether the source exists afterwards.
func CheckSource(path string, create bool) error {
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	if errors.Is(err, unix.ENOENT) {
		if !create {
			return fmt.Errorf("%w %q", ErrSourceMissing, path)
		}
		if err := mkdirAllNoSymlink(path, 0o700); err != nil {
			return err
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %q: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR, unix.S_IFREG, unix.S_IFSOCK:
		return nil
	}
	return fmt.Errorf("%w: %q is a device or FIFO", ErrSourceType, path)
}

// CheckNoSymlinks refuses a path below root (rel, clean and relative) that
// passes through a symlink or a non-directory on the host. nixbox uses it
// for bind destinations inside a persistent home: the app owns that
// directory, and a symlink it planted there in an earlier run must not
// redirect a later mount (CVE-2024-42472, GHSA-8688-9x26-hhxj). Missing
// components are fine: they are created inside the sandbox's view only.
func CheckNoSymlinks(root, rel string) error {
	cur := root
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("bad relative path %q", rel)
		}
		cur = filepath.Join(cur, c)
		var st unix.Stat_t
		err := unix.Lstat(cur, &st)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("checking %s: %w", cur, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return fmt.Errorf("%w %s: the app's home holds a symlink where a bind goes; remove it", ErrSymlink, cur)
		}
	}
	return nil
}

// OpenSource opens a bind source as an O_PATH descriptor, walking the
// path one component at a time from held directory descriptors, so the
// object opened is the one the rules below allowed, whatever happens to
// the path meanwhile (security suite case 7; runc CVE-2021-30465). A
// symlink is followed only where no sandbox could have planted it: not as
// the last component, and only inside a directory that the invoking user
// (uid) does not own and that is not writable by group or others (an
// admin's /home -> /usr/home). Anywhere else it is ErrSymlink: bind the
// target instead. It returns the descriptor and the resolved path.
func OpenSource(path string, uid int) (*os.File, string, error) {
	if !filepath.IsAbs(path) {
		return nil, "", fmt.Errorf("bind source %q is not absolute", path)
	}
	dir, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", err
	}
	resolved := "/"
	rest := strings.Split(strings.Trim(path, "/"), "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			unix.Close(dir)
			return nil, "", fmt.Errorf("bind source %q: '..' after a symlink is not followed", path)
		}
		fd, err := unix.Openat2(dir, c, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_BENEATH,
		})
		if err != nil {
			unix.Close(dir)
			if errors.Is(err, unix.ENOENT) {
				return nil, "", fmt.Errorf("%w %q", ErrSourceMissing, path)
			}
			return nil, "", fmt.Errorf("opening %q: %w", path, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			unix.Close(dir)
			return nil, "", err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(dir)
			dir = fd
			resolved = filepath.Join(resolved, c)
			continue
		}
		// A symlink: follow it only where the app could not have put it.
		unix.Close(fd)
		var parent unix.Stat_t
		if err := unix.Fstat(dir, &parent); err != nil {
			unix.Close(dir)
			return nil, "", err
		}
		if len(rest) == 0 || int(parent.Uid) == uid || parent.Mode&0o022 != 0 {
			unix.Close(dir)
			return nil, "", fmt.Errorf("%w %s in bind source %q: a sandbox with write access there could have planted it; bind its target instead",
				ErrSymlink, filepath.Join(resolved, c), path)
		}
		if links++; links > 40 {
			unix.Close(dir)
			return nil, "", fmt.Errorf("bind source %q: too many symlinks", path)
		}
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(dir, c, buf)
		if err != nil {
			unix.Close(dir)
			return nil, "", err
		}
		target := string(buf[:n])
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
		if filepath.IsAbs(target) {
			unix.Close(dir)
			if dir, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return nil, "", err
			}
			resolved = "/"
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		unix.Close(dir)
		return nil, "", err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR, unix.S_IFREG, unix.S_IFSOCK:
	default:
		unix.Close(dir)
		return nil, "", fmt.Errorf("%w: %q is a device or FIFO", ErrSourceType, path)
	}
	return os.NewFile(uintptr(dir), resolved), resolved, nil
}
