package profiles

import (
	"cmp"
	"errors"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode"
	"unicode/utf8"
)

// fuzzSeedFiles are every profile text the package holds: testdata and
// the built-in library.
func fuzzSeedFiles(f *testing.F) [][]byte {
	var files []string
	for _, g := range []string{"testdata/*.toml", "testdata/*.json", "builtin/*.toml", "../runtime/specgen/testdata/*.toml"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	var out [][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// FuzzParse checks the parser's contract on arbitrary input: no panic, a
// profile or an error but never both, and a profile that passes Validate
// has only absolute-or-expandable, clean, non-reserved binds and limits in
// range. The rest of
// the property, that such a profile gives a spec passing the shared
// invariant checker, is runtime/specgen's FuzzProfileToSpec (profiles may
// not import specgen).
func FuzzParse(f *testing.F) {
	for _, data := range fuzzSeedFiles(f) {
		f.Add(data)
	}
	for _, tc := range badInputs() {
		if len(tc.src) < 4096 {
			f.Add([]byte(tc.src))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.toml", data)
		if p != nil && err != nil {
			t.Fatalf("Parse returned both %+v and %v", p, err)
		}
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			return
		}
		// Sources expand cleanly; destinations (a bind's source when it
		// has no dest) are also never reserved. A source may be under a
		// reserved place: /nix/x bound at /x is fine.
		for _, b := range p.Filesystem.Bind {
			checkFuzzPath(t, b.Source, b.Dest == "")
			if b.Dest != "" {
				checkFuzzPath(t, b.Dest, true)
			}
		}
		for _, s := range append(append([]string(nil), p.Filesystem.RO...), p.Filesystem.RW...) {
			checkFuzzPath(t, s, true)
		}
		for _, m := range p.Filesystem.Tmpfs {
			checkFuzzPath(t, m.Dest, true)
		}
		checkFuzzLimits(t, p.Limits)
	})
}

// checkFuzzLimits: a valid profile's limits are in range (security suite
// §6: the parser's fuzz invariant), restated here independently of
// Validate: sizes positive or "max", cpu in (0, 1024] cores, pids 1 to
// 2^22, weights 1 to 10000, nofile 1 to 2^20, core not negative.
func checkFuzzLimits(t *testing.T, l Limits) {
	t.Helper()
	for _, m := range []string{l.Memory, l.MemorySwap} {
		if m == "" || m == "max" {
			continue
		}
		if n, err := ParseMemory(m); err != nil || n <= 0 {
			t.Fatalf("valid profile with memory size %q (%d, %v)", m, n, err)
		}
	}
	if c := l.CPU; c != nil && !(*c > 0 && *c <= 1024) {
		t.Fatalf("valid profile with cpu %v", *c)
	}
	for _, r := range []struct {
		name     string
		v        *int64
		min, max int64
	}{{"pids", l.Pids, 1, 1 << 22}, {"cpu_weight", l.CPUWeight, 1, 10000}, {"io_weight", l.IOWeight, 1, 10000},
		{"nofile", l.Nofile, 1, 1 << 20}, {"core", l.Core, 0, 1<<63 - 1}} {
		if r.v != nil && (*r.v < r.min || *r.v > r.max) {
			t.Fatalf("valid profile with %s = %d", r.name, *r.v)
		}
	}
}

func checkFuzzPath(t *testing.T, s string, dest bool) {
	t.Helper()
	exp, err := ExpandPath(s, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, "/home/u")
	if err != nil {
		t.Fatalf("valid path %q does not expand: %v", s, err)
	}
	if !strings.HasPrefix(exp, "/") || strings.Contains(exp+"/", "/../") || strings.Contains(exp, "//") {
		t.Fatalf("valid path %q expands to %q", s, exp)
	}
	if dest && IsReservedDest(exp) {
		t.Fatalf("valid path %q expands to reserved %q", s, exp)
	}
}

// FuzzExpandPath: no panic; a result or an error, never both and never
// neither; a result is absolute, clean, printable and within the length
// limits; a path the profile rules accept expands the same way every
// time, and an accepted absolute path expands to itself.
func FuzzExpandPath(f *testing.F) {
	for _, s := range []string{"~", "~/a", "$HOME", "${HOME}/x", "$XDG_CONFIG_HOME/app", "${XDG_RUNTIME_DIR}",
		"$XDG_DOWNLOAD_DIR/f", "/", "/etc/fonts", "~/../x", "$PATH", "~user", "$XDG_DATA_HOME/", "/a//b", "/a/./b"} {
		for _, v := range []string{"", "/data", "/", "rel", "/x/../y", "/a/", "/\x1b"} {
			f.Add(s, v, "/home/u")
		}
	}
	f.Add("~/x", "", "/")
	f.Add("~/x", "", "/home/u/")
	f.Add("$XDG_CACHE_HOME/x", "", "")
	f.Add("/"+strings.Repeat("a", MaxComponentLen+1), "", "/h")
	f.Add("~/"+strings.Repeat("a/", 2040), "", "/home/u")
	f.Fuzz(func(t *testing.T, s, val, home string) {
		vars := map[string]string{}
		for k := range xdgDefaults {
			vars[k] = val
		}
		out, err := ExpandPath(s, vars, home)
		if (out != "") == (err != nil) {
			t.Fatalf("ExpandPath(%q) = %q, %v: want exactly one of a result and an error", s, out, err)
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("ExpandPath(%q) error %T is not a *profiles.Error: %v", s, err, err)
			}
		} else {
			checkExpandedPath(t, s, out)
		}
		if _, _, perr := splitPath(s); perr != nil {
			if err == nil {
				t.Fatalf("ExpandPath(%q) = %q although the profile path rules refuse it: %s", s, out, perr.msg)
			}
			return
		}
		// Accepted: deterministic, and an absolute path is never rewritten.
		again, err2 := ExpandPath(s, map[string]string{"XDG_CONFIG_HOME": val, "XDG_DATA_HOME": val, "XDG_CACHE_HOME": val,
			"XDG_STATE_HOME": val, "XDG_RUNTIME_DIR": val, "XDG_DOWNLOAD_DIR": val, "XDG_DOCUMENTS_DIR": val,
			"XDG_MUSIC_DIR": val, "XDG_PICTURES_DIR": val, "XDG_VIDEOS_DIR": val, "XDG_DESKTOP_DIR": val}, home)
		if again != out || (err == nil) != (err2 == nil) {
			t.Fatalf("ExpandPath(%q) not deterministic: %q, %v then %q, %v", s, out, err, again, err2)
		}
		if s[0] == '/' && out != s {
			t.Fatalf("ExpandPath(%q) = %q, %v: an accepted absolute path must expand to itself", s, out, err)
		}
	})
}

func checkExpandedPath(t *testing.T, s, out string) {
	t.Helper()
	bad := func(why string) { t.Fatalf("ExpandPath(%q) = %q: %s", s, out, why) }
	if !path.IsAbs(out) {
		bad("not absolute")
	}
	if path.Clean(out) != out {
		bad("not clean")
	}
	if len(out) > MaxPathLen {
		bad("too long")
	}
	if !utf8.ValidString(out) {
		bad("invalid UTF-8")
	}
	for _, r := range out {
		if unicode.IsControl(r) || !unicode.IsGraphic(r) || r == utf8.RuneError {
			bad("control or non-graphic character")
		}
	}
	if out != "/" {
		for _, c := range strings.Split(out[1:], "/") {
			if c == "" || c == "." || c == ".." || len(c) > MaxComponentLen {
				bad("bad component " + strconv.Quote(c))
			}
		}
	}
}

// FuzzMerge: for two profile texts that parse, Merge(parent, child) does
// not panic, changes neither input, keeps every parent list entry in
// front of the child's, applies the scalar rule (child wins when set),
// and gives a valid profile when both inputs are valid. Resolving
// `extends` between them through a Loader on an in-memory fs.FS ends, and
// fails whenever the chain has a cycle.
func FuzzMerge(f *testing.F) {
	seeds := fuzzSeedFiles(f)
	for i, a := range seeds {
		f.Add(a, seeds[(i+1)%len(seeds)])
	}
	f.Add([]byte("version = 1\nextends = [\"b\"]\n"), []byte("version = 1\nextends = [\"a\"]\n"))
	f.Add([]byte("version = 1\n[filesystem]\nro = [\"/a\"]\n"), []byte("version = 1\nextends = [\"b\"]\n"))
	f.Add([]byte("version = 1\nextends = [\"a\", \"a\"]\n[env]\npass = [\"X\"]\n"), []byte("version = 1\nextends = [\"a\"]\n[env]\npass = [\"Y\"]\n"))
	f.Add([]byte("version = 1\n[home]\nnr_inodes = 4096\n"), []byte("version = 1\nextends = [\"a\"]\n[home]\nnr_inodes = 0\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		parent, err1 := Parse("a.toml", a)
		child, err2 := Parse("b.toml", b)
		if err1 == nil && err2 == nil {
			checkMerge(t, a, b, parent, child)
		}
		checkExtendsResolution(t, a, b)
	})
}

func checkMerge(t *testing.T, a, b []byte, parent, child *Profile) {
	t.Helper()
	m := Merge(parent, child)
	// Neither input changed: Parse is deterministic, so a second parse is
	// the pristine value.
	p2, _ := Parse("a.toml", a)
	c2, _ := Parse("b.toml", b)
	if !reflect.DeepEqual(parent, p2) || !reflect.DeepEqual(child, c2) {
		t.Fatalf("Merge changed its inputs")
	}
	lists := []struct {
		key       string
		got, p, c []string
	}{
		{"filesystem.ro", m.Filesystem.RO, parent.Filesystem.RO, child.Filesystem.RO},
		{"filesystem.rw", m.Filesystem.RW, parent.Filesystem.RW, child.Filesystem.RW},
		{"env.pass", m.Env.Pass, parent.Env.Pass, child.Env.Pass},
		{"app.packages", m.App.Packages, parent.App.Packages, child.App.Packages},
		{"namespaces.share", m.Namespaces.Share, parent.Namespaces.Share, child.Namespaces.Share},
		{"seccomp.allow", m.Seccomp.Allow, parent.Seccomp.Allow, child.Seccomp.Allow},
		{"seccomp.deny", m.Seccomp.Deny, parent.Seccomp.Deny, child.Seccomp.Deny},
		{"devices.allow", m.Devices.Allow, parent.Devices.Allow, child.Devices.Allow},
		{"dbus.talk", m.DBus.Talk, parent.DBus.Talk, child.DBus.Talk},
		{"dbus.own", m.DBus.Own, parent.DBus.Own, child.DBus.Own},
		{"dbus.see", m.DBus.See, parent.DBus.See, child.DBus.See},
	}
	for _, l := range lists {
		if !slices.Equal(l.got, append(slices.Clone(l.p), l.c...)) {
			t.Fatalf("%s: Merge = %q, want parent %q then child %q", l.key, l.got, l.p, l.c)
		}
	}
	if !slices.Equal(m.Filesystem.Bind, append(slices.Clone(parent.Filesystem.Bind), child.Filesystem.Bind...)) {
		t.Fatalf("filesystem.bind: Merge = %+v, want parent %+v then child %+v", m.Filesystem.Bind, parent.Filesystem.Bind, child.Filesystem.Bind)
	}
	if !slices.Equal(m.Filesystem.Tmpfs, append(slices.Clone(parent.Filesystem.Tmpfs), child.Filesystem.Tmpfs...)) {
		t.Fatalf("filesystem.tmpfs: Merge = %+v, want parent %+v then child %+v", m.Filesystem.Tmpfs, parent.Filesystem.Tmpfs, child.Filesystem.Tmpfs)
	}
	for k, v := range parent.Env.Set {
		if _, ok := child.Env.Set[k]; !ok && m.Env.Set[k] != v {
			t.Fatalf("env.set.%s: parent's %q dropped", k, v)
		}
	}
	for k, v := range child.Env.Set {
		if m.Env.Set[k] != v {
			t.Fatalf("env.set.%s: child's %q not kept", k, v)
		}
	}
	for _, sc := range []struct{ key, got, p, c string }{
		{"app.package", m.App.Package, parent.App.Package, child.App.Package},
		{"network.mode", string(m.Network.Mode), string(parent.Network.Mode), string(child.Network.Mode)},
		{"home.mode", string(m.Home.Mode), string(parent.Home.Mode), string(child.Home.Mode)},
		{"seccomp.policy", m.Seccomp.Policy, parent.Seccomp.Policy, child.Seccomp.Policy},
	} {
		want := sc.c
		if want == "" {
			want = sc.p
		}
		if sc.got != want {
			t.Fatalf("%s: Merge = %q, want %q (parent %q, child %q)", sc.key, sc.got, want, sc.p, sc.c)
		}
	}
	// home.nr_inodes: the child's value when it sets one (even 0, which
	// Validate then refuses), else the parent's.
	if want := cmp.Or(child.Home.NrInodes, parent.Home.NrInodes); (m.Home.NrInodes == nil) != (want == nil) ||
		want != nil && *m.Home.NrInodes != *want {
		t.Fatalf("home.nr_inodes: Merge = %v, want %v (parent %v, child %v)", m.Home.NrInodes, want, parent.Home.NrInodes, child.Home.NrInodes)
	}
	// network.unsafe goes with network.mode: a parent's reason never
	// survives a child's mode.
	wantNet := parent.Network
	switch {
	case child.Network.Mode != "":
		wantNet = child.Network
	case child.Network.Unsafe != "" || child.has("network.unsafe"):
		wantNet.Unsafe = child.Network.Unsafe
	}
	if m.Network != wantNet {
		t.Fatalf("network: Merge = %+v, want %+v (parent %+v, child %+v)", m.Network, wantNet, parent.Network, child.Network)
	}
	if m.Network.Mode == NetworkHost && m.Validate() == nil && m.Pos["network.unsafe"].File != m.Pos["network.mode"].File {
		t.Fatalf("merged profile valid with mode = \"host\" from %s and its unsafe from %s", m.Pos["network.mode"].File, m.Pos["network.unsafe"].File)
	}
	if parent.Validate() == nil && child.Validate() == nil {
		if err := m.Validate(); err != nil && !crossField(m, err) {
			t.Fatalf("both inputs valid, merged profile is not: %v\nparent:\n%s\nchild:\n%s", err, a, b)
		}
	}
}

// crossField reports whether err is a rule that relates two keys, which
// two valid profiles can break together: action = "log" (found by
// FuzzMerge) or allow_multiarch = true from one and policy = "compat" from
// the other. Load refuses such
// an effective profile, which is right; the error points at whichever key
// the check names, possibly in the parent's file.
func crossField(m *Profile, err error) bool {
	var pe *Error
	if !errors.As(err, &pe) || m.Seccomp.Policy != "compat" {
		return false
	}
	return pe.Key == "seccomp.action" && m.Seccomp.Action == "log" ||
		pe.Key == "seccomp.allow_multiarch" && m.Seccomp.AllowMultiarch != nil && *m.Seccomp.AllowMultiarch
}

// checkExtendsResolution loads "b" from an in-memory library holding a
// as "a" and b as "b": it must return within a deadline, and must fail
// when the extends graph reachable from b has a cycle.
func checkExtendsResolution(t *testing.T, a, b []byte) {
	t.Helper()
	lib := fstest.MapFS{"a.toml": {Data: a}, "b.toml": {Data: b}}
	done := make(chan error, 1)
	go func() {
		_, err := (&Loader{Builtin: lib}).Load("b")
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Load did not return within 10s\na:\n%s\nb:\n%s", a, b)
	}
	if err == nil && hasCycle(lib, "b", nil) {
		t.Fatalf("Load succeeded on an extends cycle\na:\n%s\nb:\n%s", a, b)
	}
}

// hasCycle walks the extends graph from name (independently of Loader).
func hasCycle(lib fstest.MapFS, name string, stack []string) bool {
	if slices.Contains(stack, name) {
		return true
	}
	f, ok := lib[name+".toml"]
	if !ok {
		return false
	}
	p, err := Parse(name+".toml", f.Data)
	if err != nil {
		return false
	}
	for _, e := range p.Extends {
		if hasCycle(lib, e, append(stack, name)) {
			return true
		}
	}
	return false
}
