package closure

import (
	"errors"
	"strings"
	"testing"
)

const validHash = "0123456789abcdfghijklmnpqrsvwxyz"

func TestParseStorePath(t *testing.T) {
	t.Parallel()
	base := "/nix/store/" + validHash + "-hello-2.12"
	tests := []struct {
		name    string
		path    string
		wantErr bool
	}{
		{name: "valid", path: base},
		{name: "name chars", path: "/nix/store/" + validHash + "-A+z._?=-0"},
		{name: "empty", path: "", wantErr: true},
		{name: "relative", path: "nix/store/" + validHash + "-x", wantErr: true},
		{name: "other store", path: "/gnu/store/" + validHash + "-x", wantErr: true},
		{name: "subpath", path: base + "/bin/hello", wantErr: true},
		{name: "trailing slash", path: base + "/", wantErr: true},
		{name: "short hash", path: "/nix/store/" + validHash[1:] + "-x", wantErr: true},
		{name: "long hash", path: "/nix/store/a" + validHash + "-x", wantErr: true},
		{name: "uppercase hash", path: "/nix/store/" + strings.ToUpper(validHash) + "-x", wantErr: true},
		{name: "e in hash", path: "/nix/store/e" + validHash[1:] + "-x", wantErr: true},
		{name: "o in hash", path: "/nix/store/o" + validHash[1:] + "-x", wantErr: true},
		{name: "u in hash", path: "/nix/store/u" + validHash[1:] + "-x", wantErr: true},
		{name: "t in hash", path: "/nix/store/t" + validHash[1:] + "-x", wantErr: true},
		{name: "no dash", path: "/nix/store/" + validHash + "x", wantErr: true},
		{name: "empty name", path: "/nix/store/" + validHash + "-", wantErr: true},
		{name: "dot name", path: "/nix/store/" + validHash + "-.x", wantErr: true},
		{name: "dotdot name", path: "/nix/store/" + validHash + "-..", wantErr: true},
		{name: "dotdot after", path: "/nix/store/" + validHash + "-x/..", wantErr: true},
		{name: "slash in name", path: "/nix/store/" + validHash + "-a/b", wantErr: true},
		{name: "space in name", path: "/nix/store/" + validHash + "-a b", wantErr: true},
		{name: "newline in name", path: "/nix/store/" + validHash + "-a\nb", wantErr: true},
		{name: "long name", path: "/nix/store/" + validHash + "-" + strings.Repeat("a", 212), wantErr: true},
		{name: "double slash", path: "/nix//store/" + validHash + "-x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp, err := ParseStorePath(tc.path)
			if tc.wantErr {
				if !errors.Is(err, ErrPathInvalid) {
					t.Fatalf("ParseStorePath(%q) = %v, %v, want ErrPathInvalid", tc.path, sp, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStorePath(%q) = %v", tc.path, err)
			}
			if sp.String() != tc.path {
				t.Fatalf("ParseStorePath(%q).String() = %q", tc.path, sp.String())
			}
		})
	}
}

func TestStorePathOf(t *testing.T) {
	t.Parallel()
	root := "/nix/store/" + validHash + "-pkg"
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr bool
	}{
		{name: "root", path: root, want: root},
		{name: "file", path: root + "/bin/x", want: root},
		{name: "dotdot", path: root + "/bin/../x", wantErr: true},
		{name: "dot", path: root + "/./x", wantErr: true},
		{name: "double slash", path: root + "//x", wantErr: true},
		{name: "trailing slash", path: root + "/", wantErr: true},
		{name: "outside", path: "/usr/bin/x", wantErr: true},
		{name: "store dir", path: "/nix/store", wantErr: true},
		{name: "bad root", path: "/nix/store/" + validHash + "-.x/bin", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := StorePathOf(tc.path)
			if tc.wantErr {
				if !errors.Is(err, ErrPathInvalid) {
					t.Fatalf("StorePathOf(%q) = %q, %v, want ErrPathInvalid", tc.path, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("StorePathOf(%q) = %q, %v, want %q", tc.path, got, err, tc.want)
			}
		})
	}
}
