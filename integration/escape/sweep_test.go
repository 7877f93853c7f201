//go:build integration

package escape

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	h "github.com/nixbox/nixbox/integration/harness"
)

var update = flag.Bool("update", false, "rewrite the case-35 golden sweep tables")

var goldenMu sync.Mutex

// TestCase35_SyscallSweep: every x86_64, x32 and i386 number up to the
// known maximum + 32, called with all arguments 1 in a forked child
// (side-effecting calls skipped), matches the checked-in golden table of
// the policy (testdata/sweep-<policy>.golden; the only per-policy
// difference of the suite). Root and rootless must give the same table.
// Rewrite with -update after an intended policy change.
// Src: runc patchbpf; bubblewrap test-seccomp.py.
func TestCase35_SyscallSweep(t *testing.T) {
	h.Matrix(t, func(t *testing.T, e *h.Env) {
		var lines []string
		for _, abi := range []string{"x86_64", "x32", "i386"} {
			res := e.Probe(t, "", "sweep", abi)
			if res.Code != 0 {
				t.Fatalf("sweep %s: %s", abi, res)
			}
			for _, l := range h.Lines(t, res) {
				// getgroups(1, 1) depends on the runner's group count.
				if l.Case == "x86_64-115" || l.Case == "i386-80" || l.Case == "i386-205" {
					continue
				}
				lines = append(lines, fmt.Sprintf("%s %d %d", l.Case, l.Errno, l.Signal))
			}
		}
		sort.Strings(lines)
		got := strings.Join(lines, "\n") + "\n"
		path := filepath.Join("testdata", "sweep-"+e.Policy+".golden")
		if *update && e.Root {
			goldenMu.Lock()
			defer goldenMu.Unlock()
			_ = os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("golden %s missing (run with -update): %v", path, err)
		}
		if got != string(want) {
			wl := map[string]bool{}
			for _, l := range strings.Split(string(want), "\n") {
				wl[l] = true
			}
			n := 0
			for _, l := range lines {
				if !wl[l] && n < 40 {
					t.Errorf("sweep differs from %s: got %q", path, l)
					n++
				}
			}
		}
	})
}
