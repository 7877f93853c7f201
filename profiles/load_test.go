package profiles

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// writeDir creates a private profile directory holding files.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestValidFixtures parses and validates every testdata profile.
func TestValidFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "valid-*"))
	if err != nil || len(files) < 5 {
		t.Fatalf("fixtures = %v, %v; want at least 5", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseAndValidate(f, data); err != nil {
				t.Fatalf("parse and validate: %v", err)
			}
		})
	}
}

// TestParseSyntax pins what the TOML features decode to.
func TestParseSyntax(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "valid-syntax.toml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("valid-syntax.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", `b\c`, "x y", "é\t"}, p.App.Args); diff != "" {
		t.Errorf("App.Args mismatch (-want +got):\n%s", diff)
	}
	if p.Description != "multi-line literal" || p.Version != 1 {
		t.Errorf("Description %q Version %d", p.Description, p.Version)
	}
	wantBind := []Bind{{Source: "/srv/data", Dest: "/data", Mode: BindRW}, {Source: "/etc/ssl/certs", Optional: true}}
	if diff := cmp.Diff(wantBind, p.Filesystem.Bind); diff != "" {
		t.Errorf("Bind mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"LANG": "C.UTF-8", "TZ": "UTC"}, p.Env.Set); diff != "" {
		t.Errorf("Env.Set mismatch (-want +got):\n%s", diff)
	}
	want := map[string]Pos{
		"app.args[2]":                 {File: "valid-syntax.toml", Line: 10, Col: 3},
		"filesystem.bind[1].source":   {File: "valid-syntax.toml", Line: 18, Col: 5},
		"filesystem.bind[0].mode":     {File: "valid-syntax.toml", Line: 17, Col: 43},
		"env.set.TZ":                  {File: "valid-syntax.toml", Line: 22, Col: 29},
		"description":                 {File: "valid-syntax.toml", Line: 3, Col: 1},
		"filesystem.bind[1].optional": {File: "valid-syntax.toml", Line: 18, Col: 32},
	}
	for k, w := range want {
		if got := p.Pos[k]; got != w {
			t.Errorf("Pos[%q] = %+v, want %+v", k, got, w)
		}
	}
}

// TestTOMLAndJSONAgree checks that the same profile in both formats
// decodes to the same values.
func TestTOMLAndJSONAgree(t *testing.T) {
	t.Parallel()
	tp, err := Parse("a.toml", []byte(`version = 1
extends = "default"
[app]
package = "hello"
args = ["--greeting", "hi"]
[[filesystem.bind]]
source = "~/Pictures"
dest = "/pictures"
mode = "ro"
[network]
mode = "none"
`))
	if err != nil {
		t.Fatal(err)
	}
	jp, err := Parse("a.json", []byte(`{"version": 1, "extends": "default", "app": {"package": "hello", "args": ["--greeting", "hi"]},
 "filesystem": {"bind": [{"source": "~/Pictures", "dest": "/pictures", "mode": "ro"}]}, "network": {"mode": "none"}}`))
	if err != nil {
		t.Fatal(err)
	}
	ignore := func(p *Profile) { p.Pos, p.Source, p.Chain = nil, "", nil }
	ignore(tp)
	ignore(jp)
	if diff := cmp.Diff(tp, jp); diff != "" {
		t.Errorf("TOML and JSON differ (-toml +json):\n%s", diff)
	}
}

// TestMerge pins the merge rules documented on Merge.
func TestMerge(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{
		"base.toml": `version = 1
description = "base"
[app]
package = "jq"
args = ["--parent"]
packages = ["coreutils"]
[filesystem]
ro = ["/etc/fonts"]
[[filesystem.bind]]
source = "/srv/a"
[env]
pass = ["TERM"]
set = { A = "parent", B = "parent" }
[network]
mode = "host"
unsafe = "base talks to the network"
[seccomp]
policy = "compat"
`,
		"child.toml": `version = 1
extends = ["base"]
[app]
args = ["--child"]
packages = ["less"]
[filesystem]
ro = ["/etc/ssl/certs"]
[[filesystem.bind]]
source = "/srv/b"
mode = "rw"
[[filesystem.bind]]
source = "/srv/c"
dest = "/etc/passwd"
[env]
set = { B = "child", C = "child" }
[seccomp]
policy = "strict"
`,
	})
	l := &Loader{Dirs: []string{dir}, UID: os.Getuid()}
	_, err := l.Load("child")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Load(child) = %v, want an *Error for the reserved dest", err)
	}
	// The child's second bind is bind[2] after the merge, and still points
	// at the child's file and line.
	if e.Key != "filesystem.bind[2].dest" || e.File != filepath.Join(dir, "child.toml") || e.Line != 13 {
		t.Errorf("error = %v (key %q line %d), want child.toml:13 filesystem.bind[2].dest", err, e.Key, e.Line)
	}

	base, err := l.lookup("base")
	if err != nil {
		t.Fatal(err)
	}
	child, err := l.lookup("child")
	if err != nil {
		t.Fatal(err)
	}
	child.Filesystem.Bind = child.Filesystem.Bind[:1]
	m := Merge(base, child)
	if err := m.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	want := &Profile{
		Name: "child", Source: child.Source, Chain: []string{child.Source, base.Source},
		Version: 1, Extends: []string{"base"}, Description: "base",
		App: App{Package: "jq", Args: []string{"--child"}, Packages: []string{"coreutils", "less"}},
		Filesystem: Filesystem{
			RO:   []string{"/etc/fonts", "/etc/ssl/certs"},
			Bind: []Bind{{Source: "/srv/a"}, {Source: "/srv/b", Mode: BindRW}},
		},
		Env:     Env{Pass: []string{"TERM"}, Set: map[string]string{"A": "parent", "B": "child", "C": "child"}},
		Network: Network{Mode: NetworkHost, Unsafe: "base talks to the network"},
		Seccomp: Seccomp{Policy: "strict"},
	}
	m.Pos = nil
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("Merge mismatch (-want +got):\n%s", diff)
	}
	if base.App.Args[0] != "--parent" || len(base.Filesystem.RO) != 1 {
		t.Errorf("Merge changed its parent: %+v", base)
	}
}

// TestMergeNetworkUnsafe pins how network.unsafe is inherited: it goes
// with the network.mode of the same profile (security suite case 53), so
// a parent's reason never acknowledges a child's mode = "host".
func TestMergeNetworkUnsafe(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{
		"host.toml":    "version = 1\n[network]\nmode = \"host\"\nunsafe = \"reviewed\"\n",
		"bare.toml":    "version = 1\n[network]\nmode = \"host\"\n",
		"none.toml":    "version = 1\n[network]\nmode = \"none\"\n",
		"inherit.toml": "version = 1\nextends = \"host\"\n",
		"again.toml":   "version = 1\nextends = \"host\"\n[network]\nmode = \"host\"\n",
		"off.toml":     "version = 1\nextends = \"host\"\n[network]\nmode = \"none\"\n",
		"reon.toml":    "version = 1\nextends = \"off\"\n[network]\nmode = \"host\"\n",
		"ack.toml":     "version = 1\nextends = \"bare\"\n[network]\nunsafe = \"child acks\"\n",
		"ack2.toml":    "version = 1\nextends = \"none\"\n[network]\nunsafe = \"child acks\"\n",
		"own.toml":     "version = 1\nextends = \"host\"\n[network]\nmode = \"host\"\nunsafe = \"mine\"\n",
	})
	l := &Loader{Dirs: []string{dir}, UID: os.Getuid()}
	for _, tc := range []struct {
		name   string
		mode   NetworkMode
		unsafe string
		errKey string // "" for success
		errIn  string // file the error points at
	}{
		{name: "inherit", mode: NetworkHost, unsafe: "reviewed"},
		{name: "again", errKey: "network.mode", errIn: "again.toml"},
		{name: "off", mode: NetworkNone},
		{name: "reon", errKey: "network.mode", errIn: "reon.toml"},
		{name: "ack", errKey: "network.unsafe", errIn: "ack.toml"},
		{name: "ack2", errKey: "network.unsafe", errIn: "ack2.toml"},
		{name: "own", mode: NetworkHost, unsafe: "mine"},
	} {
		p, err := l.Load(tc.name)
		if tc.errKey == "" {
			if err != nil || p.Network.Mode != tc.mode || p.Network.Unsafe != tc.unsafe {
				t.Errorf("Load(%q) = %+v, %v; want mode %q unsafe %q", tc.name, p.Network, err, tc.mode, tc.unsafe)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Key != tc.errKey || e.File != filepath.Join(dir, tc.errIn) {
			t.Errorf("Load(%q) = %v, want an *Error at %s key %s", tc.name, err, tc.errIn, tc.errKey)
		}
	}
}

// TestHomeNrInodes: home.nr_inodes takes 1 to MaxTmpfsInodes, is
// validated (and kept, though unused) with a persistent home like
// home.size, and is inherited like home.size: the child's value wins when
// the child sets it, so a child's 0 is refused rather than hidden by its
// parent's limit. Out-of-range values are in badInputs.
func TestHomeNrInodes(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{
		"one.toml":      "version = 1\n[home]\nnr_inodes = 1\n",
		"max.toml":      "version = 1\n[home]\nnr_inodes = 16777216\n",
		"unset.toml":    "version = 1\n[home]\nsize = \"1G\"\n",
		"persist.toml":  "version = 1\n[home]\nmode = \"persistent\"\nnr_inodes = 4096\n",
		"parent.toml":   "version = 1\n[home]\nsize = \"512M\"\nnr_inodes = 4096\n",
		"inherit.toml":  "version = 1\nextends = \"parent\"\n",
		"child.toml":    "version = 1\nextends = \"parent\"\n[home]\nnr_inodes = 100\n",
		"zero.toml":     "version = 1\nextends = \"parent\"\n[home]\nsize = \"1G\"\nnr_inodes = 0\n",
		"toosmall.toml": "version = 1\nextends = \"parent\"\n[home]\nnr_inodes = -5\n",
	})
	l := &Loader{Dirs: []string{dir}, UID: os.Getuid()}
	for _, tc := range []struct {
		name   string
		want   int64 // 0: unset
		mode   HomeMode
		errKey string
	}{
		{name: "one", want: 1},
		{name: "max", want: MaxTmpfsInodes},
		{name: "unset"},
		{name: "persist", want: 4096, mode: HomePersistent},
		{name: "inherit", want: 4096},
		{name: "child", want: 100},
		{name: "zero", errKey: "home.nr_inodes"},
		{name: "toosmall", errKey: "home.nr_inodes"},
	} {
		p, err := l.Load(tc.name)
		if tc.errKey != "" {
			var e *Error
			if !errors.As(err, &e) || e.Key != tc.errKey || e.File != filepath.Join(dir, tc.name+".toml") {
				t.Errorf("Load(%q) = %v, want an *Error in %s.toml at %s", tc.name, err, tc.name, tc.errKey)
			}
			continue
		}
		if err != nil {
			t.Errorf("Load(%q) = %v", tc.name, err)
			continue
		}
		var got int64
		if p.Home.NrInodes != nil {
			got = *p.Home.NrInodes
		}
		if got != tc.want || p.Home.Mode != tc.mode {
			t.Errorf("Load(%q): home mode %q nr_inodes %d, want %q %d", tc.name, p.Home.Mode, got, tc.mode, tc.want)
		}
	}
	// Merge copies the value: changing the result leaves the parent alone.
	parent, err := l.lookup("parent")
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(parent, &Profile{Version: 1})
	*m.Home.NrInodes = 7
	if *parent.Home.NrInodes != 4096 {
		t.Errorf("Merge shares home.nr_inodes with its parent: parent now %d", *parent.Home.NrInodes)
	}
}

// TestExtends covers lookup order, built-in parents, cycles and depth.
func TestExtends(t *testing.T) {
	t.Parallel()
	chain := map[string]string{}
	for i := range MaxExtendsDepth + 2 {
		chain["d"+itoa(i)+".toml"] = "version = 1\nextends = \"d" + itoa(i+1) + "\"\n"
	}
	chain["d"+itoa(MaxExtendsDepth+2)+".toml"] = "version = 1\n"
	dir := writeDir(t, chain)
	cyc := writeDir(t, map[string]string{
		"a.toml":    "version = 1\nextends = \"b\"\n",
		"b.toml":    "version = 1\nextends = [\"default\", \"a\"]\n",
		"self.toml": "version = 1\nextends = \"self\"\n",
		"mine.toml": "version = 1\nextends = \"curl\"\n[app]\nargs = [\"-s\"]\n",
		"lost.toml": "version = 1\nextends = [\"default\", \"nope\"]\n",
	})
	shadow := writeDir(t, map[string]string{
		// Shadows the built-in, then extends itself: a cycle, not the built-in.
		"cli.toml": "version = 1\nextends = \"cli\"\n",
	})
	l := &Loader{Dirs: []string{cyc, dir}, UID: os.Getuid()}
	for _, tc := range []struct {
		name string
		key  string
		line int
		is   error
	}{
		{"a", "extends[1]", 2, nil},
		{"self", "extends[0]", 2, nil},
		{"shadowcli", "extends[0]", 2, nil},
		{"d" + itoa(0), "extends", 2, nil},
		{"lost", "extends[1]", 2, ErrNotFound},
	} {
		_, err := l.Load(tc.name)
		if tc.name == "shadowcli" {
			_, err = (&Loader{Dirs: []string{shadow}, UID: os.Getuid()}).Load("cli")
		}
		var e *Error
		if !errors.As(err, &e) || e.Key != tc.key || e.Line != tc.line {
			t.Errorf("Load(%q) = %v, want *Error at line %d key %q", tc.name, err, tc.line, tc.key)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("Load(%q) = %v, want errors.Is %v", tc.name, err, tc.is)
		}
	}
	p, err := l.Load("mine")
	if err != nil {
		t.Fatalf("Load(mine) = %v", err)
	}
	if p.Network.Mode != NetworkHost || p.App.Package != "curl" || len(p.Chain) != 4 || p.Chain[3] != "builtin:default" {
		t.Errorf("Load(mine) = network %q package %q chain %v", p.Network.Mode, p.App.Package, p.Chain)
	}
	ok := &Loader{Dirs: []string{dir}, UID: os.Getuid()}
	if _, err := ok.Load("d" + itoa(2)); err != nil {
		t.Errorf("Load(d2) (depth %d) = %v, want success", MaxExtendsDepth, err)
	}
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

// TestLoadNames covers the 6.7 rules on names and paths.
func TestLoadNames(t *testing.T) {
	t.Parallel()
	l := &Loader{UID: os.Getuid()}
	// A bare name is never looked up in the working directory.
	if _, err := l.Load("valid-minimal"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(valid-minimal) = %v, want ErrNotFound", err)
	}
	for _, name := range []string{"", "..", ".hidden", "-x", "a b", "a\x1bb", "a\\b"} {
		if _, err := l.Load(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("Load(%q) = %v, want ErrInvalid", name, err)
		}
	}
	if runtimeOwnsTestdata(t) {
		p, err := l.Load("./testdata/valid-minimal.toml")
		if err != nil {
			t.Fatalf("Load(path) = %v", err)
		}
		if p.Name != "valid-minimal" {
			t.Errorf("Name = %q", p.Name)
		}
	}
	if _, err := l.Load("./testdata/no-such.toml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing path) = %v, want fs.ErrNotExist", err)
	}
}

// runtimeOwnsTestdata reports whether testdata passes the ownership rules
// (it does not in a checkout with a group-writable umask).
func runtimeOwnsTestdata(t *testing.T) bool {
	st, err := os.Stat("testdata")
	if err != nil || st.Mode().Perm()&0o022 != 0 {
		t.Logf("testdata is group/world-writable; skipping the path load check")
		return false
	}
	return true
}

// TestFileSafety checks the ErrUnsafe refusals (security suite 6.7).
func TestFileSafety(t *testing.T) {
	t.Parallel()
	good := "version = 1\n"
	mk := func(t *testing.T, dirMode, fileMode os.FileMode) string {
		dir := writeDir(t, map[string]string{"p.toml": good})
		if err := os.Chmod(filepath.Join(dir, "p.toml"), fileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, dirMode); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	uid := os.Getuid()
	tests := []struct {
		name     string
		dirMode  os.FileMode
		fileMode os.FileMode
		uid      int
		symlink  string // "file" or "dir"
		unsafe   bool
	}{
		{name: "private", dirMode: 0o700, fileMode: 0o600, uid: uid},
		{name: "readable by all", dirMode: 0o755, fileMode: 0o644, uid: uid},
		{name: "group-writable file", dirMode: 0o700, fileMode: 0o620, uid: uid, unsafe: true},
		{name: "world-writable file", dirMode: 0o700, fileMode: 0o606, uid: uid, unsafe: true},
		{name: "group-writable dir", dirMode: 0o770, fileMode: 0o600, uid: uid, unsafe: true},
		{name: "world-writable dir", dirMode: 0o1777, fileMode: 0o600, uid: uid, unsafe: true},
		{name: "other owner", dirMode: 0o700, fileMode: 0o600, uid: uid + 4242, unsafe: true},
		{name: "symlinked file", dirMode: 0o700, fileMode: 0o600, uid: uid, symlink: "file", unsafe: true},
		{name: "symlinked dir", dirMode: 0o700, fileMode: 0o600, uid: uid, symlink: "dir", unsafe: true},
	}
	if uid == 0 {
		// Root owns everything, so "owned by someone else" cannot be made.
		tests = tests[:len(tests)-3]
		tests = append(tests, tests[0])
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := mk(t, tc.dirMode, tc.fileMode)
			target := filepath.Join(dir, "p.toml")
			switch tc.symlink {
			case "file":
				if err := os.Symlink("p.toml", filepath.Join(dir, "link.toml")); err != nil {
					t.Fatal(err)
				}
				target = filepath.Join(dir, "link.toml")
			case "dir":
				link := filepath.Join(t.TempDir(), "d")
				if err := os.Symlink(dir, link); err != nil {
					t.Fatal(err)
				}
				target = filepath.Join(link, "p.toml")
			}
			l := &Loader{UID: tc.uid}
			_, err := l.Load(target)
			if got := errors.Is(err, ErrUnsafe); got != tc.unsafe {
				t.Errorf("Load(%s) = %v; ErrUnsafe %v, want %v", tc.name, err, got, tc.unsafe)
			}
			if !tc.unsafe && err != nil {
				t.Errorf("Load(%s) = %v, want success", tc.name, err)
			}
			var e *Error
			if tc.unsafe && (!errors.As(err, &e) || e.File == "" || (e.Hint == "" && tc.symlink == "")) {
				t.Errorf("Load(%s) = %v, want an *Error naming the file with a hint", tc.name, err)
			}
		})
	}
}

// TestList lists user and built-in profiles with shadowing.
func TestList(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{
		"cli.toml":    "version = 1\ndescription = \"my cli\"\n",
		"broken.toml": "version = 1\nnetwrok = 1\n",
		"a.json":      `{"version": 1, "description": "json"}`,
		"a.toml":      "version = 1\ndescription = \"toml\"\n",
		"-bad.toml":   "version = 1\n",
		"notes.txt":   "hello",
	})
	builtin := fstest.MapFS{
		"cli.toml":     {Data: []byte("version = 1\ndescription = \"builtin cli\"\n")},
		"default.toml": {Data: []byte("version = 1\ndescription = \"builtin default\"\n")},
	}
	l := &Loader{Dirs: []string{dir, filepath.Join(dir, "missing")}, UID: os.Getuid(), Builtin: builtin}
	got, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name, Description string
		Shadowed, Err     bool
	}
	var rows []row
	for _, e := range got {
		rows = append(rows, row{e.Name, e.Description, e.Shadowed, e.Err != nil})
	}
	want := []row{
		{"a", "json", false, false},
		{"a", "toml", true, false},
		{"broken", "", false, true},
		{"cli", "my cli", false, false},
		{"cli", "builtin cli", true, false},
		{"default", "builtin default", false, false},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}
}
