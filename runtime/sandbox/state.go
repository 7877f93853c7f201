package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// StateRoot returns nixbox's state directory for uid: $XDG_RUNTIME_DIR/nixbox
// when XDG_RUNTIME_DIR is set and absolute, else $TMPDIR/nixbox-UID (or
// /tmp/nixbox-UID). It creates it with mode 0700 and refuses one that is a
// symlink, not owned by uid, or accessible by others: a predictable name in
// /tmp could be planted by another user.
func StateRoot(runtimeDir, tmpDir string, uid int) (string, error) {
	var dir string
	if runtimeDir != "" && filepath.IsAbs(runtimeDir) {
		parent := filepath.Clean(runtimeDir)
		dir = filepath.Join(parent, "nixbox")
	} else {
		if tmpDir == "" || !filepath.IsAbs(tmpDir) {
			tmpDir = "/tmp"
		}
		dir = filepath.Join(filepath.Clean(tmpDir), "nixbox-"+strconv.Itoa(uid))
	}
	if err := ensurePrivateDir(dir, uid); err != nil {
		return "", err
	}
	for _, sub := range []string{"run", "instances"} {
		if err := ensurePrivateDir(filepath.Join(dir, sub), uid); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func ensurePrivateDir(dir string, uid int) error {
	err := os.Mkdir(dir, 0o700)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: creating %s: %w", ErrState, dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrState, dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%w: %s is not a directory (a symlink?); remove it", ErrState, dir)
	}
	if int(st.Uid) != uid {
		return fmt.Errorf("%w: %s is owned by uid %d, not %d; remove it", ErrState, dir, st.Uid, uid)
	}
	if st.Mode&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("%w: %s is accessible by others: %w", ErrState, dir, err)
		}
	}
	return nil
}

// Instance is the on-disk state of one run: a directory holding a lock
// file (held while the run is alive) and the root directory skeleton.
type Instance struct {
	ID    string
	root  string // the state root
	dir   string
	lock  *os.File
	devID uint64
}

// NewInstance creates the instance directory for id and takes its lock.
// The directory appears under its final name only with the lock already
// held (it is built under a dot name and renamed), so a concurrent GC
// never mistakes a starting run for a dead one.
func NewInstance(stateRoot, id string) (*Instance, error) {
	if id == "" || strings.ContainsAny(id, "/\x00") || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("%w: bad instance id %q", ErrState, id)
	}
	base := filepath.Join(stateRoot, "instances")
	// The creator's pid is in the name, so GC can tell a creator that died
	// before it took the lock from one still at work.
	tmp := filepath.Join(base, fmt.Sprintf(".new-%d.%s", os.Getpid(), id))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	lock, err := os.OpenFile(filepath.Join(tmp, "lock"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: locking instance: %w", ErrState, err)
	}
	dir := filepath.Join(base, id)
	if err := os.Rename(tmp, dir); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		lock.Close()
		return nil, err
	}
	return &Instance{ID: id, root: stateRoot, dir: dir, lock: lock, devID: st.Dev}, nil
}

// RootfsDir is where the caller writes the root directory skeleton.
func (in *Instance) RootfsDir() string { return filepath.Join(in.dir, "rootfs") }

// Close removes the instance's state and releases the lock.
func (in *Instance) Close() error {
	err := removeSameDevice(in.dir, in.devID)
	in.lock.Close()
	return err
}

// GC removes the state of runs that are no longer alive (a crashed or
// killed launcher): their lock is free. Live runs hold their lock and are
// left alone.
func GC(stateRoot string) {
	ents, err := os.ReadDir(filepath.Join(stateRoot, "instances"))
	if err != nil {
		return
	}
	for _, e := range ents {
		dir := filepath.Join(stateRoot, "instances", e.Name())
		lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|unix.O_NOFOLLOW, 0)
		if rest, ok := strings.CutPrefix(e.Name(), ".new-"); ok {
			// A run being created, or one that died while being
			// created. Its creator (pid in the name) locks the lock file
			// right after creating it: with the creator gone it is dead
			// at once; otherwise an unlocked one a few seconds old is
			// dead, and one without a lock file after a minute.
			age := time.Minute
			if err == nil {
				age = 5 * time.Second
			}
			pidStr, _, _ := strings.Cut(rest, ".")
			if pid, perr := strconv.Atoi(pidStr); perr == nil && pid > 0 && unix.Kill(pid, 0) == unix.ESRCH {
				age = 0
			}
			if info, ierr := e.Info(); ierr != nil || time.Since(info.ModTime()) < age {
				if lock != nil {
					lock.Close()
				}
				continue
			}
		}
		if err == nil {
			if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
				lock.Close()
				continue // alive
			}
		}
		destroyContainer(filepath.Join(stateRoot, "run"), e.Name())
		removeSavedCgroups(dir)
		var st unix.Stat_t
		if unix.Lstat(dir, &st) == nil {
			_ = removeSameDevice(dir, st.Dev)
		}
		if lock != nil {
			lock.Close()
		}
	}
	// libcontainer dirs without an instance (a failed start).
	ents, _ = os.ReadDir(filepath.Join(stateRoot, "run"))
	for _, e := range ents {
		_, err1 := os.Lstat(filepath.Join(stateRoot, "instances", e.Name()))
		pending, _ := filepath.Glob(filepath.Join(stateRoot, "instances", ".new-*."+e.Name()))
		if errors.Is(err1, os.ErrNotExist) && len(pending) == 0 {
			destroyContainer(filepath.Join(stateRoot, "run"), e.Name())
		}
	}
}

func destroyContainer(runRoot, id string) {
	if c, err := libcontainer.Load(runRoot, id); err == nil {
		_ = c.Signal(unix.SIGKILL)
		_ = c.Destroy()
	}
	var st unix.Stat_t
	p := filepath.Join(runRoot, id)
	if unix.Lstat(p, &st) == nil {
		_ = removeSameDevice(p, st.Dev)
	}
}

// cgroupFile, in the instance directory, lists the cgroups libcontainer
// creates for the run (by controller), written before it creates them.
const cgroupFile = "cgroups.json"

func (in *Instance) saveCgroupPaths(paths map[string]string) error {
	if len(paths) == 0 {
		return nil
	}
	b, err := json.Marshal(paths)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(in.dir, cgroupFile), b, 0o600)
}

// removeSavedCgroups removes the cgroups of a dead run that libcontainer
// did not remove: nixbox was killed after they were created and before
// libcontainer recorded them, so Load finds no state to Destroy. Only
// paths below /sys/fs/cgroup are touched, and a cgroup that still has
// processes cannot be removed (rmdir fails).
func removeSavedCgroups(instDir string) {
	b, err := os.ReadFile(filepath.Join(instDir, cgroupFile))
	if err != nil {
		return
	}
	var paths map[string]string
	if json.Unmarshal(b, &paths) != nil {
		return
	}
	for k, p := range paths {
		// A hierarchy's root is a mount point: rmdir refuses it.
		if filepath.Clean(p) != p || !strings.HasPrefix(p, "/sys/fs/cgroup/") {
			delete(paths, k)
		}
	}
	_ = cgroups.RemovePaths(paths)
}

// removeSameDevice removes dir recursively but never descends into another
// file system: if anything were still mounted inside (it should not be), we
// would rather leave a directory behind than delete through a mount into
// user data.
func removeSameDevice(dir string, dev uint64) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if st.Dev != dev {
		return fmt.Errorf("%w: not removing %s: another file system is mounted there", ErrState, dir)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := removeSameDevice(filepath.Join(dir, e.Name()), dev); err != nil {
				return err
			}
		}
	}
	return os.Remove(dir)
}

// Dir is the instance's private directory (mode 0700, inside the state
// root): the launcher keeps its record of the run there.
func (in *Instance) Dir() string { return in.dir }

// Live is a running instance found in a state root.
type Live struct {
	ID  string
	Dir string
}

// List returns the instances of a state root whose launcher is alive (it
// holds the instance's lock). The state root is the caller's own private
// directory, so only the caller's instances are ever seen (Firejail
// CVE-2022-31214 joined a sandbox it found by pid).
func List(stateRoot string) ([]Live, error) {
	ents, err := os.ReadDir(filepath.Join(stateRoot, "instances"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Live
	for _, e := range ents {
		dir := filepath.Join(stateRoot, "instances", e.Name())
		lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			out = append(out, Live{ID: e.Name(), Dir: dir})
		}
		lock.Close()
	}
	return out, nil
}

// ErrNoInstance is returned when no running instance has the given id.
var ErrNoInstance = errors.New("no such running instance")

// Signal sends sig to the init process of a running instance of this
// state root. libcontainer checks the pid against the start time it
// recorded, so a recycled pid is never signalled.
func Signal(stateRoot, id string, sig unix.Signal) error {
	live, err := List(stateRoot)
	if err != nil {
		return err
	}
	for _, l := range live {
		if l.ID == id {
			c, err := libcontainer.Load(filepath.Join(stateRoot, "run"), id)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrNoInstance, id)
			}
			return c.Signal(sig)
		}
	}
	return fmt.Errorf("%w: %s", ErrNoInstance, id)
}
