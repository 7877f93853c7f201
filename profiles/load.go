package profiles

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// MaxExtendsDepth is the longest chain of `extends` followed.
const MaxExtendsDepth = 16

//go:embed builtin/*.toml
var builtinFiles embed.FS

// Builtins returns the embedded built-in profile library: one
// "<name>.toml" per profile at the root of the returned file system.
func Builtins() fs.FS {
	sub, err := fs.Sub(builtinFiles, "builtin")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	return sub
}

// Loader finds, reads, merges and validates profiles. The zero value looks
// only in the built-in library. It reads no host state besides the
// profile files themselves: the user id comes in as a field.
type Loader struct {
	// Dirs are searched in order for "<name>.toml", then "<name>.json".
	// Missing directories are skipped.
	Dirs []string
	// UID is the user running nixbox. Profile files and their directories
	// must be owned by UID or root.
	UID int
	// Builtin is the built-in library searched after Dirs; nil means the
	// embedded one (Builtins()).
	Builtin fs.FS
}

func (l *Loader) builtin() fs.FS {
	if l.Builtin != nil {
		return l.Builtin
	}
	return Builtins()
}

// Load returns the effective profile for nameOrPath: parsed, with every
// `extends` parent merged in (see Merge), and validated. A value holding a
// '/' is a file path read directly (a bare name is never looked up in the
// current directory; use ./name.toml); anything else must be a valid
// profile name (see ValidName) and is looked up in Dirs, then in the
// built-in library. Parents are looked up the same way, never as paths,
// so a user profile can extend a built-in one. Files and their directory
// must not be symlinks, writable by group or others, or owned by anyone
// but UID or root (ErrUnsafe). An unknown name gives ErrNotFound.
func (l *Loader) Load(nameOrPath string) (*Profile, error) {
	var (
		p   *Profile
		err error
	)
	if strings.Contains(nameOrPath, "/") {
		p, err = l.readFile(filepath.Dir(nameOrPath), filepath.Base(nameOrPath))
		if err != nil {
			return nil, err
		}
	} else {
		if err := ValidName(nameOrPath); err != nil {
			return nil, err
		}
		if p, err = l.lookup(nameOrPath); err != nil {
			return nil, err
		}
	}
	eff, err := l.resolve(p, []string{p.Source}, []string{p.Name})
	if err != nil {
		return nil, err
	}
	if err := eff.Validate(); err != nil {
		return nil, err
	}
	return eff, nil
}

// resolve merges the parents of p into it. sources and names are the
// chain followed so far, for cycle detection and the message.
func (l *Loader) resolve(p *Profile, sources, names []string) (*Profile, error) {
	if len(p.Extends) == 0 {
		return p, nil
	}
	if len(sources) > MaxExtendsDepth {
		return nil, p.errAt("extends", "extends chain longer than "+strconv.Itoa(MaxExtendsDepth)+": "+strings.Join(names, " -> "), "")
	}
	if err := checkExtends(p); err != nil {
		return nil, err
	}
	var base *Profile
	for i, name := range p.Extends {
		parent, err := l.lookup(name)
		if errors.Is(err, ErrNotFound) {
			e := p.errAt(idx("extends", i), "parent profile "+strconv.Quote(name)+" not found", "")
			e.Err = ErrNotFound
			return nil, e
		}
		if err != nil {
			return nil, err
		}
		chain := append(append([]string(nil), names...), name)
		for _, s := range sources {
			if s == parent.Source {
				return nil, p.errAt(idx("extends", i), "extends cycle: "+strings.Join(chain, " -> "), "")
			}
		}
		parent, err = l.resolve(parent, append(append([]string(nil), sources...), parent.Source), chain)
		if err != nil {
			return nil, err
		}
		if base == nil {
			base = parent
		} else {
			base = Merge(base, parent)
		}
	}
	return Merge(base, p), nil
}

// lookup finds and parses (without merging) the profile called name.
func (l *Loader) lookup(name string) (*Profile, error) {
	for _, dir := range l.Dirs {
		for _, ext := range []string{".toml", ".json"} {
			p, err := l.readFile(dir, name+ext)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return p, err
		}
	}
	data, err := fs.ReadFile(l.builtin(), name+".toml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("profile %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading built-in profile %q: %w", name, err)
	}
	p, err := Parse("builtin:"+name, data)
	if err != nil {
		return nil, err
	}
	p.Name = name
	return p, nil
}

// readFile reads and parses dir/base after the safety checks of
// openProfile. A missing file gives an error matching fs.ErrNotExist.
func (l *Loader) readFile(dir, base string) (*Profile, error) {
	data, full, err := readProfile(dir, base, l.UID)
	if err != nil {
		return nil, err
	}
	return Parse(full, data)
}

// Entry is one profile listed by Loader.List.
type Entry struct {
	// Name is the profile name.
	Name string
	// Source is the file path or "builtin:<name>".
	Source string
	// Description is the profile's one-line description.
	Description string
	// Shadowed is true when an earlier directory (or an earlier format in
	// the same directory) has a profile of the same name, so this one is
	// never loaded by name.
	Shadowed bool
	// Err is set when the file could not be read or parsed; the entry is
	// still listed so that `nixbox profiles` can show the problem.
	Err error
}

// List returns every profile in Dirs (in order, each directory sorted by
// name) followed by the built-ins, marking the shadowed ones. Files whose
// names are not valid profile names are skipped. Missing directories are
// skipped; other directory errors are returned.
func (l *Loader) List() ([]Entry, error) {
	var out []Entry
	seen := map[string]bool{}
	add := func(name, source string, data []byte, err error) {
		e := Entry{Name: name, Source: source, Shadowed: seen[name], Err: err}
		if err == nil {
			if p, perr := Parse(source, data); perr != nil {
				e.Err = perr
			} else {
				e.Description = p.Description
			}
		}
		seen[name] = true
		out = append(out, e)
	}
	for _, dir := range l.Dirs {
		names, err := listDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			name, ok := profileFileName(n)
			if !ok {
				continue
			}
			data, full, err := readProfile(dir, n, l.UID)
			if full == "" {
				full = filepath.Join(dir, n)
			}
			add(name, full, data, err)
		}
	}
	ents, err := fs.ReadDir(l.builtin(), ".")
	if err != nil {
		return nil, fmt.Errorf("listing built-in profiles: %w", err)
	}
	for _, ent := range ents {
		name, ok := profileFileName(ent.Name())
		if !ok || path.Ext(ent.Name()) != ".toml" {
			continue
		}
		data, err := fs.ReadFile(l.builtin(), ent.Name())
		add(name, "builtin:"+name, data, err)
	}
	return out, nil
}

// profileFileName returns the profile name of a "<name>.toml" or
// "<name>.json" file name.
func profileFileName(file string) (string, bool) {
	ext := path.Ext(file)
	if ext != ".toml" && ext != ".json" {
		return "", false
	}
	name := strings.TrimSuffix(file, ext)
	return name, ValidName(name) == nil
}
