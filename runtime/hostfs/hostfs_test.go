package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckNoSymlinks(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a/b"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "a/link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel  string
		want error
	}{
		{"a/b", nil},
		{"a/b/missing/deeper", nil},
		{"missing", nil},
		{"a/link", ErrSymlink},
		{"a/link/x", ErrSymlink},
	} {
		if err := CheckNoSymlinks(root, tc.rel); !errors.Is(err, tc.want) {
			t.Errorf("CheckNoSymlinks(%q) = %v, want %v", tc.rel, err, tc.want)
		}
	}
	if err := CheckNoSymlinks(root, "a/../b"); err == nil {
		t.Error("'..' accepted")
	}
}

func TestEnsureAppHomeRefusesSymlink(t *testing.T) {
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "nixbox/app"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(data, "nixbox/app/home")); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureAppHome(data, "app", os.Getuid()); !errors.Is(err, ErrSymlink) {
		t.Fatalf("EnsureAppHome through a planted symlink = %v, want ErrSymlink", err)
	}
	if dir, err := EnsureAppHome(data, "other", os.Getuid()); err != nil || filepath.Base(dir) != "home" {
		t.Fatalf("EnsureAppHome = %q, %v", dir, err)
	}
}

func TestOpenSource(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) string {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(full, 0o700); err != nil {
			t.Fatal(err)
		}
		return full
	}
	real := mk("real/dir")
	if err := os.Symlink(real, filepath.Join(root, "last")); err != nil {
		t.Fatal(err)
	}
	mk("via")
	if err := os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "via/link")); err != nil {
		t.Fatal(err)
	}
	me := os.Getuid()
	other := me + 12345
	for _, tc := range []struct {
		name, path string
		uid        int
		want       error
		resolved   string
	}{
		{"plain", real, me, nil, real},
		{"symlink as last component", filepath.Join(root, "last"), other, ErrSymlink, ""},
		{"symlink in a dir the user owns", filepath.Join(root, "via/link/dir"), me, ErrSymlink, ""},
		{"symlink in a dir the user cannot write", filepath.Join(root, "via/link/dir"), other, nil, real},
		{"missing", filepath.Join(root, "nope"), me, ErrSourceMissing, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, resolved, err := OpenSource(tc.path, tc.uid)
			if !errors.Is(err, tc.want) {
				t.Fatalf("OpenSource = %v, want %v", err, tc.want)
			}
			if err == nil {
				defer f.Close()
				if resolved != tc.resolved {
					t.Fatalf("resolved %q, want %q", resolved, tc.resolved)
				}
				var a, b os.FileInfo
				a, _ = os.Stat(tc.resolved)
				b, _ = f.Stat()
				if !os.SameFile(a, b) {
					t.Fatal("descriptor is not the resolved object")
				}
			}
		})
	}
}
