package profiles

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
)

// readProfile opens dir, then base inside it, without following a symlink
// in the last component of either, and checks both with fstat on the open
// descriptors (no race between check and read): a regular file and a
// directory, owned by uid or root, not writable by group or others. A
// profile someone else can write is a profile someone else controls
// (security suite 6.7). A missing dir or file gives fs.ErrNotExist.
//
// XXX(profiles): symlinked profile files and directories are refused,
// which also refuses home-manager style links into /nix/store; allowing
// store targets would need resolving under /nix/store, not done yet.
func readProfile(dir, base string, uid int) (data []byte, full string, err error) {
	full = filepath.Join(dir, base)
	dfd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			// Name what the user asked for, not its directory.
			return nil, full, openErr(full, "file", err)
		}
		return nil, full, openErr(dir, "directory", err)
	}
	defer syscall.Close(dfd)
	// O_NONBLOCK: a FIFO planted under the name must not block the
	// launcher; fstat below refuses it anyway.
	fd, err := syscall.Openat(dfd, base, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, full, openErr(full, "file", err)
	}
	f := os.NewFile(uintptr(fd), full)
	defer f.Close()
	if err := checkOwner(dfd, dir, syscall.S_IFDIR, uid); err != nil {
		return nil, full, err
	}
	if err := checkOwner(fd, full, syscall.S_IFREG, uid); err != nil {
		return nil, full, err
	}
	data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, full, &Error{File: full, Msg: "cannot read profile: " + errnoText(err)}
	}
	return data, full, nil
}

func openErr(p, what string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return &os.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	case errors.Is(err, syscall.ELOOP):
		return &Error{File: p, Msg: "profile " + what + " is a symlink (refusing to follow it)", Hint: "point nixbox at the real " + what, Err: ErrUnsafe}
	case errors.Is(err, syscall.ENOTDIR) && what == "directory":
		return &Error{File: p, Msg: "not a directory", Err: ErrUnsafe}
	}
	return &Error{File: p, Msg: "cannot open profile " + what + ": " + errnoText(err)}
}

func errnoText(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e.Error()
	}
	return "I/O error"
}

// checkOwner fstats fd and refuses the wrong type, group- or
// world-writable modes and foreign owners.
func checkOwner(fd int, p string, typ uint32, uid int) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return &Error{File: p, Msg: "cannot stat: " + errnoText(err)}
	}
	what := "file"
	if typ == syscall.S_IFDIR {
		what = "directory"
	}
	if st.Mode&syscall.S_IFMT != typ {
		return &Error{File: p, Msg: "profile " + what + " is not a regular " + what, Err: ErrUnsafe}
	}
	if st.Mode&0o022 != 0 {
		return &Error{File: p, Msg: "profile " + what + " is writable by group or others", Hint: "chmod go-w " + strconv.Quote(p), Err: ErrUnsafe}
	}
	if int(st.Uid) != uid && st.Uid != 0 {
		return &Error{File: p, Msg: "profile " + what + " is owned by uid " + strconv.Itoa(int(st.Uid)) + ", not by you or root", Hint: "chown " + strconv.Itoa(uid) + " " + strconv.Quote(p) + ", or move it to a directory you own", Err: ErrUnsafe}
	}
	return nil
}

// listDir returns the names in dir, sorted, refusing a symlinked dir.
func listDir(dir string) ([]string, error) {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, openErr(dir, "directory", err)
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, &Error{File: dir, Msg: "cannot list profile directory: " + errnoText(err)}
	}
	sort.Strings(names)
	return names, nil
}
