package seccache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MaxInstructions is the kernel's limit on a classic-BPF program
// (BPF_MAXINSNS).
const MaxInstructions = 4096

// Compiler compiles a policy to a BPF program (seccomp.Compile).
type Compiler func(*specs.LinuxSeccomp) ([]byte, error)

// Key is the cache key of a policy: the SHA-256 of its canonical JSON,
// together with the compiler version, so a new nixbox never loads a filter
// an older one compiled differently.
func Key(s *specs.LinuxSeccomp, compilerID string) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(compilerID))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Get returns the path of the compiled filter for s in dir, compiling and
// storing it on a miss. dir is created with mode 0700 and must be owned by
// uid; entries are written atomically with mode 0600. A cached entry is
// checked for shape (a whole number of instructions, within the kernel's
// limit); a malformed one is recompiled.
//
// Security: the cache decides what the app may call. It lives in a
// directory no profile may grant (~/.cache/nixbox is escape-equivalent,
// Firejail CVE-2019-12589 was a filter file writable from inside).
func Get(dir string, uid int, s *specs.LinuxSeccomp, compilerID string, compile Compiler) (string, error) {
	key, err := Key(s, compilerID)
	if err != nil {
		return "", fmt.Errorf("hashing seccomp policy: %w", err)
	}
	if err := ensureDir(dir, uid); err != nil {
		return "", err
	}
	path := filepath.Join(dir, key+".bpf")
	if ok, err := valid(path, uid); err == nil && ok {
		return path, nil
	}
	prog, err := compile(s)
	if err != nil {
		return "", err
	}
	if n := len(prog) / 8; len(prog)%8 != 0 || n == 0 || n > MaxInstructions {
		return "", fmt.Errorf("compiled seccomp filter has %d bytes: not 1..%d instructions", len(prog), MaxInstructions)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("writing seccomp cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(prog); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing seccomp cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("writing seccomp cache: %w", err)
	}
	return path, nil
}

func valid(path string, uid int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, err
	}
	n := st.Size / 8
	return st.Mode&unix.S_IFMT == unix.S_IFREG && int(st.Uid) == uid && st.Mode&0o022 == 0 &&
		st.Size%8 == 0 && n > 0 && n <= MaxInstructions, nil
}

func ensureDir(dir string, uid int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating seccomp cache: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("checking seccomp cache: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != uid {
		return errors.New("seccomp cache " + dir + " is not a directory owned by you; remove it")
	}
	if st.Mode&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}
