package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// module is the import path of the module under test.
const module = "github.com/nixbox/nixbox"

// pkg is the part of `go list -json` the tests read.
type pkg struct {
	ImportPath string
	Name       string
	Dir        string
	Doc        string
	Standard   bool
	GoFiles    []string
	CgoFiles   []string
	Imports    []string
	// TestImports and XTestImports are the imports of its _test.go files.
	TestImports  []string
	XTestImports []string
	Incomplete   bool
	Error        *struct{ Err string }
	DepsErrors   []*struct{ Err string }
}

// goTool returns the go command of the toolchain running the tests, or
// the one on PATH (the Nix build puts go on PATH; a -trimpath test binary
// may not know its GOROOT).
func goTool(t *testing.T) string {
	t.Helper()
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command (GOROOT %q, PATH %q): %v", runtime.GOROOT(), os.Getenv("PATH"), err)
	}
	return p
}

// goList runs `go list -e -json args...` at the module root with the
// extra environment env and decodes the stream of packages.
func goList(t *testing.T, env []string, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command(goTool(t), append([]string{"list", "-e", "-json"}, args...)...)
	cmd.Dir = ".." // the module root
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", strings.Join(env, " "), strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %s: no packages", strings.Join(args, " "))
	}
	return pkgs
}

// rel returns path relative to the module ("runtime/specgen"), or path
// unchanged if it is outside the module.
func rel(path string) string {
	if path == module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return path
}

// ours reports whether path is a package of this module.
func ours(path string) bool {
	return path == module || strings.HasPrefix(path, module+"/")
}
