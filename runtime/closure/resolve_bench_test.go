package closure

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Benchmarks of Resolve on the real Nix database, for `make bench`
// (issue 6; host-facts §3.3, §7.4). They need the store fixtures of
// scripts/build-fixtures.sh and skip, saying why, without them. Never turn
// their numbers into assertions: they are for people and docs/benchmarks.md.
//
//	NIXBOX_FIXTURES=build/fixtures.env go test -run '^$' -bench Resolve500 ./runtime/closure/

// benchRoot returns the store path of fixture key, from the env file named
// by NIXBOX_FIXTURES (default: the repository's build/fixtures.env).
func benchRoot(b *testing.B, key string, want int) string {
	b.Helper()
	// The unit tests point the on-disk checks at a fake store; these
	// benchmarks read the real one.
	saved := testOnlyRootDir
	testOnlyRootDir = ""
	b.Cleanup(func() { testOnlyRootDir = saved })
	file := os.Getenv("NIXBOX_FIXTURES")
	if file == "" {
		file = filepath.Join("..", "..", "build", "fixtures.env")
	}
	f, err := os.Open(file)
	if err != nil {
		b.Skipf("SKIP (loudly): no store fixtures, run scripts/build-fixtures.sh or set NIXBOX_FIXTURES: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			// Check once, outside the timer, that this really is the
			// DB path of a closure of the expected size: a fallback to
			// nix-store or a wrong fixture would time something else.
			c, err := Resolve(context.Background(), []string{v}, benchOptions(""))
			if err != nil {
				b.Skipf("SKIP (loudly): resolving %s=%s from the Nix DB: %v", key, v, err)
			}
			if len(c.Paths) != want {
				b.Fatalf("closure(%s) has %d paths, want %d", key, len(c.Paths), want)
			}
			return v
		}
	}
	b.Skipf("SKIP (loudly): %s has no %s= line: rebuild the fixtures", file, key)
	return ""
}

// benchOptions reads the DB as nixbox does; nix-store is pointed at a
// missing file so a DB failure is an error, never a silent fallback.
func benchOptions(cacheDir string) Options {
	return Options{
		NixStore: "/nonexistent/nix-store",
		CacheDir: cacheDir,
		IsRoot:   os.Geteuid() == 0,
	}
}

// BenchmarkResolve500Uncached: open the DB, run the recursive query,
// validate and sort the 500 paths (members are not looked at on disk:
// nixbox-init does that); what the first start of an app costs.
func BenchmarkResolve500Uncached(b *testing.B) {
	root := benchRoot(b, "APP500", 500)
	opts := benchOptions("")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resolve(ctx, []string{root}, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolve500Cached: read the cache entry, validate its 500 paths
// and Lstat the root; what every later start costs.
func BenchmarkResolve500Cached(b *testing.B) {
	root := benchRoot(b, "APP500", 500)
	dir := b.TempDir()
	opts := benchOptions(dir)
	ctx := context.Background()
	if _, err := Resolve(ctx, []string{root}, opts); err != nil {
		b.Fatal(err)
	}
	if _, ok := readCache(dir, root); !ok {
		b.Fatalf("no usable cache entry in %s after a first Resolve: this would time the uncached path", dir)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resolve(ctx, []string{root}, opts); err != nil {
			b.Fatal(err)
		}
	}
}
