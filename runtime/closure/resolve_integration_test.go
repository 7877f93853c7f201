//go:build integration

package closure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// These tests compare Resolve with nix-store -qR on the real fixtures of
// scripts/build-fixtures.sh, as root and as the unprivileged nixbox-test
// user. Run: go test -tags integration ./runtime/closure/

const helperEnv = "NIXBOX_CLOSURE_HELPER_ROOT"

// init turns the test binary into a helper when re-executed as another
// user: resolve one root (not as root) and print the closure as JSON.
func init() {
	root := os.Getenv(helperEnv)
	if root == "" {
		return
	}
	c, err := Resolve(context.Background(), []string{root}, Options{NixStore: "/nonexistent/nix-store"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(c)
	os.Exit(0)
}

// skipOrFail skips with a reason, or fails under CI=true (style §8.7).
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, cannot skip: %s", reason)
	}
	t.Skip(reason)
}

func loadFixtures(t *testing.T) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "requires root (nix-store -qR on a single-user store)")
	}
	data, err := os.ReadFile("../../build/fixtures.json")
	if err != nil {
		skipOrFail(t, "no fixtures: run scripts/build-fixtures.sh ("+err.Error()+")")
	}
	var fx map[string]string
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

func nixStoreQR(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("nix-store", "--query", "--requisites", "--", root).Output()
	if err != nil {
		t.Fatalf("nix-store -qR %s: %v", root, err)
	}
	paths := strings.Fields(string(out))
	sort.Strings(paths)
	return paths
}

var integrationKeys = []string{"APP500", "APP10", "COREUTILS", "BASH", "PYTHON3", "CURL", "DEMO", "EVIL_APP"}

func TestIntegrationResolveAsRoot(t *testing.T) {
	fx := loadFixtures(t)
	saved := testOnlyRootDir
	testOnlyRootDir = ""
	t.Cleanup(func() { testOnlyRootDir = saved })

	for _, k := range integrationKeys {
		root := fx[k]
		got, err := Resolve(context.Background(), []string{root}, Options{IsRoot: true, NixStore: "/nonexistent/nix-store"})
		if err != nil {
			t.Fatalf("%s: Resolve() = %v", k, err)
		}
		if diff := cmp.Diff(nixStoreQR(t, root), got.Paths); diff != "" {
			t.Errorf("%s: Resolve() vs nix-store -qR (-want +got):\n%s", k, diff)
		}
	}
	if n := len(mustResolve(t, fx["APP500"]).Paths); n != 500 {
		t.Errorf("closure(APP500) has %d paths, want 500", n)
	}
	// A member that is a symlink is a member like any other: nixbox-init
	// finds out what it is (cmd/nixbox-init/store.go).
	evil := mustResolve(t, fx["EVIL_APP"])
	if i := sort.SearchStrings(evil.Paths, fx["EVIL_SYMLINK"]); i == len(evil.Paths) || evil.Paths[i] != fx["EVIL_SYMLINK"] {
		t.Errorf("closure(EVIL_APP) = %q, want EVIL_SYMLINK in it", evil.Paths)
	}

	// The cache gives the same answer on a hit.
	cache := t.TempDir()
	for i := 0; i < 2; i++ {
		got, err := Resolve(context.Background(), []string{fx["APP500"]}, Options{IsRoot: true, CacheDir: cache})
		if err != nil || len(got.Paths) != 500 {
			t.Fatalf("cached Resolve() #%d = %d paths, %v", i, len(got.Paths), err)
		}
	}

	// A path on disk that the DB doesn't list is invalid.
	if _, err := Resolve(context.Background(), []string{"/nix/store/00000000000000000000000000000000-none"},
		Options{IsRoot: true}); err == nil {
		t.Error("Resolve() of an unregistered path succeeded")
	}
}

func mustResolve(t *testing.T, root string) Closure {
	t.Helper()
	c, err := Resolve(context.Background(), []string{root}, Options{IsRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIntegrationResolveAsUser(t *testing.T) {
	fx := loadFixtures(t)
	u, err := user.Lookup("nixbox-test")
	if err != nil {
		skipOrFail(t, "no nixbox-test user: run scripts/setup-host.sh")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// The go test binary lives in a 0700 dir: copy it where the user can
	// run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "closure-integration-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "closure.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, k := range integrationKeys {
		root := fx[k]
		cmd := exec.Command(bin)
		cmd.Dir = dir
		cmd.Env = []string{helperEnv + "=" + root, "HOME=" + u.HomeDir, "PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s as nixbox-test: %v: %s", k, err, stderr.String())
		}
		var got Closure
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(nixStoreQR(t, root), got.Paths); diff != "" {
			t.Errorf("%s as nixbox-test: Resolve() vs nix-store -qR (-want +got):\n%s", k, diff)
		}
	}
}
