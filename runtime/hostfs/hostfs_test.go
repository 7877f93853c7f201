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
