package appres

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixbox/nixbox/runtime/closure"
)

func sp(c, name string) string { return "/nix/store/" + strings.Repeat(c, 32) + "-" + name }

var (
	pHello   = sp("a", "hello")
	pTools   = sp("b", "tools")
	pProfile = sp("c", "profile")
	pEmpty   = sp("d", "empty")
	pEvil    = sp("f", "evil")
	pWrap    = sp("g", "wrapper")
	pLinkOut = sp("h", "symlink-output") // a member that is a symlink
)

// TestMain builds a fake filesystem: a store with packages and a PATH dir
// outside it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "appres-test-")
	if err != nil {
		panic(err)
	}
	testOnlyRootDir = dir
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	file := func(p string, mode os.FileMode) {
		must(os.MkdirAll(filepath.Dir(dir+p), 0o755))
		must(os.WriteFile(dir+p, []byte("#!/bin/true\n"), mode))
	}
	link := func(p, target string) {
		must(os.MkdirAll(filepath.Dir(dir+p), 0o755))
		must(os.Symlink(target, dir+p))
	}
	file(pHello+"/bin/hello", 0o555)
	file(pTools+"/bin/tools", 0o555)
	file(pTools+"/bin/other", 0o555)
	file(pTools+"/share/data", 0o444)
	file(pTools+"/libexec/run", 0o555)
	must(os.MkdirAll(dir+pTools+"/bin/subdir", 0o755))
	must(os.MkdirAll(dir+pEmpty+"/bin", 0o755))
	link(pProfile+"/bin/hello", pHello+"/bin/hello")
	link(pWrap+"/bin/rel", "../../"+filepath.Base(pHello)+"/bin/hello")
	link(pEvil+"/bin/evil", "/usr/bin/true")
	link(pEvil+"/bin/escape", "../../../../usr/bin/true")
	link(pEvil+"/bin/dangling", pHello+"/bin/none")
	link(pLinkOut, pHello)
	file("/usr/bin/true", 0o755)
	link("/home/u/.nix-profile", pProfile)
	link("/home/u/bin/hello", "/home/u/.nix-profile/bin/hello")
	link("/home/u/bin/true", "/usr/bin/true")
	link("/home/u/bin/gone", "/nonexistent")
	link("/home/u/bin/escape", pEvil+"/bin/evil")
	must(os.WriteFile(dir+"/list", []byte(pTools+"\n"+pHello+"\n"), 0o644))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestResolve(t *testing.T) {
	t.Parallel()
	const path = "relative:/home/u/bin::/usr/bin"
	tests := []struct {
		name                       string
		pkg, command, profile, env string
		want                       Target
		wantErr                    error
	}{
		{name: "store path, only bin entry", pkg: pHello, want: Target{pHello, pHello + "/bin/hello"}},
		{name: "store path, profile name", pkg: pTools, profile: "tools", want: Target{pTools, pTools + "/bin/tools"}},
		{name: "store path, ambiguous bin", pkg: pTools, profile: "nope", wantErr: ErrCommandNotFound},
		{name: "store path, empty bin", pkg: pEmpty, wantErr: ErrCommandNotFound},
		{name: "store path, relative command", pkg: pTools, command: "libexec/run", want: Target{pTools, pTools + "/libexec/run"}},
		{name: "relative dotdot", pkg: pTools, command: "../" + filepath.Base(pHello) + "/bin/hello", wantErr: ErrOutsideStore},
		{name: "absolute in store", pkg: pTools, command: pHello + "/bin/hello", want: Target{pTools, pHello + "/bin/hello"}},
		{name: "absolute outside store", pkg: pTools, command: "/usr/bin/true", wantErr: ErrOutsideStore},
		{name: "absolute unclean", pkg: pTools, command: pHello + "/bin/../bin/hello", wantErr: ErrOutsideStore},
		{name: "missing command", pkg: pTools, command: "bin/none", wantErr: ErrCommandNotFound},
		{name: "not executable", pkg: pTools, command: "share/data", wantErr: ErrNotExecutable},
		{name: "directory", pkg: pTools, command: "bin/subdir", wantErr: ErrNotExecutable},
		{name: "link within store", pkg: pProfile, want: Target{pProfile, pHello + "/bin/hello"}},
		{name: "relative link within store", pkg: pWrap, want: Target{pWrap, pHello + "/bin/hello"}},
		{name: "link leaves store", pkg: pEvil, command: "bin/evil", wantErr: ErrOutsideStore},
		{name: "relative link leaves store", pkg: pEvil, command: "bin/escape", wantErr: ErrOutsideStore},
		{name: "dangling link", pkg: pEvil, command: "bin/dangling", wantErr: ErrCommandNotFound},
		{name: "malformed store path", pkg: pHello + "/bin", wantErr: closure.ErrPathInvalid},
		{name: "store path not on disk", pkg: sp("h", "none"), wantErr: os.ErrNotExist},
		{name: "PATH lookup", pkg: "hello", env: path, want: Target{pHello, pHello + "/bin/hello"}},
		{name: "PATH lookup, other command", pkg: "hello", command: "bin/hello", env: path, want: Target{pHello, pHello + "/bin/hello"}},
		{name: "PATH lookup ends outside store", pkg: "true", env: path, wantErr: ErrOutsideStore},
		{name: "PATH lookup, store link leaves store", pkg: "escape", env: path, wantErr: ErrOutsideStore},
		{name: "PATH lookup, missing", pkg: "nope", env: path, wantErr: ErrCommandNotFound},
		{name: "PATH lookup, dangling", pkg: "gone", env: path, wantErr: ErrCommandNotFound},
		{name: "PATH lookup, relative dirs ignored", pkg: "hello", env: "home/u/bin", wantErr: ErrCommandNotFound},
		{name: "pkg with slash", pkg: "bin/hello", wantErr: ErrCommandNotFound},
		{name: "closureinfo", pkg: "closureinfo:/list", profile: "tools", want: Target{pTools, pTools + "/bin/tools"}},
		{name: "closureinfo missing", pkg: "closureinfo:/nolist", wantErr: os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Resolve(tc.pkg, tc.command, tc.profile, tc.env)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Resolve() = %+v, %v, want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve() = %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCheckIn(t *testing.T) {
	t.Parallel()
	c := closure.Closure{Paths: []string{pEvil, pHello, pTools, pLinkOut, pEmpty + "-gone"}}
	tests := []struct {
		name    string
		exec    string
		wantErr bool
	}{
		{name: "member", exec: pHello + "/bin/hello"},
		{name: "not a member", exec: pProfile + "/bin/hello", wantErr: true},
		{name: "symlink member", exec: pLinkOut + "/bin/hello", wantErr: true},
		{name: "member missing on disk", exec: pEmpty + "-gone/bin/x", wantErr: true},
		{name: "outside store", exec: "/usr/bin/true", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Target{Root: pTools, Exec: tc.exec}.CheckIn(c)
			if tc.wantErr != errors.Is(err, closure.ErrNotInClosure) || (!tc.wantErr && err != nil) {
				t.Fatalf("CheckIn(%q) = %v, wantErr %v", tc.exec, err, tc.wantErr)
			}
		})
	}
}
