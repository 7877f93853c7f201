package closure

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sp returns a fake store path whose hash is c repeated.
func sp(c, name string) string {
	return "/nix/store/" + strings.Repeat(c, 32) + "-" + name
}

var (
	pApp  = sp("a", "app")
	pLib  = sp("b", "lib")
	pLibc = sp("c", "glibc")
	pLink = sp("d", "evil-symlink")
	pData = sp("f", "data")
	pGone = sp("g", "not-registered")
)

// refs is the fixture graph: app → lib, glibc, evil-symlink; lib → glibc.
var refs = map[string][]string{
	pApp:  {pLib, pLibc, pLink, pApp}, // a self-reference, as Nix records
	pLib:  {pLibc},
	pLibc: nil,
	pLink: nil,
	pData: nil,
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "closure-test-")
	if err != nil {
		panic(err)
	}
	// A fake store on disk: directories, plus a symlink member.
	testOnlyRootDir = dir
	for p := range refs {
		if p == pLink {
			continue
		}
		if err := os.MkdirAll(dir+p, 0o755); err != nil {
			panic(err)
		}
	}
	if err := os.Symlink("/etc", dir+pLink); err != nil {
		panic(err)
	}
	if err := os.MkdirAll(dir+pGone, 0o755); err != nil { // on disk, not in the DB
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// row is an extra ValidPaths row for writeDB: path is the value stored
// (a string, or anything else to test odd rows), refs the fixture paths it
// references, referrers the fixture paths that reference it. dup stores a
// second row with the same path (the test schema has no UNIQUE).
type row struct {
	path            any
	refs, referrers []string
	dup             bool
	// noRow stores no ValidPaths row: only the references from
	// referrers, to an id that no row has.
	noRow bool
}

// writeDB creates a Nix-schema database holding refs and the extra rows.
// Its path column is neither NOT NULL nor UNIQUE, so that odd rows can be
// stored.
func writeDB(t *testing.T, extra ...row) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`CREATE TABLE ValidPaths (id integer primary key autoincrement not null,
		  path text, hash text not null, registrationTime integer not null,
		  deriver text, narSize integer, ultimate integer, sigs text, ca text)`,
		`CREATE TABLE Refs (referrer integer not null, reference integer not null,
		  primary key (referrer, reference))`,
		`CREATE INDEX IndexReferrer ON Refs(referrer)`,
		`CREATE INDEX IndexReference ON Refs(reference)`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]int64{}
	for p := range refs {
		res, err := db.Exec(`INSERT INTO ValidPaths (path, hash, registrationTime, narSize) VALUES (?, 'sha256:0', 1, 1)`, p)
		if err != nil {
			t.Fatal(err)
		}
		ids[p], _ = res.LastInsertId()
	}
	for p, rs := range refs {
		for _, r := range rs {
			if _, err := db.Exec(`INSERT INTO Refs VALUES (?, ?)`, ids[p], ids[r]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range extra {
		n := 1
		if e.dup {
			n = 2
		}
		for i := 0; i < n; i++ {
			id := int64(1 << 40)
			if !e.noRow {
				res, err := db.Exec(`INSERT INTO ValidPaths (path, hash, registrationTime, narSize) VALUES (?, 'sha256:0', 1, 1)`, e.path)
				if err != nil {
					t.Fatal(err)
				}
				id, _ = res.LastInsertId()
			}
			if p, ok := e.path.(string); ok && i == 0 {
				ids[p] = id
			}
			for _, r := range e.refs {
				if _, err := db.Exec(`INSERT INTO Refs VALUES (?, ?)`, id, ids[r]); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range e.referrers {
				if _, err := db.Exec(`INSERT INTO Refs VALUES (?, ?)`, ids[r], id); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return path
}

// fakeNixStore writes an executable that checks its argv and prints out.
func fakeNixStore(t *testing.T, root, out string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nix-store")
	script := `#!/bin/sh
[ "$1 $2 $3 $4" = "--query --requisites -- ` + root + `" ] || { echo "bad argv: $*" >&2; exit 3; }
[ $# -eq 4 ] || exit 3
printf '%s' '` + out + `'
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolve(t *testing.T) {
	t.Parallel()
	db := writeDB(t)
	noNixStore := filepath.Join(t.TempDir(), "missing-nix-store")
	tests := []struct {
		name    string
		roots   []string
		opts    Options
		want    Closure
		wantErr error
	}{
		{
			name:  "leaf",
			roots: []string{pLibc},
			opts:  Options{DBPath: db, NixStore: noNixStore},
			want:  Closure{Roots: []string{pLibc}, Paths: []string{pLibc}},
		},
		{
			name:  "app with symlink member",
			roots: []string{pApp},
			opts:  Options{DBPath: db, NixStore: noNixStore},
			want:  Closure{Roots: []string{pApp}, Paths: []string{pApp, pLib, pLibc, pLink}},
		},
		{
			name:  "union of roots",
			roots: []string{pData, pLib},
			opts:  Options{DBPath: db, NixStore: noNixStore, IsRoot: true},
			want:  Closure{Roots: []string{pData, pLib}, Paths: []string{pLib, pLibc, pData}},
		},
		{
			name:    "no roots",
			opts:    Options{DBPath: db, NixStore: noNixStore},
			wantErr: ErrPathInvalid,
		},
		{
			name:    "malformed root",
			roots:   []string{pApp + "/bin/app"},
			opts:    Options{DBPath: db, NixStore: noNixStore},
			wantErr: ErrPathInvalid,
		},
		{
			name:    "on disk but not valid in the DB",
			roots:   []string{pGone},
			opts:    Options{DBPath: db, NixStore: noNixStore},
			wantErr: ErrPathInvalid,
		},
		{
			name:    "not valid, nix-store agrees",
			roots:   []string{pGone},
			opts:    Options{DBPath: db, NixStore: "/bin/false"},
			wantErr: ErrPathInvalid,
		},
		{
			name:  "stale DB view, nix-store knows the root",
			roots: []string{pGone},
			opts:  Options{DBPath: db, NixStore: fakeNixStore(t, pGone, pGone+"\n"+pLibc+"\n")},
			want:  Closure{Roots: []string{pGone}, Paths: []string{pLibc, pGone}},
		},
		{
			name:    "no DB, no nix-store",
			roots:   []string{pApp},
			opts:    Options{DBPath: filepath.Join(t.TempDir(), "none.sqlite"), NixStore: noNixStore},
			wantErr: ErrDBUnavailable,
		},
		{
			name:  "no DB, nix-store answers",
			roots: []string{pLib},
			opts:  Options{DBPath: filepath.Join(t.TempDir(), "none.sqlite"), NixStore: fakeNixStore(t, pLib, pLib+"\n"+pLibc+"\n")},
			want:  Closure{Roots: []string{pLib}, Paths: []string{pLib, pLibc}},
		},
		{
			name:    "nix-store prints garbage",
			roots:   []string{pLib},
			opts:    Options{DBPath: filepath.Join(t.TempDir(), "none.sqlite"), NixStore: fakeNixStore(t, pLib, "../../etc\n")},
			wantErr: ErrPathInvalid,
		},
		{
			name:    "relative nix-store",
			roots:   []string{pLib},
			opts:    Options{DBPath: filepath.Join(t.TempDir(), "none.sqlite"), NixStore: "nix-store"},
			wantErr: ErrDBUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Resolve(context.Background(), tc.roots, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Resolve() = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Resolve() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveCache(t *testing.T) {
	t.Parallel()
	db := writeDB(t)
	cache := filepath.Join(t.TempDir(), "cache")
	noDB := Options{DBPath: filepath.Join(t.TempDir(), "none.sqlite"), NixStore: "/bin/false", CacheDir: cache}
	want := Closure{Roots: []string{pLib}, Paths: []string{pLib, pLibc}}

	if _, err := Resolve(context.Background(), []string{pLib}, noDB); !errors.Is(err, ErrDBUnavailable) {
		t.Fatalf("Resolve() with no DB and an empty cache = %v, want ErrDBUnavailable", err)
	}
	got, err := Resolve(context.Background(), []string{pLib}, Options{DBPath: db, NixStore: "/bin/false", CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Resolve() mismatch (-want +got):\n%s", diff)
	}
	entry := filepath.Join(cache, strings.Repeat("b", 32)+".closure")
	fi, err := os.Stat(entry)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache entry mode = %v, want 0600", fi.Mode().Perm())
	}

	// Served from the cache alone.
	got, err = Resolve(context.Background(), []string{pLib}, noDB)
	if err != nil {
		t.Fatalf("Resolve() from cache = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Resolve() from cache mismatch (-want +got):\n%s", diff)
	}

	// Malformed or stale entries are ignored.
	good, _ := os.ReadFile(entry)
	if want := cacheMagic + " " + pLib + " 2\n" + pLib + "\n" + pLibc + "\n"; string(good) != want {
		t.Fatalf("cache entry = %q, want %q", good, want)
	}
	bad := map[string]string{
		"garbage":           "hello\n",
		"v2 format":         "nixbox-closure-v2 " + pLib + " 2\np " + pLib + "\np " + pLibc + "\n",
		"v2 magic":          strings.Replace(string(good), "-v3 ", "-v2 ", 1),
		"wrong root":        strings.Replace(string(good), pLib+" ", pLibc+" ", 1),
		"wrong count":       strings.Replace(string(good), " 2\n", " 3\n", 1),
		"huge count":        strings.Replace(string(good), " 2\n", " 99999999999\n", 1),
		"bad path":          strings.Replace(string(good), " 2\n", " 3\n", 1) + "/etc/passwd\n",
		"kind prefix":       strings.Replace(string(good), "\n"+pLibc, "\np "+pLibc, 1),
		"symlink line":      strings.Replace(string(good), "\n"+pLibc, "\ns "+pLibc+` "/etc"`, 1),
		"no final newline":  strings.TrimSuffix(string(good), "\n"),
		"empty line":        string(good) + "\n",
		"duplicate":         strings.Replace(string(good), " 2\n", " 3\n", 1) + pLibc + "\n",
		"unsorted":          cacheMagic + " " + pLib + " 2\n" + pLibc + "\n" + pLib + "\n",
		"root not a member": cacheMagic + " " + pLib + " 1\n" + pLibc + "\n",
	}
	for name, content := range bad {
		if err := os.WriteFile(entry, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Resolve(context.Background(), []string{pLib}, noDB); !errors.Is(err, ErrDBUnavailable) {
			t.Errorf("%s: Resolve() = %v, want ErrDBUnavailable (entry ignored)", name, err)
		}
	}

	// A well-formed entry whose root is gone from disk (collected) is
	// ignored: the cache never serves a root that does not exist.
	gone := sp("h", "collected")
	goneEntry := filepath.Join(cache, strings.Repeat("h", 32)+".closure")
	if err := os.WriteFile(goneEntry, []byte(cacheMagic+" "+gone+" 1\n"+gone+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(context.Background(), []string{gone}, noDB); !errors.Is(err, ErrDBUnavailable) {
		t.Errorf("root not on disk: Resolve() = %v, want ErrDBUnavailable (entry ignored)", err)
	}
}

// TestResolveMembersNotOnDisk: Resolve does not look at members on disk
// (issue 6): a symlink member is a member like any other, and a member
// missing from disk is listed, for nixbox-init to refuse (exit 125,
// naming it) when it assembles the store. Cached or not, the answer is the
// same; only a cached root is checked on disk.
func TestResolveMembersNotOnDisk(t *testing.T) {
	t.Parallel()
	gone := sp("j", "deleted-behind-nix")
	user := sp("m", "uses-deleted")
	if err := os.MkdirAll(testOnlyRootDir+user, 0o755); err != nil { // the root, cached, is looked at
		t.Fatal(err)
	}
	db := writeDB(t, row{path: gone}, row{path: user, refs: []string{gone}})
	cache := filepath.Join(t.TempDir(), "cache")
	opts := Options{DBPath: db, NixStore: "/bin/false", CacheDir: cache}
	noDB := Options{DBPath: filepath.Join(t.TempDir(), "none.sqlite"), NixStore: "/bin/false", CacheDir: cache}
	for _, tc := range []struct {
		root string
		want Closure
	}{
		{pApp, Closure{Roots: []string{pApp}, Paths: []string{pApp, pLib, pLibc, pLink}}},
		{user, Closure{Roots: []string{user}, Paths: []string{gone, user}}},
	} {
		for _, o := range []Options{opts, noDB} { // uncached, then from the cache
			got, err := Resolve(context.Background(), []string{tc.root}, o)
			if err != nil {
				t.Fatalf("Resolve(%s) = %v", tc.root, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Resolve(%s) mismatch (-want +got):\n%s", tc.root, diff)
			}
		}
	}
}

// TestResolveOddDB: a row the closure query returns that is not a valid
// store path, not text, or listed twice fails the query, closed: it is
// never skipped. As for an unreadable DB, nix-store is asked instead; here
// there is none, so Resolve fails.
func TestResolveOddDB(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		odd  row
	}{
		{"outside the store", row{path: "/etc/passwd"}},
		{"below a store path", row{path: pLibc + "/lib/libc.so"}},
		{"dot-dot", row{path: "/nix/store/../../etc"}},
		{"newline", row{path: pLibc + "\n/etc"}},
		{"blob", row{path: []byte(sp("k", "blob"))}},
		{"null", row{path: nil}},
		{"integer", row{path: 42}},
		{"same path twice", row{path: pLibc, dup: true}},
		{"reference to no path", row{noRow: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.odd.referrers = []string{pLib}
			db := writeDB(t, tc.odd)
			_, err := Resolve(context.Background(), []string{pApp}, Options{DBPath: db, NixStore: "/bin/false"})
			if !errors.Is(err, ErrDBUnavailable) {
				t.Fatalf("Resolve() = %v, want ErrDBUnavailable", err)
			}
		})
	}
}

func TestReadClosureInfo(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, content string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "list")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	infoDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(infoDir, "store-paths"), []byte(pLibc+"\n"+pLib+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		want    Closure
		wantErr error
	}{
		{
			name: "closureInfo dir",
			path: infoDir,
			want: Closure{Roots: []string{pLibc}, Paths: []string{pLib, pLibc}},
		},
		{
			name: "plain file, app first, duplicates and blank lines",
			path: write(t, pApp+"\n\n"+pLink+"\n"+pLibc+"\n"+pApp+"\n"),
			want: Closure{Roots: []string{pApp}, Paths: []string{pApp, pLibc, pLink}},
		},
		{name: "bad line", path: write(t, pApp+"\n/etc\n"), wantErr: ErrPathInvalid},
		{name: "subpath", path: write(t, pApp+"/bin/x\n"), wantErr: ErrPathInvalid},
		{name: "empty", path: write(t, "\n"), wantErr: ErrPathInvalid},
		{name: "missing", path: filepath.Join(t.TempDir(), "none"), wantErr: os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadClosureInfo(tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReadClosureInfo() = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadClosureInfo() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("ReadClosureInfo() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolveWAL: the Nix database in WAL mode, as Nix keeps it. With a
// writer connected, a path it committed to the WAL only (not yet
// checkpointed into the main file) is read through the writer's -shm,
// mapped read-only. With no writer, SQLite has deleted the -shm file:
// root creates it (mode=ro), anyone else opens the file immutable=1.
func TestResolveWAL(t *testing.T) {
	t.Parallel()
	db := writeDB(t)
	w, err := sql.Open("sqlite3", db+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`PRAGMA wal_autocheckpoint = 0`); err != nil {
		t.Fatal(err)
	}
	fresh := sp("n", "in-the-wal-only")
	if _, err := w.Exec(`INSERT INTO ValidPaths (path, hash, registrationTime, narSize) VALUES (?, 'sha256:0', 1, 1)`, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(`INSERT INTO Refs SELECT a.id, b.id FROM ValidPaths a, ValidPaths b WHERE a.path = ? AND b.path = ?`, fresh, pLibc); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(db + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the writer's WAL: %v, %v", fi, err)
	}
	want := Closure{Roots: []string{fresh}, Paths: []string{pLibc, fresh}}
	for _, isRoot := range []bool{true, false} {
		got, err := Resolve(context.Background(), []string{fresh}, Options{DBPath: db, NixStore: "/bin/false", IsRoot: isRoot})
		if err != nil {
			t.Fatalf("IsRoot %v, writer connected: Resolve() = %v", isRoot, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("IsRoot %v, writer connected: Resolve() mismatch (-want +got):\n%s", isRoot, diff)
		}
	}
	if err := w.Close(); err != nil { // checkpoints, deletes -wal and -shm
		t.Fatal(err)
	}
	if _, err := os.Stat(db + "-shm"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("-shm after the last writer closed: %v, want it gone", err)
	}
	for _, isRoot := range []bool{true, false} {
		got, err := Resolve(context.Background(), []string{fresh}, Options{DBPath: db, NixStore: "/bin/false", IsRoot: isRoot})
		if err != nil {
			t.Fatalf("IsRoot %v, no -shm: Resolve() = %v", isRoot, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("IsRoot %v, no -shm: Resolve() mismatch (-want +got):\n%s", isRoot, diff)
		}
		os.Remove(db + "-shm") // as SQLite's last writer would
		os.Remove(db + "-wal")
	}
}
