package appres

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/nixbox/nixbox/runtime/closure"
)

// ClosureInfoPrefix marks a pkg argument that names a closure list
// (closure.ReadClosureInfo) instead of a store path or a command.
const ClosureInfoPrefix = "closureinfo:"

// maxSymlinks bounds a symlink chain, as Linux's MAXSYMLINKS does.
const maxSymlinks = 40

// testOnlyRootDir, when set by tests, is prefixed to every path the
// package touches on disk, so a fake tree stands in for / (and /nix/store).
var testOnlyRootDir string

// Target is what nixbox runs.
type Target struct {
	// Root is the app's store path: the closure is computed from it.
	Root string
	// Exec is the absolute, fully resolved path of the program, inside
	// the store.
	Exec string
}

// Resolve finds the app and the program to run.
//
// pkg is one of:
//   - a top-level store path (closure.ParseStorePath), which is the Root;
//   - "closureinfo:<file>": the Root is the first path the list names (see
//     closure.ReadClosureInfo; for nixpkgs' sorted closureInfo that is not
//     the app, so give an absolute command);
//   - a bare command name, looked up in the absolute directories of
//     pathList (a PATH value; relative and empty entries are skipped).
//     Its symlink chain must end inside the store, and the Root is the
//     store path that holds the final target.
//
// command is one of:
//   - "": the command pkg was found by; for a store path, <Root>/bin/
//     <profileName> if it exists, else the only entry of <Root>/bin;
//   - relative: <Root>/<command> (no ".." components);
//   - absolute: a path that must be inside the store.
//
// Symlinks are resolved to the real path, and are followed only while
// they stay inside the store: a link that leaves it gives ErrOutsideStore.
// A missing command wraps ErrCommandNotFound, a non-executable one or a
// directory ErrNotExecutable. Resolve doesn't check closure membership;
// see CheckIn.
func Resolve(pkg, command, profileName, pathList string) (Target, error) {
	var (
		root  string
		found string // the resolved program a PATH lookup found
	)
	switch {
	case strings.HasPrefix(pkg, ClosureInfoPrefix):
		c, err := closure.ReadClosureInfo(testOnlyRootDir + strings.TrimPrefix(pkg, ClosureInfoPrefix))
		if err != nil {
			return Target{}, fmt.Errorf("reading %s: %w", pkg, err)
		}
		root = c.Roots[0]
	case strings.HasPrefix(pkg, "/"):
		if _, err := closure.ParseStorePath(pkg); err != nil {
			return Target{}, err
		}
		if _, err := lstat(pkg); err != nil {
			return Target{}, fmt.Errorf("package %q: %w", pkg, err)
		}
		root = pkg
	case pkg == "" || strings.Contains(pkg, "/"):
		return Target{}, fmt.Errorf("%w: package %q: want a store path, a command name or %s<file>",
			ErrCommandNotFound, pkg, ClosureInfoPrefix)
	default:
		exe, err := lookPath(pkg, pathList)
		if err != nil {
			return Target{}, err
		}
		if root, err = closure.StorePathOf(exe); err != nil {
			return Target{}, err
		}
		found = exe
	}

	var exe string
	switch {
	case command == "" && found != "":
		exe = found
	case command == "":
		c, err := defaultCommand(root, profileName)
		if err != nil {
			return Target{}, err
		}
		exe = c
	case strings.HasPrefix(command, "/"):
		if _, err := closure.StorePathOf(path.Clean(command)); err != nil || path.Clean(command) != command {
			return Target{}, fmt.Errorf("%w: command %q", ErrOutsideStore, command)
		}
		exe = command
	default:
		for _, seg := range strings.Split(command, "/") {
			if seg == ".." {
				return Target{}, fmt.Errorf("%w: command %q has a \"..\" component", ErrOutsideStore, command)
			}
		}
		exe = path.Join(root, command)
	}

	real, err := realPath(exe, true)
	if err != nil {
		return Target{}, err
	}
	if err := checkExecutable(real); err != nil {
		return Target{}, err
	}
	return Target{Root: root, Exec: real}, nil
}

// CheckIn returns an error wrapping closure.ErrNotInClosure unless the
// program is inside a member of c that is not itself a symlink.
//
// The closure does not say which members are symlinks (nixbox-init finds
// out when it assembles the store, and recreates them as symlinks), so the
// program's own store path is looked at here: one Lstat. A program inside
// a symlink member would run through whatever the link points to, which
// the closure does not vouch for. Resolve already returns Exec with every
// symlink resolved, so this holds unless the store changed in between.
func (t Target) CheckIn(c closure.Closure) error {
	owner, err := closure.StorePathOf(t.Exec)
	if err != nil {
		return fmt.Errorf("%w: %q", closure.ErrNotInClosure, t.Exec)
	}
	if !slices.Contains(c.Paths, owner) {
		return fmt.Errorf("%w: %q", closure.ErrNotInClosure, t.Exec)
	}
	fi, err := lstat(owner)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", closure.ErrNotInClosure, t.Exec, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %q: %s is a symlink", closure.ErrNotInClosure, t.Exec, owner)
	}
	return nil
}

// defaultCommand picks <root>/bin/<profileName>, else the only entry of
// <root>/bin.
func defaultCommand(root, profileName string) (string, error) {
	bin := root + "/bin"
	if profileName != "" && !strings.Contains(profileName, "/") && profileName != "." && profileName != ".." {
		p := bin + "/" + profileName
		if _, err := lstat(p); err == nil {
			return p, nil
		}
	}
	entries, err := os.ReadDir(testOnlyRootDir + bin)
	if err != nil {
		return "", fmt.Errorf("%w: %s has no bin directory", ErrCommandNotFound, root)
	}
	if len(entries) != 1 {
		return "", fmt.Errorf("%w: %s/bin has %d entries and none is named %q; give a command",
			ErrCommandNotFound, root, len(entries), profileName)
	}
	return bin + "/" + entries[0].Name(), nil
}

// lookPath finds name in the absolute directories of pathList and returns
// the real path of the first hit, which must be inside the store.
func lookPath(name, pathList string) (string, error) {
	for _, dir := range strings.Split(pathList, ":") {
		if !strings.HasPrefix(dir, "/") {
			continue // relative and empty entries would depend on the cwd
		}
		p := path.Join(dir, name)
		if _, err := lstat(p); err != nil {
			continue
		}
		real, err := realPath(p, false)
		if errors.Is(err, ErrCommandNotFound) {
			continue // a dangling link, as execvp would skip it
		}
		if err != nil {
			return "", err
		}
		if _, err := closure.StorePathOf(real); err != nil {
			return "", fmt.Errorf("%w: %s resolves to %s", ErrOutsideStore, p, real)
		}
		return real, nil
	}
	return "", fmt.Errorf("%w: %q in PATH", ErrCommandNotFound, name)
}

// realPath resolves every symlink in the absolute, clean path p. Once the
// path is inside the store (from the start when inStore), a link leading
// out of it is an error. A missing component wraps ErrCommandNotFound.
func realPath(p string, inStore bool) (string, error) {
	orig := p
	done := "/"
	rest := strings.TrimPrefix(p, "/")
	hops := 0
	for rest != "" {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		switch seg {
		case "", ".":
			continue
		case "..":
			done = path.Dir(done)
			continue
		}
		next := path.Join(done, seg)
		fi, err := lstat(next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
				return "", fmt.Errorf("%w: %s", ErrCommandNotFound, orig)
			}
			return "", fmt.Errorf("resolving %s: %w", orig, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			if fi.IsDir() || rest == "" {
				continue
			}
			// A file in the middle of a path: ENOTDIR.
			return "", fmt.Errorf("%w: %s", ErrCommandNotFound, orig)
		}
		if hops++; hops > maxSymlinks {
			return "", fmt.Errorf("resolving %s: too many levels of symbolic links", orig)
		}
		target, err := os.Readlink(testOnlyRootDir + next)
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", orig, err)
		}
		if strings.HasPrefix(target, "/") {
			done = "/"
		}
		// Where the link points, lexically resolved against done.
		dest := path.Join(done, target)
		if _, err := closure.StorePathOf(dest); err == nil {
			inStore = true
		} else if inStore {
			return "", fmt.Errorf("%w: %s links to %s", ErrOutsideStore, next, target)
		}
		rest = strings.TrimPrefix(path.Join(strings.TrimPrefix(target, "/"), rest), "/")
		if rest == "." {
			rest = ""
		}
	}
	if inStore {
		if _, err := closure.StorePathOf(done); err != nil {
			return "", fmt.Errorf("%w: %s resolves to %s", ErrOutsideStore, orig, done)
		}
	}
	return done, nil
}

// checkExecutable requires a regular file with an execute bit.
func checkExecutable(p string) error {
	fi, err := os.Stat(testOnlyRootDir + p)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrCommandNotFound, p)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s", ErrNotExecutable, p)
	}
	return nil
}

func lstat(p string) (fs.FileInfo, error) { return os.Lstat(testOnlyRootDir + p) }
