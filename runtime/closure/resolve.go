package closure

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"

	// The "sqlite3" driver: cgo bindings, built with -tags libsqlite3
	// against the system's libsqlite3 (Makefile, flake.nix). It replaced
	// the pure-Go modernc.org/sqlite, which was about 5 MB of nixbox's
	// 15.6 MB binary and 2-3 ms of package init()s: libcontainer copies
	// the whole binary into a sealed memfd at every rootless start
	// (CVE-2019-5736) and re-executes it, so both costs were paid twice
	// per launch, for one read-only query. Without the tag the driver
	// builds its bundled SQLite instead: slower to build, same behaviour.
	// It is used through its driver.Conn, not database/sql: see queryDSN.
	sqlite3 "github.com/mattn/go-sqlite3"
)

// DefaultDBPath is the Nix database of a default single- or multi-user
// install.
const DefaultDBPath = "/nix/var/nix/db/db.sqlite"

// nixStoreCandidates are searched, in order, when Options.NixStore is
// empty: NixOS, a multi-user install's default profile, a distro package.
var nixStoreCandidates = []string{
	"/run/current-system/sw/bin/nix-store",
	"/nix/var/nix/profiles/default/bin/nix-store",
	"/usr/bin/nix-store",
}

// busyTimeoutMS bounds how long a mode=ro reader waits for a writer's
// lock: without it 2 of 697 queries failed with SQLITE_BUSY while
// nix-store ran (host-facts §3.4).
const busyTimeoutMS = 5000

// Options configures Resolve.
type Options struct {
	// DBPath is the Nix database. Optional; default DefaultDBPath.
	DBPath string
	// NixStore is the absolute path of the nix-store binary used when the
	// database can't answer. Optional; default: the first executable of
	// /run/current-system/sw/bin, /nix/var/nix/profiles/default/bin and
	// /usr/bin. It is always run directly with an argv, never via a shell.
	NixStore string
	// CacheDir holds one cached closure per root. Optional; "" disables
	// the cache. See Resolve for when an entry is trusted.
	CacheDir string
	// IsRoot says the caller runs as root: root may create the DB's -shm
	// file when it is absent; only non-root callers fall back to an
	// immutable=1 open instead, which ignores the WAL (host-facts
	// §3.4). The caller gets it from hostenv; Resolve never probes.
	IsRoot bool
}

// closureQuery is the recursive closure of one root; its result matches
// nix-store -qR (host-facts §3.3). The path is read by a scalar subquery,
// not a join: SQLite then runs the recursive CTE as a co-routine instead
// of materialising it first (about a quarter of the query's time at 500
// paths, issue 6), and a reference to an id that ValidPaths lacks gives a
// NULL, which queryRoot refuses, where a join would drop that member
// silently.
const closureQuery = `
WITH RECURSIVE closure(id) AS (
  SELECT id FROM ValidPaths WHERE path = ?1
  UNION
  SELECT r.reference FROM Refs AS r JOIN closure AS c ON r.referrer = c.id
)
SELECT (SELECT v.path FROM ValidPaths AS v WHERE v.id = c.id) FROM closure AS c`

// connParams are the driver's parameters for every connection: no SQLite
// mutex, as a connection is only ever used by one goroutine at a time
// (queryDSN), which saves a lock and an unlock per call into SQLite.
const connParams = "_mutex=no"

// Resolve returns the union of the closures of roots, read from the Nix
// database in-process and read-only.
//
// Every root must be a top-level store path (ParseStorePath) that is valid
// in the database; otherwise the error wraps ErrPathInvalid. The order is
// the one host-facts §3.4 recommends:
//
//  1. open the DB with mode=ro, a read-only mapping of its -shm file
//     (readonly_shm=1) and a busy timeout;
//  2. if that fails: as root, open it with mode=ro alone (which may
//     create the -shm file); otherwise with immutable=1;
//  3. if a root is missing from the result (not valid, or a stale
//     immutable view that ignores the WAL), or the DB can't be read at
//     all, ask nix-store --query --requisites;
//  4. otherwise fail: ErrPathInvalid if the DB was read but lacks the
//     root, ErrDBUnavailable if nothing could answer.
//
// The database, not the filesystem, decides validity: a path on disk that
// the DB doesn't know is invalid. Members are not looked at on disk here:
// nixbox-init opens every one of them when it assembles the sandbox's
// store, refuses to start the app (exit 125, naming the member) when one
// is missing, and recreates those that are symlinks as symlinks
// (cmd/nixbox-init/store.go). An Lstat per member here was a third of an
// uncached Resolve at 500 paths (issue 6), and told nixbox-init nothing it
// could trust without checking again.
//
// With Options.CacheDir, each root's closure is cached in a file named
// after the root's hash part. Store paths are immutable and a path's
// references never change while it exists, so an entry is used as long as
// its root exists on disk (one Lstat; see readCache); otherwise, or when
// the entry is malformed, it is ignored and rewritten. The cache never
// makes an invalid root valid: a root must exist on disk to be served
// from it, and is then re-checked by nothing else, so CacheDir must be
// private to the user (it is created 0700, entries 0600).
func Resolve(ctx context.Context, roots []string, opts Options) (Closure, error) {
	if len(roots) == 0 {
		return Closure{}, fmt.Errorf("%w: no roots", ErrPathInvalid)
	}
	for _, r := range roots {
		if _, err := ParseStorePath(r); err != nil {
			return Closure{}, err
		}
	}
	if opts.DBPath == "" {
		opts.DBPath = DefaultDBPath
	}

	// Each root's closure, sorted and without duplicates: from its cache
	// entry (parseCache checks that) or from the query (queryRoot and
	// queryNixStore do).
	lists := make([][]string, 0, len(roots))
	var todo []string
	for _, r := range roots {
		if paths, ok := readCache(opts.CacheDir, r); ok {
			lists = append(lists, paths)
			continue
		}
		todo = append(todo, r)
	}
	if len(todo) > 0 {
		per, err := query(ctx, todo, opts)
		if err != nil {
			return Closure{}, err
		}
		for _, r := range todo {
			// The cache is an optimisation: failing to write it is
			// not an error.
			_ = writeCache(opts.CacheDir, r, per[r])
			lists = append(lists, per[r])
		}
	}
	return Closure{Roots: append([]string(nil), roots...), Paths: union(lists)}, nil
}

// union returns the sorted union of lists, each sorted and without
// duplicates.
func union(lists [][]string) []string {
	if len(lists) == 1 {
		return lists[0]
	}
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// query returns the closure of each root, from the DB or nix-store.
func query(ctx context.Context, roots []string, opts Options) (map[string][]string, error) {
	per, dbErr := queryDB(ctx, roots, opts)
	var missing []string
	if dbErr == nil {
		for _, r := range roots {
			if len(per[r]) == 0 {
				missing = append(missing, r)
			}
		}
		if len(missing) == 0 {
			return per, nil
		}
	} else {
		per = map[string][]string{}
		missing = roots
	}

	// Fallback: nix-store, through the daemon where there is one.
	for _, r := range missing {
		paths, err := queryNixStore(ctx, opts.NixStore, r)
		switch {
		case err == nil:
			per[r] = paths
		case errors.Is(err, ErrPathInvalid):
			return nil, err
		case dbErr == nil:
			// The DB was readable and doesn't list the root.
			return nil, fmt.Errorf("%w: %q is not in the nix database (nix-store fallback: %v)",
				ErrPathInvalid, r, err)
		default:
			return nil, fmt.Errorf("%w: %v; nix-store fallback: %v", ErrDBUnavailable, dbErr, err)
		}
	}
	return per, nil
}

// queryDB reads each root's closure; a root absent from the database gets
// no entry.
func queryDB(ctx context.Context, roots []string, opts Options) (map[string][]string, error) {
	if !strings.HasPrefix(opts.DBPath, "/") {
		return nil, fmt.Errorf("database path %q is not absolute", opts.DBPath)
	}
	ro := fmt.Sprintf("mode=ro&_busy_timeout=%d&%s", busyTimeoutMS, connParams)
	// readonly_shm=1: SQLite opens db.sqlite-shm read-only, as it must for
	// a non-root reader anyway (the file is root's, 0644). With a writer
	// connected it reads the writer's index; with none, it reads the WAL
	// itself into private memory and retries if a writer appears (SQLite's
	// read-only WAL support), where a read-write mapping made every root
	// reader rebuild and rewrite Nix's index: about a quarter of an
	// uncached Resolve at 500 paths (issue 6), and writes a reader should
	// not make.
	per, err := queryDSN(ctx, dsn(opts.DBPath, "readonly_shm=1&"+ro), roots)
	if err == nil {
		return per, nil
	}
	// A read-only mapping needs db.sqlite-shm to exist, and SQLite deletes
	// it with the last writer. Root may create it: mode=ro alone does.
	// Anyone else can only open the file with immutable=1, which ignores
	// the WAL, so query() double-checks that every root is present.
	fallback := "immutable=1&" + connParams
	if opts.IsRoot {
		fallback = ro
	}
	per, err2 := queryDSN(ctx, dsn(opts.DBPath, fallback), roots)
	if err2 != nil {
		return nil, fmt.Errorf("opening %s: mode=ro,readonly_shm=1: %v; %s: %w", opts.DBPath, err, strings.SplitN(fallback, "&", 2)[0], err2)
	}
	return per, nil
}

// dsn builds a SQLite URI for path, escaping the characters URIs reserve.
func dsn(path, query string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + query
}

// queryDSN opens the database through the driver's own connection, not
// database/sql: its pool, its goroutines and a copy and type switch per
// row cost more than the query (issue 6). The statement is prepared once
// for all roots. The context is checked between roots, not during a query,
// which takes about a millisecond: with a cancellable context, the driver
// starts a goroutine per row to watch it.
func queryDSN(ctx context.Context, dsn string, roots []string) (map[string][]string, error) {
	conn, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The recursive query keeps its queue and its set of ids seen in
	// temporary tables; with Debian's default (SQLITE_TEMP_STORE=1: files,
	// kept in memory until they spill) they cost 0.3-0.5 ms more at 500
	// paths than in memory (issue 6). They hold a few kilobytes of ids.
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return nil, fmt.Errorf("the sqlite3 driver's connection is a %T, without ExecContext", conn)
	}
	if _, err := ex.ExecContext(context.Background(), "PRAGMA temp_store = MEMORY", nil); err != nil {
		return nil, err
	}
	stmt, err := conn.Prepare(closureQuery)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()

	per := make(map[string][]string, len(roots))
	for _, r := range roots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		paths, err := queryRoot(stmt, r)
		if err != nil {
			return nil, err
		}
		if len(paths) > 0 {
			per[r] = paths
		}
	}
	return per, nil
}

// queryRoot runs the closure query for root. Every row must be a text
// value that is a valid top-level store path (ParseStorePath): anything
// else, a NULL or a blob included, is an error, never skipped.
func queryRoot(stmt driver.Stmt, root string) ([]string, error) {
	q, ok := stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("the sqlite3 driver's statement is a %T, without QueryContext", stmt)
	}
	// context.Background, never the caller's: see queryDSN.
	rows, err := q.QueryContext(context.Background(), []driver.NamedValue{{Ordinal: 1, Value: root}})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var paths []string
	row := make([]driver.Value, 1)
	for {
		err := rows.Next(row)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		p, ok := row[0].(string)
		if !ok {
			return nil, fmt.Errorf("%w: database lists a path of type %T", ErrPathInvalid, row[0])
		}
		if _, err := ParseStorePath(p); err != nil {
			return nil, fmt.Errorf("database lists a malformed path: %w", err)
		}
		paths = append(paths, p)
	}
	return sortUnique(paths, "the database")
}

// sortUnique sorts paths and refuses duplicates: the query's UNION and
// nix-store both list each member once, so a duplicate means something
// odd answered.
func sortUnique(paths []string, source string) ([]string, error) {
	slices.Sort(paths)
	for i := 1; i < len(paths); i++ {
		if paths[i] == paths[i-1] {
			return nil, fmt.Errorf("%w: %s lists %q twice", ErrPathInvalid, source, paths[i])
		}
	}
	return paths, nil
}

// findNixStore returns the nix-store binary to run.
func findNixStore(configured string) (string, error) {
	if configured != "" {
		if !strings.HasPrefix(configured, "/") {
			return "", fmt.Errorf("nix-store path %q is not absolute", configured)
		}
		return configured, nil
	}
	for _, c := range nixStoreCandidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", errors.New("no nix-store found in " + strings.Join(nixStoreCandidates, ", "))
}

// maxStderr caps how much of nix-store's stderr goes into an error.
const maxStderr = 512

// queryNixStore runs nix-store --query --requisites -- root.
func queryNixStore(ctx context.Context, nixStore, root string) ([]string, error) {
	bin, err := findNixStore(nixStore)
	if err != nil {
		return nil, err
	}
	// An argv, never a shell; "--" ends the options before the path.
	cmd := exec.CommandContext(ctx, bin, "--query", "--requisites", "--", root)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > maxStderr {
			msg = msg[:maxStderr] + "…"
		}
		if strings.Contains(msg, "is not valid") {
			return nil, fmt.Errorf("%w: %q is not valid (nix-store)", ErrPathInvalid, root)
		}
		return nil, fmt.Errorf("running %s: %w: %q", bin, err, msg)
	}
	var paths []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if _, err := ParseStorePath(line); err != nil {
			return nil, fmt.Errorf("nix-store printed a malformed path: %w", err)
		}
		paths = append(paths, line)
	}
	return sortUnique(paths, "nix-store")
}
