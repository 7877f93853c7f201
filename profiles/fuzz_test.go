package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks the parser's contract on arbitrary input: no panic, a
// profile or an error but never both, and a profile that passes Validate
// has only absolute-or-expandable, clean, non-reserved binds.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.toml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
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
		for _, b := range p.Filesystem.Bind {
			checkFuzzPath(t, b.Source)
			if b.Dest != "" {
				checkFuzzPath(t, b.Dest)
			}
		}
		for _, s := range append(append([]string(nil), p.Filesystem.RO...), p.Filesystem.RW...) {
			checkFuzzPath(t, s)
		}
		for _, m := range p.Filesystem.Tmpfs {
			checkFuzzPath(t, m.Dest)
		}
	})
}

func checkFuzzPath(t *testing.T, s string) {
	t.Helper()
	exp, err := ExpandPath(s, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, "/home/u")
	if err != nil {
		t.Fatalf("valid path %q does not expand: %v", s, err)
	}
	if !strings.HasPrefix(exp, "/") || strings.Contains(exp+"/", "/../") || strings.Contains(exp, "//") {
		t.Fatalf("valid path %q expands to %q", s, exp)
	}
	if IsReservedDest(exp) {
		t.Fatalf("valid path %q expands to reserved %q", s, exp)
	}
}
