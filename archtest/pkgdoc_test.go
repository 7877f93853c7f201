package archtest

import (
	"slices"
	"strings"
	"testing"
)

// TestPackageDocs fails if a package of the module has no package doc
// comment (style.md §6, §7; model: tailscale's pkgdoc_test.go). A library
// package keeps it in doc.go and it reads "Package <name> ..."; a command
// reads "Command <name> ...".
func TestPackageDocs(t *testing.T) {
	// Every build tag in use, so that no package is missed.
	for _, p := range goList(t, nil, "-tags", "seccomp integration", "./...") {
		t.Run(rel(p.ImportPath), func(t *testing.T) {
			if p.Error != nil {
				t.Fatalf("go list: %s", p.Error.Err)
			}
			if p.Doc == "" {
				t.Fatalf("package %s has no doc comment; add one in doc.go", p.ImportPath)
			}
			want := "Package " + p.Name + " "
			if p.Name == "main" {
				want = "Command " + lastElem(p.ImportPath) + " "
			}
			if !strings.HasPrefix(p.Doc, want) {
				t.Errorf("doc comment of %s = %q, want it to start with %q", p.ImportPath, p.Doc, want)
			}
			if p.Name != "main" && !slices.Contains(p.GoFiles, "doc.go") {
				t.Errorf("package %s has no doc.go; its package comment lives there (style.md §6)", p.ImportPath)
			}
		})
	}
}

func lastElem(path string) string {
	return path[strings.LastIndex(path, "/")+1:]
}
