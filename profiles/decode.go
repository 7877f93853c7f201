package profiles

import (
	"sort"
	"strconv"
	"strings"
)

// decoder turns the positioned tree into a Profile, refusing unknown keys
// and wrong types, and recording every key's position in Profile.Pos.
type decoder struct {
	file string
	pos  map[string]Pos
}

func (d *decoder) errAt(line, col int, key, msg string) *Error {
	return &Error{File: d.file, Line: line, Col: col, Key: key, Msg: msg}
}

func (d *decoder) typeErr(f *field, key, want string) *Error {
	return d.errAt(f.val.line, f.val.col, key, "expected "+want+", found "+f.val.kind.String())
}

// fields walks t in file order. Each key must be in known; fn decodes it.
func (d *decoder) fields(prefix string, t *table, known []string, fn func(f *field, key string) error) error {
	for _, f := range t.fields {
		key := f.key
		if prefix != "" {
			key = prefix + "." + f.key
		}
		d.pos[key] = Pos{File: d.file, Line: f.line, Col: f.col}
		if !contains(known, f.key) {
			e := d.errAt(f.line, f.col, key, "unknown key "+strconv.Quote(f.key))
			if s := suggest(f.key, known); s != "" {
				e.Hint = "did you mean " + strconv.Quote(s) + "?"
			} else {
				e.Hint = "known keys here: " + strings.Join(known, ", ")
			}
			return e
		}
		if err := fn(f, key); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *decoder) table(f *field, key string) (*table, error) {
	if f.val.kind != kTable {
		return nil, d.typeErr(f, key, "a table")
	}
	return f.val.tbl, nil
}

func (d *decoder) str(f *field, key string) (string, error) {
	if f.val.kind != kString {
		return "", d.typeErr(f, key, "a string")
	}
	return f.val.s, nil
}

func (d *decoder) boolp(f *field, key string) (*bool, error) {
	if f.val.kind != kBool {
		return nil, d.typeErr(f, key, "a boolean (true or false)")
	}
	b := f.val.b
	return &b, nil
}

func (d *decoder) boolean(f *field, key string) (bool, error) {
	b, err := d.boolp(f, key)
	if err != nil {
		return false, err
	}
	return *b, nil
}

func (d *decoder) intp(f *field, key string) (*int64, error) {
	if f.val.kind != kInt {
		return nil, d.typeErr(f, key, "an integer")
	}
	n := f.val.i
	return &n, nil
}

func (d *decoder) floatp(f *field, key string) (*float64, error) {
	var x float64
	switch f.val.kind {
	case kFloat:
		x = f.val.f
	case kInt:
		x = float64(f.val.i)
	default:
		return nil, d.typeErr(f, key, "a number")
	}
	return &x, nil
}

// list returns the elements of a list, recording their positions.
func (d *decoder) list(f *field, key string) ([]*value, error) {
	if f.val.kind != kArray {
		return nil, d.typeErr(f, key, "a list")
	}
	for i, e := range f.val.arr {
		d.pos[key+"["+strconv.Itoa(i)+"]"] = Pos{File: d.file, Line: e.line, Col: e.col}
	}
	return f.val.arr, nil
}

func (d *decoder) strList(f *field, key string) ([]string, error) {
	vals, err := d.list(f, key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vals))
	for i, e := range vals {
		if e.kind != kString {
			return nil, d.errAt(e.line, e.col, key+"["+strconv.Itoa(i)+"]", "expected a string, found "+e.kind.String())
		}
		out = append(out, e.s)
	}
	return out, nil
}

// tables returns the elements of a list of tables ([[x]] or [{…}]).
func (d *decoder) tables(f *field, key string) ([]*table, error) {
	vals, err := d.list(f, key)
	if err != nil {
		return nil, err
	}
	out := make([]*table, 0, len(vals))
	for i, e := range vals {
		if e.kind != kTable {
			return nil, d.errAt(e.line, e.col, key+"["+strconv.Itoa(i)+"]", "expected a table, found "+e.kind.String())
		}
		out = append(out, e.tbl)
	}
	return out, nil
}

// Known keys per table, in documentation order.
var (
	keysTop        = []string{"version", "extends", "description", "app", "filesystem", "home", "env", "network", "namespaces", "seccomp", "limits", "sockets", "devices", "dbus"}
	keysApp        = []string{"package", "command", "args", "packages"}
	keysFilesystem = []string{"ro", "rw", "bind", "tmpfs"}
	keysBind       = []string{"source", "dest", "mode", "create", "optional", "unsafe"}
	keysTmpfs      = []string{"dest", "size", "nr_inodes"}
	keysHome       = []string{"mode", "size", "nr_inodes"}
	keysEnv        = []string{"set", "pass"}
	keysNetwork    = []string{"mode", "unsafe"}
	keysNamespaces = []string{"share"}
	keysSeccomp    = []string{"policy", "allow", "deny", "unsafe", "allow_ptrace", "allow_perf", "allow_userns", "allow_multiarch", "action"}
	keysLimits     = []string{"memory", "memory_swap", "cpu", "cpu_weight", "pids", "io_weight", "nofile", "core"}
	keysSockets    = []string{"wayland", "x11", "pulseaudio", "pipewire"}
	keysDevices    = []string{"allow"}
	keysDBus       = []string{"talk", "own", "see"}
)

// decodeProfile fills p from the root table.
func (d *decoder) decodeProfile(root *table, p *Profile) error {
	return d.fields("", root, keysTop, func(f *field, key string) error {
		var err error
		switch f.key {
		case "version":
			var n *int64
			if n, err = d.intp(f, key); err == nil && *n != Version {
				return d.errAt(f.val.line, f.val.col, key, "unsupported version "+strconv.FormatInt(*n, 10)+" (this nixbox supports version "+strconv.Itoa(Version)+")")
			}
			if err == nil {
				p.Version = int(*n)
			}
		case "extends":
			if f.val.kind == kString {
				d.pos[key+"[0]"] = d.pos[key]
				p.Extends = []string{f.val.s}
			} else if f.val.kind == kArray {
				p.Extends, err = d.strList(f, key)
			} else {
				err = d.typeErr(f, key, "a string or a list of strings")
			}
		case "description":
			p.Description, err = d.str(f, key)
		case "app":
			err = d.sub(f, key, keysApp, d.app(&p.App))
		case "filesystem":
			err = d.sub(f, key, keysFilesystem, d.filesystem(&p.Filesystem))
		case "home":
			err = d.sub(f, key, keysHome, func(f *field, key string) (err error) {
				switch f.key {
				case "mode":
					var s string
					s, err = d.str(f, key)
					p.Home.Mode = HomeMode(s)
				case "size":
					p.Home.Size, err = d.str(f, key)
				case "nr_inodes":
					p.Home.NrInodes, err = d.intp(f, key)
				}
				return err
			})
		case "env":
			err = d.sub(f, key, keysEnv, d.env(&p.Env))
		case "network":
			err = d.sub(f, key, keysNetwork, func(f *field, key string) error {
				s, err := d.str(f, key)
				switch f.key {
				case "mode":
					p.Network.Mode = NetworkMode(s)
				case "unsafe":
					p.Network.Unsafe = s
				}
				return err
			})
		case "namespaces":
			err = d.sub(f, key, keysNamespaces, func(f *field, key string) (err error) {
				p.Namespaces.Share, err = d.strList(f, key)
				return err
			})
		case "seccomp":
			err = d.sub(f, key, keysSeccomp, d.seccomp(&p.Seccomp))
		case "limits":
			err = d.sub(f, key, keysLimits, d.limits(&p.Limits))
		case "sockets":
			err = d.sub(f, key, keysSockets, func(f *field, key string) (err error) {
				s := &p.Sockets
				dst := map[string]**bool{"wayland": &s.Wayland, "x11": &s.X11, "pulseaudio": &s.Pulseaudio, "pipewire": &s.Pipewire}[f.key]
				*dst, err = d.boolp(f, key)
				return err
			})
		case "devices":
			err = d.sub(f, key, keysDevices, func(f *field, key string) (err error) {
				p.Devices.Allow, err = d.strList(f, key)
				return err
			})
		case "dbus":
			err = d.sub(f, key, keysDBus, func(f *field, key string) (err error) {
				dst := map[string]*[]string{"talk": &p.DBus.Talk, "own": &p.DBus.Own, "see": &p.DBus.See}[f.key]
				*dst, err = d.strList(f, key)
				return err
			})
		}
		return err
	})
}

// sub decodes a sub-table with the given known keys.
func (d *decoder) sub(f *field, key string, known []string, fn func(f *field, key string) error) error {
	t, err := d.table(f, key)
	if err != nil {
		return err
	}
	return d.fields(key, t, known, fn)
}

func (d *decoder) app(a *App) func(f *field, key string) error {
	return func(f *field, key string) (err error) {
		switch f.key {
		case "package":
			a.Package, err = d.str(f, key)
		case "command":
			a.Command, err = d.str(f, key)
		case "args":
			a.Args, err = d.strList(f, key)
		case "packages":
			a.Packages, err = d.strList(f, key)
		}
		return err
	}
}

func (d *decoder) filesystem(fs *Filesystem) func(f *field, key string) error {
	return func(f *field, key string) error {
		var err error
		switch f.key {
		case "ro":
			fs.RO, err = d.strList(f, key)
		case "rw":
			fs.RW, err = d.strList(f, key)
		case "bind":
			var ts []*table
			if ts, err = d.tables(f, key); err != nil {
				return err
			}
			for i, t := range ts {
				var b Bind
				k := key + "[" + strconv.Itoa(i) + "]"
				if err := d.fields(k, t, keysBind, d.bind(&b)); err != nil {
					return err
				}
				fs.Bind = append(fs.Bind, b)
			}
		case "tmpfs":
			var ts []*table
			if ts, err = d.tables(f, key); err != nil {
				return err
			}
			for i, t := range ts {
				var m Tmpfs
				k := key + "[" + strconv.Itoa(i) + "]"
				err := d.fields(k, t, keysTmpfs, func(f *field, key string) (err error) {
					switch f.key {
					case "dest":
						m.Dest, err = d.str(f, key)
					case "size":
						m.Size, err = d.str(f, key)
					case "nr_inodes":
						var n *int64
						if n, err = d.intp(f, key); err == nil {
							m.NrInodes = *n
						}
					}
					return err
				})
				if err != nil {
					return err
				}
				fs.Tmpfs = append(fs.Tmpfs, m)
			}
		}
		return err
	}
}

func (d *decoder) bind(b *Bind) func(f *field, key string) error {
	return func(f *field, key string) (err error) {
		switch f.key {
		case "source":
			b.Source, err = d.str(f, key)
		case "dest":
			b.Dest, err = d.str(f, key)
		case "mode":
			var s string
			s, err = d.str(f, key)
			b.Mode = BindMode(s)
		case "create":
			b.Create, err = d.boolean(f, key)
		case "optional":
			b.Optional, err = d.boolean(f, key)
		case "unsafe":
			b.Unsafe, err = d.str(f, key)
		}
		return err
	}
}

func (d *decoder) env(e *Env) func(f *field, key string) error {
	return func(f *field, key string) error {
		var err error
		switch f.key {
		case "pass":
			e.Pass, err = d.strList(f, key)
		case "set":
			var t *table
			if t, err = d.table(f, key); err != nil {
				return err
			}
			e.Set = map[string]string{}
			for _, g := range t.fields {
				k := key + "." + g.key
				d.pos[k] = Pos{File: d.file, Line: g.line, Col: g.col}
				if g.val.kind != kString {
					return d.typeErr(g, k, "a string")
				}
				e.Set[g.key] = g.val.s
			}
		}
		return err
	}
}

func (d *decoder) seccomp(s *Seccomp) func(f *field, key string) error {
	return func(f *field, key string) (err error) {
		switch f.key {
		case "policy":
			s.Policy, err = d.str(f, key)
		case "action":
			s.Action, err = d.str(f, key)
		case "allow":
			s.Allow, err = d.strList(f, key)
		case "deny":
			s.Deny, err = d.strList(f, key)
		case "unsafe":
			s.Unsafe, err = d.str(f, key)
		case "allow_ptrace":
			s.AllowPtrace, err = d.boolp(f, key)
		case "allow_perf":
			s.AllowPerf, err = d.boolp(f, key)
		case "allow_userns":
			s.AllowUserns, err = d.boolp(f, key)
		case "allow_multiarch":
			s.AllowMultiarch, err = d.boolp(f, key)
		}
		return err
	}
}

func (d *decoder) limits(l *Limits) func(f *field, key string) error {
	return func(f *field, key string) (err error) {
		switch f.key {
		case "memory":
			l.Memory, err = d.str(f, key)
		case "memory_swap":
			l.MemorySwap, err = d.str(f, key)
		case "cpu":
			l.CPU, err = d.floatp(f, key)
		default:
			dst := map[string]**int64{"cpu_weight": &l.CPUWeight, "pids": &l.Pids, "io_weight": &l.IOWeight, "nofile": &l.Nofile, "core": &l.Core}[f.key]
			*dst, err = d.intp(f, key)
		}
		return err
	}
}

// suggest returns the known key closest to k by edit distance (with
// transpositions), or "" when none is close enough to be a likely typo.
func suggest(k string, known []string) string {
	best, bestD := "", 1<<30
	for _, c := range known {
		if d := editDistance(strings.ToLower(k), c); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(k) <= 3 {
		limit = 1
	}
	if bestD <= limit || bestD <= len(k)/3 {
		return best
	}
	return ""
}

// editDistance is the optimal-string-alignment distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
