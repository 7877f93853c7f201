package closure

import (
	"fmt"
	"strings"
)

// StoreDir is the Nix store directory. nixbox supports only the default
// store location.
const StoreDir = "/nix/store"

// nixBase32 is Nix's base-32 alphabet: digits and lower-case letters
// without e, o, u and t.
const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

const (
	hashLen    = 32
	maxNameLen = 211 // Nix's limit on the name part
)

// StorePath is a parsed top-level store path, /nix/store/<hash>-<name>.
type StorePath struct {
	// Hash is the 32-character nix-base32 hash part.
	Hash string
	// Name is the part after the dash.
	Name string
}

// String returns the absolute store path.
func (s StorePath) String() string {
	return StoreDir + "/" + s.Hash + "-" + s.Name
}

// ParseStorePath parses an absolute top-level store path. It rejects paths
// below a store path (…/bin/x), trailing slashes, a hash that is not 32
// nix-base32 characters (upper case and the letters e, o, u, t are not in
// the alphabet), and names that are empty, start with a dot or hold a
// character outside [A-Za-z0-9+._?=-]. Errors wrap ErrPathInvalid.
func ParseStorePath(p string) (StorePath, error) {
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok {
		return StorePath{}, invalidf(p, "not under %s", StoreDir)
	}
	if len(rest) < hashLen+2 || rest[hashLen] != '-' {
		return StorePath{}, invalidf(p, "want %s/<32-character hash>-<name>", StoreDir)
	}
	hash, name := rest[:hashLen], rest[hashLen+1:]
	for i := 0; i < len(hash); i++ {
		if !base32Char[hash[i]] {
			return StorePath{}, invalidf(p, "hash has a character outside nix-base32")
		}
	}
	if len(name) > maxNameLen {
		return StorePath{}, invalidf(p, "name longer than %d characters", maxNameLen)
	}
	if name[0] == '.' {
		return StorePath{}, invalidf(p, "name starts with a dot")
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return StorePath{}, invalidf(p, "name has a character outside [A-Za-z0-9+._?=-]")
		}
	}
	return StorePath{Hash: hash, Name: name}, nil
}

// StorePathOf returns the top-level store path that contains p, which may
// be the store path itself or any absolute path below it. p must be clean
// (no "..", ".", or repeated slashes). Errors wrap ErrPathInvalid.
func StorePathOf(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok {
		return "", invalidf(p, "not under %s", StoreDir)
	}
	top, sub, below := strings.Cut(rest, "/")
	if below {
		for _, seg := range strings.Split(sub, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return "", invalidf(p, "not a clean path")
			}
		}
	}
	sp, err := ParseStorePath(StoreDir + "/" + top)
	if err != nil {
		return "", err
	}
	return sp.String(), nil
}

func nameChar(c byte) bool { return nameChars[c] }

// Byte tables for the two alphabets: a cached closure of 500 paths is
// validated line by line at every start, and per-character IndexByte was a
// third of that cost (BenchmarkResolve500Cached).
var base32Char, nameChars = func() (b, n [256]bool) {
	for i := 0; i < len(nixBase32); i++ {
		b[nixBase32[i]] = true
	}
	for c := 0; c < 256; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			n[c] = true
		}
	}
	for _, c := range []byte("+-._?=") {
		n[c] = true
	}
	return b, n
}()

func invalidf(p, format string, args ...any) error {
	return fmt.Errorf("%w: %q: %s", ErrPathInvalid, p, fmt.Sprintf(format, args...))
}
