//go:build integration

package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestingPolicy is the allow-all seccomp policy that exists only in nixbox
// binaries built with the nixbox_testing tag (seccomp/testing_on.go).
const TestingPolicy = "testing-allow-all"

var noSeccomp struct {
	once sync.Once
	path string
	err  error
	out  string
}

// NoSeccompNixbox returns the "no-seccomp test build" of the security suite
// (§3, cases 21, 27, 33): nixbox built with -tags 'seccomp libsqlite3
// nixbox_testing', whose profiles may name TestingPolicy. It is built once,
// from this checkout, next to the copy of nixbox-init in WorkDir/bin (nixbox
// finds nixbox-init next to itself). Release builds (`make build`) never
// carry the tag. A failed build fails the test: it is never skipped.
func NoSeccompNixbox(t testing.TB) string {
	t.Helper()
	noSeccomp.once.Do(func() {
		p := filepath.Join(WorkDir, "bin", "nixbox-testing")
		c := exec.Command("go", "build", "-tags", "seccomp libsqlite3 nixbox_testing", "-o", p, "github.com/nixbox/nixbox/cmd/nixbox")
		c.Env = append(os.Environ(), "CGO_ENABLED=1")
		out, err := c.CombinedOutput()
		noSeccomp.path, noSeccomp.err, noSeccomp.out = p, err, strings.TrimSpace(string(out))
	})
	if noSeccomp.err != nil {
		t.Fatalf("building the no-seccomp test build (go build -tags nixbox_testing ./cmd/nixbox): %v\n%s", noSeccomp.err, noSeccomp.out)
	}
	return noSeccomp.path
}

// NoSeccomp runs f once per identity (root and rootless) in sandboxes of
// the no-seccomp test build under TestingPolicy, each a parallel subtest
// with the host invariants checked after it, like Matrix. The strict and
// compat cells do not matter here: no policy filters anything.
func NoSeccomp(t *testing.T, f func(t *testing.T, e *Env)) {
	t.Helper()
	bin := NoSeccompNixbox(t)
	rootSentinel := StartSentinel(t, os.Getuid(), os.Getgid())
	for _, id := range identities(t) {
		t.Run(id.name+"/no-seccomp", func(t *testing.T) {
			t.Parallel()
			r := NewRunner(t, id.name, id.uid, id.gid)
			e := &Env{R: r, Policy: TestingPolicy, Root: id.uid == 0, Bin: bin}
			e.HomeCanaries = r.HomeCanaries(t)
			before := Mountinfo(t)
			f(t, e)
			e.CheckHost(t, before, rootSentinel)
		})
	}
}
