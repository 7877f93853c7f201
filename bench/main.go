// Command bench is the harness behind `make bench` (issue 6): in one run,
// as the unprivileged user nixbox-test, it times nixbox, bwrap, crun and
// runc starting `true` from the Nix store with equivalent isolation, at
// closures of 4, 100, 500 and 2000 store paths; times closure resolution
// (nixbox in-process, uncached and cached, vs nix-store -qR); records the
// launchers' peak RSS; prints the tables and writes docs/benchmarks.md and
// docs/benchmarks.png.
//
// It runs as root (to switch to the test user), after scripts/setup-bench.sh
// (the tools) and scripts/bench-fixtures.sh (the fixtures). All its state
// lives in one temporary directory, removed at exit, also on SIGINT/SIGTERM.
// It never changes the host, except, only with CI=true and
// BENCH_ALLOW_HOST_CHANGES=1, binding hugetlb to a v1 hierarchy so crun
// can run (host-facts §2); that is undone at exit.
//
// Numbers are for people: nothing here asserts on time.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Tools, in table order. nixbox is the reference for the ratios.
const (
	toolNixbox = "nixbox"
	toolBwrap  = "bwrap"
	toolCrun   = "crun"
	toolRunc   = "runc"
	// toolFloor is bench/lcfloor: the least any in-process libcontainer
	// launcher does (no profile, closure query, filter, cgroup, masked
	// paths or init), the floor for nixbox while it runs on libcontainer.
	toolFloor = "lcfloor"
)

var tools = []string{toolNixbox, toolBwrap, toolCrun, toolRunc, toolFloor}

type options struct {
	repo, fixtures, nixbox, nixboxInit string
	userName                           string
	sizes                              []int
	warmup, runs                       int
	slowWarmup, slowRuns               int
	slowAfter                          time.Duration
	rssRuns                            int
	mdOut, pngOut                      string
	keep                               bool
}

// stat is one hyperfine result, in milliseconds.
type stat struct {
	Median, Min, Max, Mean, Stddev float64
	Runs, Warmup                   int
}

// cell is one tool at one closure size.
type cell struct {
	stat   *stat
	rssKiB int    // median peak RSS (GNU time %M), 0 if not measured
	err    string // why it was not measured
}

type bench struct {
	opt     options
	usr     *user.User
	uid     int
	gid     int
	work    string // the temporary directory; everything goes in here
	udir    string // work/u, owned by the test user
	home    string
	tmp     string
	bin     string // work/bin: copies of nixbox and nixbox-init
	fx      map[string]string
	bpf     string // the compiled filter bwrap loads
	bpfFrom string
	results map[string]map[int]*cell
	notes   []string // method notes, in order
	notRun  []string // what could not be measured, and why
	base    map[string]*stat
	resolve []resolveRow
	cleanup []func()
	busy    string // a warning when the machine was loaded
}

type resolveRow struct {
	what, who string
	value     string
}

func main() {
	var o options
	var sizes string
	flag.StringVar(&o.repo, "repo", ".", "repository root")
	flag.StringVar(&o.fixtures, "fixtures", "build/bench/fixtures.env", "KEY=store-path file (scripts/bench-fixtures.sh)")
	flag.StringVar(&o.nixbox, "nixbox", "bin/nixbox", "nixbox binary to time")
	flag.StringVar(&o.nixboxInit, "nixbox-init", "bin/nixbox-init", "nixbox-init binary (copied next to nixbox)")
	flag.StringVar(&o.userName, "user", "nixbox-test", "unprivileged user the tools run as")
	flag.StringVar(&sizes, "sizes", "4,100,500,2000", "closure sizes")
	flag.IntVar(&o.warmup, "warmup", 3, "hyperfine --warmup")
	flag.IntVar(&o.runs, "runs", 30, "hyperfine --runs")
	flag.IntVar(&o.slowWarmup, "slow-warmup", 1, "--warmup for a case whose first run takes longer than -slow-after")
	flag.IntVar(&o.slowRuns, "slow-runs", 10, "--runs for a case whose first run takes longer than -slow-after")
	flag.DurationVar(&o.slowAfter, "slow-after", time.Second, "see -slow-runs")
	flag.IntVar(&o.rssRuns, "rss-runs", 5, "runs of /usr/bin/time per tool and size")
	flag.StringVar(&o.mdOut, "md", "docs/benchmarks.md", "markdown report")
	flag.StringVar(&o.pngOut, "png", "docs/benchmarks.png", "plot")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (debugging)")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatalf("bad -sizes %q", sizes)
		}
		o.sizes = append(o.sizes, n)
	}
	sort.Ints(o.sizes)

	b := &bench{opt: o, results: map[string]map[int]*cell{}, base: map[string]*stat{}}
	code := 0
	if err := b.run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: error:", err)
		code = 1
	}
	b.doCleanup()
	os.Exit(code)
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: error: "+format+"\n", a...)
	os.Exit(1)
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

func (b *bench) doCleanup() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		b.cleanup[i]()
	}
	b.cleanup = nil
}

func (b *bench) run() error {
	if os.Geteuid() != 0 {
		return errors.New("run as root (make bench uses sudo): the tools run as the unprivileged user, and nix-store -qR needs root on a single-user store")
	}
	var err error
	if b.opt.repo, err = filepath.Abs(b.opt.repo); err != nil {
		return err
	}
	for _, p := range []*string{&b.opt.fixtures, &b.opt.nixbox, &b.opt.nixboxInit, &b.opt.mdOut, &b.opt.pngOut} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(b.opt.repo, *p)
		}
	}
	if err := b.setup(); err != nil {
		return err
	}
	start := time.Now()
	mach := machine()
	loadBefore := loadavg()

	if err := b.prepareFilter(); err != nil {
		return err
	}
	if err := b.baselines(); err != nil {
		return err
	}
	for _, n := range b.opt.sizes {
		if err := b.size(n); err != nil {
			return err
		}
	}
	if err := b.resolution(); err != nil {
		return err
	}
	loadAfter := loadavg()
	mach = append(mach, [2]string{"load average", loadBefore + " (start), " + loadAfter + " (end)"})
	for _, l := range []string{loadBefore, loadAfter} {
		if f, err := strconv.ParseFloat(strings.Fields(l + " x")[0], 64); err == nil && f > float64(runtime.NumCPU()) {
			b.busy = fmt.Sprintf("The 1-minute load average was %s at the start and %s at the end, above the %d CPUs: other work ran on the machine during this run, so every number here is inflated and noisier than on an idle machine; the ratios within one table are what to read.", strings.Fields(loadBefore)[0], strings.Fields(loadAfter)[0], runtime.NumCPU())
			break
		}
	}
	mach = append(mach, [2]string{"harness wall time", time.Since(start).Round(time.Second).String()})

	report := b.render(mach)
	fmt.Print(report.text)
	if err := os.WriteFile(b.opt.mdOut, []byte(report.md), 0o644); err != nil {
		return err
	}
	if err := writePlot(b.opt.pngOut, "median start-up, rootless, true from the store", b.opt.sizes, b.series()); err != nil {
		return err
	}
	logf("wrote %s and %s", b.opt.mdOut, b.opt.pngOut)
	return nil
}

// setup creates the work directory and the user's part of it, copies the
// binaries (so a concurrent `make build` can't change them mid-run), and
// reads the fixtures.
func (b *bench) setup() error {
	u, err := user.Lookup(b.opt.userName)
	if err != nil {
		return fmt.Errorf("%v: run `make setup` (scripts/setup-host.sh creates %s)", err, b.opt.userName)
	}
	b.usr = u
	b.uid, _ = strconv.Atoi(u.Uid)
	b.gid, _ = strconv.Atoi(u.Gid)

	for _, t := range []string{"hyperfine", "bwrap", "crun", "runc", "/usr/bin/time", "nix-store", "go"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s not found: run scripts/setup-bench.sh", t)
		}
	}
	b.fx, err = readEnv(b.opt.fixtures)
	if err != nil {
		return fmt.Errorf("%v: run scripts/bench-fixtures.sh", err)
	}

	b.work, err = os.MkdirTemp("", "nixbox-bench-")
	if err != nil {
		return err
	}
	b.cleanup = append(b.cleanup, func() {
		if b.opt.keep {
			logf("kept %s", b.work)
			return
		}
		// Containers exit with their run; delete by id anyway in case one
		// was left by an interrupted run, then remove everything.
		for _, n := range b.opt.sizes {
			for _, rt := range []string{"crun", "runc"} {
				root := filepath.Join(b.udir, rt+"-root")
				if _, err := os.Stat(root); err == nil {
					_ = b.userCmd(rt, "--root", root, "delete", "-f", containerID(n)).Run()
				}
			}
		}
		if err := os.RemoveAll(b.work); err != nil {
			logf("warning: removing %s: %v", b.work, err)
		}
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		logf("%v: cleaning up", s)
		b.doCleanup()
		os.Exit(130)
	}()

	if err := os.Chmod(b.work, 0o755); err != nil {
		return err
	}
	b.bin = filepath.Join(b.work, "bin")
	b.udir = filepath.Join(b.work, "u")
	b.home = filepath.Join(b.udir, "home")
	b.tmp = filepath.Join(b.udir, "tmp")
	for _, d := range []string{b.bin, b.udir, b.home, b.tmp,
		filepath.Join(b.udir, "crun-root"), filepath.Join(b.udir, "runc-root"), filepath.Join(b.udir, "out"),
		filepath.Join(b.udir, "lcfloor-state")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		if d != b.bin {
			if err := os.Chown(d, b.uid, b.gid); err != nil {
				return err
			}
		}
	}
	for _, c := range [][2]string{{b.opt.nixbox, "nixbox"}, {b.opt.nixboxInit, "nixbox-init"}} {
		if err := copyFile(c[0], filepath.Join(b.bin, c[1]), 0o755); err != nil {
			return fmt.Errorf("%v: run `make build`", err)
		}
	}
	// The libcontainer floor is built like nixbox (cgo for nsenter,
	// stripped).
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(b.bin, "lcfloor"), "./bench/lcfloor")
	build.Dir = b.opt.repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./bench/lcfloor: %v: %s", err, out)
	}
	logf("work dir %s (removed at exit)", b.work)
	return nil
}

// fixture returns the root store path and program for closure size n.
func (b *bench) fixture(n int) (root, prog string, err error) {
	key, exe := "APP"+strconv.Itoa(n), "app"+strconv.Itoa(n)
	if n == 4 {
		key, exe = "COREUTILS", "true"
	}
	root = b.fx[key]
	if root == "" {
		return "", "", fmt.Errorf("%s is not in %s (run scripts/bench-fixtures.sh)", key, b.opt.fixtures)
	}
	return root, root + "/bin/" + exe, nil
}

// nativeBundle rewrites the bundle `nixbox spec --bundle` wrote into what
// crun and runc would run natively with the same isolation: nixbox's
// bundle assembles the store inside the sandbox with nixbox-init (one
// staging bind, then a clone per store path) and loads nixbox's compiled
// filter; timing crun and runc on that would time nixbox's design, not
// theirs. So the peers get one read-only bind per closure path (their own
// per-mount path-safety work, as bwrap gets one --ro-bind per path), the
// same policy as OCI seccomp JSON (`nixbox seccomp export default --format
// oci`, compiled by the runtime at every start, as it would be), the app
// itself as the process with no capabilities, and everything else --
// namespaces, id mapping, masked and read-only paths, /proc, /dev, /tmp,
// home tmpfs -- unchanged.
func (b *bench) nativeBundle(bundle string, paths []string, prog string) error {
	cfgPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("%s: %v", cfgPath, err)
	}
	secRaw, err := b.userCmd(filepath.Join(b.bin, "nixbox"), "seccomp", "export", "default", "--format", "oci").Output()
	if err != nil {
		return fmt.Errorf("nixbox seccomp export default --format oci: %v", err)
	}
	var sec any
	if err := json.Unmarshal(secRaw, &sec); err != nil {
		return fmt.Errorf("nixbox seccomp export --format oci: %v", err)
	}
	mounts, _ := cfg["mounts"].([]any)
	var kept []any
	for _, m := range mounts {
		mm, _ := m.(map[string]any)
		dest, _ := mm["destination"].(string)
		// nixbox's store layout and its own files (init, filter, list).
		if dest == "/nix/store" || dest == "/.nixbox" || strings.HasPrefix(dest, "/.nixbox/") {
			continue
		}
		kept = append(kept, m)
	}
	for _, p := range paths {
		kept = append(kept, map[string]any{"destination": p, "type": "bind", "source": p,
			"options": []string{"bind", "ro", "nosuid", "nodev"}})
	}
	cfg["mounts"] = kept
	proc, _ := cfg["process"].(map[string]any)
	if proc == nil {
		return fmt.Errorf("%s: no process", cfgPath)
	}
	proc["args"] = []string{prog}
	proc["capabilities"] = map[string]any{}
	proc["noNewPrivileges"] = true
	linux, _ := cfg["linux"].(map[string]any)
	if linux == nil {
		return fmt.Errorf("%s: no linux section", cfgPath)
	}
	linux["seccomp"] = sec
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(cfgPath, out, 0o644)
}

// prepareFilter gets the compiled seccomp filter of the default profile:
// from `nixbox seccomp export` when this nixbox has it, else from the
// bundle `nixbox spec` writes (the file nixbox-init loads).
func (b *bench) prepareFilter() error {
	b.bpf = filepath.Join(b.udir, "default.bpf")
	out, err := b.userCmd(filepath.Join(b.bin, "nixbox"), "seccomp", "export", "default", "--format", "bpf", "--output", b.bpf).CombinedOutput()
	if err == nil {
		b.bpfFrom = "`nixbox seccomp export default --format bpf`"
	} else {
		logf("nixbox seccomp export failed (%v: %s); using the filter of a spec bundle", err, firstLine(out))
		_, prog, ferr := b.fixture(4)
		if ferr != nil {
			return ferr
		}
		dir := filepath.Join(b.udir, "bundle-filter")
		if out, err := b.userCmd(filepath.Join(b.bin, "nixbox"), "spec", "--bundle", dir, "--profile", "default", prog).CombinedOutput(); err != nil {
			return fmt.Errorf("nixbox spec: %v: %s", err, out)
		}
		if err := copyFile(filepath.Join(dir, "seccomp.bpf"), b.bpf, 0o644); err != nil {
			return err
		}
		b.bpfFrom = "the `seccomp.bpf` of a `nixbox spec --bundle` bundle (`nixbox seccomp export` was not available: " + firstLine(out) + ")"
	}
	fi, err := os.Stat(b.bpf)
	if err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("bwrap's filter is %s: %d BPF instructions, the program nixbox-init loads for the default profile.", b.bpfFrom, fi.Size()/8))
	return nil
}

// bwrapArgs writes bwrap's options, NUL-separated, for `--args 8`: with
// 2000 paths the command line would exceed the kernel's 128 KiB limit for
// one argument (hyperfine takes the command as one string).
func (b *bench) bwrapArgs(n int, paths []string) (string, error) {
	var buf bytes.Buffer
	add := func(a ...string) {
		for _, s := range a {
			buf.WriteString(s)
			buf.WriteByte(0)
		}
	}
	add("--unshare-all", "--die-with-parent", "--new-session")
	for _, p := range paths {
		add("--ro-bind", p, p)
	}
	add("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--seccomp", "9")
	f := filepath.Join(b.udir, fmt.Sprintf("bwrap-%d.args", n))
	return f, os.WriteFile(f, buf.Bytes(), 0o644)
}

// bwrapCmd runs bwrap through /bin/sh, which opens the args and filter
// files fresh for every run (an inherited fd would be at EOF after the
// first run); the sh costs what the "sh wrapper" baseline shows.
func (b *bench) bwrapCmd(argsFile, prog string) []string {
	return []string{"/bin/sh", "-c", fmt.Sprintf("exec bwrap --args 8 %s 8<%s 9<%s", prog, argsFile, b.bpf)}
}

func containerID(n int) string { return "nixbox-bench-" + strconv.Itoa(n) }

// size measures every tool at closure size n.
func (b *bench) size(n int) error {
	logf("== closure of %d paths", n)
	for _, t := range tools {
		if b.results[t] == nil {
			b.results[t] = map[int]*cell{}
		}
	}
	root, prog, err := b.fixture(n)
	if err != nil {
		for _, t := range tools {
			b.results[t][n] = &cell{err: err.Error()}
		}
		b.notRun = append(b.notRun, fmt.Sprintf("closure of %d paths: %v", n, err))
		return nil
	}
	// Prepared before timing (host-facts §7): the closure list, the bwrap
	// arguments and the OCI bundle.
	out, err := exec.Command("nix-store", "--query", "--requisites", "--", root).Output()
	if err != nil {
		return fmt.Errorf("nix-store -qR %s: %v", root, err)
	}
	paths := strings.Fields(string(out))
	if len(paths) != n {
		return fmt.Errorf("closure of %s has %d paths, want %d", root, len(paths), n)
	}
	argsFile, err := b.bwrapArgs(n, paths)
	if err != nil {
		return err
	}
	bundle := filepath.Join(b.udir, fmt.Sprintf("bundle-%d", n))
	if out, err := b.userCmd(filepath.Join(b.bin, "nixbox"), "spec", "--bundle", bundle, "--profile", "default", prog).CombinedOutput(); err != nil {
		return fmt.Errorf("nixbox spec --bundle: %v: %s", err, out)
	}
	if err := b.nativeBundle(bundle, paths, prog); err != nil {
		return err
	}
	id := containerID(n)
	// lcfloor gets an empty rootfs of its own per size (libcontainer
	// makes the mount points in it) and the closure as arguments.
	floorRoot := filepath.Join(b.udir, fmt.Sprintf("lcfloor-rootfs-%d", n))
	if err := os.Mkdir(floorRoot, 0o755); err != nil {
		return err
	}
	if err := os.Chown(floorRoot, b.uid, b.gid); err != nil {
		return err
	}
	cmds := map[string][]string{
		toolFloor:  append([]string{filepath.Join(b.bin, "lcfloor"), filepath.Join(b.udir, "lcfloor-state"), floorRoot, prog}, paths...),
		toolNixbox: {filepath.Join(b.bin, "nixbox"), "run", "--profile", "default", prog},
		toolBwrap:  b.bwrapCmd(argsFile, prog),
		toolCrun:   {"crun", "--root", filepath.Join(b.udir, "crun-root"), "run", "-b", bundle, id},
		toolRunc:   {"runc", "--root", filepath.Join(b.udir, "runc-root"), "run", "-b", bundle, id},
	}
	for _, t := range tools {
		c := &cell{}
		b.results[t][n] = c
		argv := cmds[t]
		took, perr := b.probe(argv)
		if t == toolCrun && perr != nil {
			argv, took, perr = b.crunFallback(n, bundle, argv, perr)
		}
		if perr != nil {
			c.err = perr.Error()
			b.notRun = append(b.notRun, fmt.Sprintf("%s at %d paths: not measured on this host: %s", t, n, c.err))
			logf("%s: not measured: %s", t, c.err)
			continue
		}
		warm, runs := b.opt.warmup, b.opt.runs
		if took > b.opt.slowAfter {
			warm, runs = b.opt.slowWarmup, b.opt.slowRuns
			logf("%s: one run took %v: --warmup %d --runs %d", t, took.Round(time.Millisecond), warm, runs)
		}
		s, err := b.hyperfine(fmt.Sprintf("%s-%d", t, n), argv, warm, runs, true)
		if err != nil {
			c.err = err.Error()
			b.notRun = append(b.notRun, fmt.Sprintf("%s at %d paths: hyperfine failed: %s", t, n, c.err))
			continue
		}
		c.stat = s
		c.rssKiB, err = b.rss(argv)
		if err != nil {
			logf("%s: peak RSS not measured: %v", t, err)
		}
	}
	return nil
}

// crunFallback handles crun's refusals. crun 1.8.1 knows OCI runtime-spec
// versions up to 1.1: a bundle at a newer version gets a copy whose config
// says 1.0.2 (nothing else changed; noted in the report). On a cgroup-v1
// hybrid host crun refuses to run at all (host-facts §2); only with CI=true
// and BENCH_ALLOW_HOST_CHANGES=1 is hugetlb bound to a v1 hierarchy.
func (b *bench) crunFallback(n int, bundle string, argv []string, perr error) ([]string, time.Duration, error) {
	var took time.Duration
	if strings.Contains(perr.Error(), "unknown version specified") {
		cfg, err := os.ReadFile(filepath.Join(bundle, "config.json"))
		if err != nil {
			return argv, 0, err
		}
		var spec map[string]any
		if err := json.Unmarshal(cfg, &spec); err != nil {
			return argv, 0, err
		}
		was, _ := spec["ociVersion"].(string)
		spec["ociVersion"] = "1.0.2"
		if r, ok := spec["root"].(map[string]any); ok {
			if p, _ := r["path"].(string); p != "" && !filepath.IsAbs(p) {
				r["path"] = filepath.Join(bundle, p)
			}
		}
		data, err := json.MarshalIndent(spec, "", "  ")
		if err != nil {
			return argv, 0, err
		}
		cb := bundle + "-crun"
		if err := os.Mkdir(cb, 0o755); err != nil {
			return argv, 0, err
		}
		if err := os.WriteFile(filepath.Join(cb, "config.json"), data, 0o644); err != nil {
			return argv, 0, err
		}
		if err := os.Chown(cb, b.uid, b.gid); err != nil {
			return argv, 0, err
		}
		argv = slices.Clone(argv)
		argv[len(argv)-2] = cb
		note := fmt.Sprintf("crun %s rejects the bundle's `ociVersion` %q (`unknown version specified`): crun gets a copy of the config that says \"1.0.2\", nothing else changed.", version("crun"), was)
		if !slices.Contains(b.notes, note) {
			b.notes = append(b.notes, note)
		}
		took, perr = b.probe(argv)
		if perr == nil {
			return argv, took, nil
		}
	}
	if strings.Contains(perr.Error(), "hybrid mode") && os.Getenv("CI") == "true" && os.Getenv("BENCH_ALLOW_HOST_CHANGES") == "1" {
		if err := b.moveHugetlb(); err != nil {
			return argv, 0, fmt.Errorf("%v (moving hugetlb to a v1 hierarchy failed: %v)", perr, err)
		}
		took, perr = b.probe(argv)
	}
	if perr != nil && strings.Contains(perr.Error(), "hybrid mode") {
		perr = fmt.Errorf("%v (cgroup v1 hybrid host: cgroup2 at /sys/fs/cgroup/unified holds the %s controller(s); crun runs only once hugetlb is bound to a v1 hierarchy, a host change made only with CI=true BENCH_ALLOW_HOST_CHANGES=1 on a throwaway machine, host-facts §2)",
			perr, strings.TrimSpace(readFile("/sys/fs/cgroup/unified/cgroup.controllers")))
	}
	return argv, took, perr
}

// moveHugetlb binds hugetlb to a v1 hierarchy (host-facts §2) and undoes
// it at exit. Called only with CI=true and BENCH_ALLOW_HOST_CHANGES=1.
func (b *bench) moveHugetlb() error {
	dir := "/sys/fs/cgroup/hugetlb"
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists already", dir)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		return fmt.Errorf("mount: %v: %s", err, out)
	}
	logf("HOST CHANGE (CI=true, BENCH_ALLOW_HOST_CHANGES=1): hugetlb bound to %s until exit", dir)
	b.notes = append(b.notes, "HOST CHANGE for crun (CI=true, BENCH_ALLOW_HOST_CHANGES=1): hugetlb was bound to a v1 hierarchy at /sys/fs/cgroup/hugetlb during the run, and unbound at exit (host-facts §2).")
	b.cleanup = append(b.cleanup, func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			logf("warning: umount %s: %v: %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return nil
}

// baselines times what the start-up numbers sit on: `true` itself, and
// the /bin/sh wrapper bwrap is started through.
func (b *bench) baselines() error {
	_, prog, err := b.fixture(4)
	if err != nil {
		return err
	}
	empty := filepath.Join(b.udir, "empty.args")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"`true` (coreutils from the store), no sandbox", []string{prog}},
		{"`/bin/sh -c 'exec true 8<FILE 9<FILE'`: the wrapper bwrap runs in", []string{"/bin/sh", "-c", fmt.Sprintf("exec %s 8<%s 9<%s", prog, empty, b.bpf)}},
	} {
		s, err := b.hyperfine("baseline", c.argv, b.opt.warmup, b.opt.runs, true)
		if err != nil {
			return err
		}
		b.base[c.name] = s
	}
	return nil
}

// resolution times closure resolution at 500 paths: the Go benchmarks of
// runtime/closure (in-process), as root and as the test user, and
// nix-store -qR with hyperfine.
func (b *bench) resolution() error {
	root, _, err := b.fixture(500)
	if err != nil {
		b.notRun = append(b.notRun, "closure resolution: "+err.Error())
		return nil
	}
	testBin := filepath.Join(b.bin, "closure.test")
	// The release build's tags: the same SQLite (system libsqlite3).
	build := exec.Command("go", "test", "-tags", "libsqlite3", "-c", "-o", testBin, "./runtime/closure/")
	build.Dir = b.opt.repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c ./runtime/closure: %v: %s", err, out)
	}
	args := []string{"-test.run", "^$", "-test.bench", "^BenchmarkResolve500", "-test.benchtime", "300x", "-test.count", "5", "-test.v"}
	for _, who := range []string{"root", b.opt.userName} {
		var c *exec.Cmd
		if who == "root" {
			c = exec.Command(testBin, args...)
			c.Env = append(os.Environ(), "NIXBOX_FIXTURES="+b.opt.fixtures)
		} else {
			c = b.userCmd(testBin, args...)
			c.Env = append(c.Env, "NIXBOX_FIXTURES="+b.opt.fixtures)
		}
		c.Dir = b.tmp
		logf("go test -bench Resolve500 as %s", who)
		out, err := c.CombinedOutput()
		if err != nil {
			b.notRun = append(b.notRun, fmt.Sprintf("Go benchmarks as %s: %v: %s", who, err, lastLines(out, 5)))
			continue
		}
		for _, name := range []string{"BenchmarkResolve500Uncached", "BenchmarkResolve500Cached"} {
			v, skip := parseBench(out, name)
			label := "nixbox in-process, uncached (open DB + recursive query; members are not looked at on disk)"
			if strings.HasSuffix(name, "Cached") && !strings.HasSuffix(name, "Uncached") {
				label = "nixbox in-process, cached (cache entry + Lstat of the root)"
			}
			switch {
			case skip != "":
				b.notRun = append(b.notRun, fmt.Sprintf("%s as %s: %s", name, who, skip))
			case len(v) == 0:
				b.notRun = append(b.notRun, fmt.Sprintf("%s as %s: no result in the output", name, who))
			default:
				sort.Float64s(v)
				b.resolve = append(b.resolve, resolveRow{label, who,
					fmt.Sprintf("%.3f ms (median of %d × 300 iterations; min %.3f, max %.3f)", median(v)/1e6, len(v), v[0]/1e6, v[len(v)-1]/1e6)})
			}
		}
	}
	// nix-store needs root here (single-user store, host-facts §3.4).
	s, err := b.hyperfineAs("nix-store-qR", []string{"nix-store", "--query", "--requisites", "--", root}, b.opt.warmup, b.opt.runs, false)
	if err != nil {
		b.notRun = append(b.notRun, "nix-store -qR as root: "+err.Error())
	} else {
		b.resolve = append(b.resolve, resolveRow{"`nix-store --query --requisites` (process)", "root",
			fmt.Sprintf("%.1f ms median (min %.1f, max %.1f, %d runs)", s.Median, s.Min, s.Max, s.Runs)})
	}
	if out, err := b.userCmd("nix-store", "--query", "--requisites", "--", root).CombinedOutput(); err != nil {
		b.notRun = append(b.notRun, fmt.Sprintf("`nix-store -qR` as %s: fails on this single-user store: %s", b.opt.userName, firstLine(out)))
	}
	return nil
}

// parseBench returns the ns/op of every run of benchmark name, or the
// skip message.
func parseBench(out []byte, name string) ([]float64, string) {
	var v []float64
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 4 && strings.HasPrefix(f[0], name+"-") || len(f) >= 4 && f[0] == name {
			for j := 1; j+1 < len(f); j++ {
				if f[j+1] == "ns/op" {
					if x, err := strconv.ParseFloat(f[j], 64); err == nil {
						v = append(v, x)
					}
				}
			}
		}
		if strings.HasPrefix(l, "--- SKIP: "+name) && i > 0 {
			return nil, strings.TrimSpace(lines[i-1])
		}
	}
	return v, ""
}

// userEnv is the clean environment the tools run with.
func (b *bench) userEnv() []string {
	return []string{
		"HOME=" + b.home, "TMPDIR=" + b.tmp, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C", "USER=" + b.usr.Username, "LOGNAME=" + b.usr.Username,
	}
}

// userCmd runs a command as the test user directly (setuid in the
// harness, like setpriv), so no su/setpriv process is part of a timing.
func (b *bench) userCmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = b.userEnv()
	c.Dir = b.home
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(b.uid), Gid: uint32(b.gid), Groups: []uint32{uint32(b.gid)}}}
	return c
}

// probe runs argv once as the user; an error carries its output.
func (b *bench) probe(argv []string) (time.Duration, error) {
	c := b.userCmd(argv[0], argv[1:]...)
	t0 := time.Now()
	out, err := c.CombinedOutput()
	took := time.Since(t0)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return took, fmt.Errorf("%s", oneLine(msg))
	}
	return took, nil
}

func (b *bench) hyperfine(name string, argv []string, warmup, runs int, asUser bool) (*stat, error) {
	return b.hyperfineAs(name, argv, warmup, runs, asUser)
}

// hyperfineAs times argv with hyperfine -N (no shell), as the user or as
// root.
func (b *bench) hyperfineAs(name string, argv []string, warmup, runs int, asUser bool) (*stat, error) {
	out := filepath.Join(b.udir, "out", name+".json")
	os.Remove(out)
	args := []string{"-N", "--warmup", strconv.Itoa(warmup), "--runs", strconv.Itoa(runs),
		"--style", "basic", "--export-json", out, "--command-name", name, shellJoin(argv)}
	var c *exec.Cmd
	if asUser {
		c = b.userCmd("hyperfine", args...)
	} else {
		c = exec.Command("hyperfine", args...)
		c.Dir = b.tmp
	}
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("hyperfine %s: %v", name, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var hf struct {
		Results []struct {
			Mean, Stddev, Median, Min, Max float64
			Times                          []float64
		}
	}
	if err := json.Unmarshal(data, &hf); err != nil {
		return nil, fmt.Errorf("hyperfine JSON: %v", err)
	}
	if len(hf.Results) != 1 {
		return nil, fmt.Errorf("hyperfine JSON: %d results", len(hf.Results))
	}
	r := hf.Results[0]
	return &stat{Median: r.Median * 1e3, Min: r.Min * 1e3, Max: r.Max * 1e3, Mean: r.Mean * 1e3,
		Stddev: r.Stddev * 1e3, Runs: len(r.Times), Warmup: warmup}, nil
}

// rss is the median over rssRuns of GNU time's %M: the peak RSS of the
// largest single process of the tree, in KiB.
func (b *bench) rss(argv []string) (int, error) {
	var v []float64
	out := filepath.Join(b.udir, "out", "rss.txt")
	for i := 0; i < b.opt.rssRuns; i++ {
		os.Remove(out)
		c := b.userCmd("/usr/bin/time", append([]string{"-f", "%M", "-o", out}, argv...)...)
		if msg, err := c.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%v: %s", err, firstLine(msg))
		}
		n, err := strconv.Atoi(strings.TrimSpace(lastLines([]byte(readFile(out)), 1)))
		if err != nil {
			return 0, fmt.Errorf("GNU time output: %v", err)
		}
		v = append(v, float64(n))
	}
	return int(median(v)), nil
}

func (b *bench) series() []series {
	var out []series
	for _, t := range tools {
		s := series{name: t, points: map[int]float64{}}
		for n, c := range b.results[t] {
			if c.stat != nil {
				s.points[n] = c.stat.Median
			}
		}
		out = append(out, s)
	}
	return out
}

// ---- helpers ----------------------------------------------------------------

func readEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func readFile(p string) string {
	data, _ := os.ReadFile(p)
	return string(data)
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func lastLines(b []byte, n int) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// shellJoin quotes argv for hyperfine -N, which splits its command with
// POSIX shell-word rules (no shell runs).
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:+,@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func version(tool string) string {
	var out []byte
	switch tool {
	case "hyperfine":
		out, _ = exec.Command(tool, "--version").Output()
		return strings.TrimPrefix(firstLine(out), "hyperfine ")
	case "bwrap":
		out, _ = exec.Command(tool, "--version").Output()
		return strings.TrimPrefix(firstLine(out), "bubblewrap ")
	case "crun", "runc":
		out, _ = exec.Command(tool, "--version").Output()
		f := strings.Fields(firstLine(out))
		if len(f) >= 3 {
			return f[2]
		}
	case "nix-store":
		out, _ = exec.Command(tool, "--version").Output()
		return firstLine(out)
	}
	return "?"
}

func loadavg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the host for the report.
func machine() [][2]string {
	cpu := "?"
	for _, l := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			cpu = strings.TrimSpace(v)
			break
		}
	}
	osName := "?"
	for _, l := range strings.Split(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			osName = strings.Trim(v, `"`)
		}
	}
	mem := "?"
	for _, l := range strings.Split(readFile("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			if kb, err := strconv.Atoi(strings.Fields(v)[0]); err == nil {
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	nproc, _ := exec.Command("nproc").Output()
	return [][2]string{
		{"date", time.Now().UTC().Format("2006-01-02 15:04 MST")},
		{"CPUs (`nproc`)", strings.TrimSpace(string(nproc)) + fmt.Sprintf(" (Go sees %d)", runtime.NumCPU())},
		{"CPU model", cpu},
		{"memory", mem},
		{"kernel", strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))},
		{"OS", osName},
		{"cgroups", "cgroup2 controllers at /sys/fs/cgroup/unified: `" + strings.TrimSpace(readFile("/sys/fs/cgroup/unified/cgroup.controllers")) + "`"},
		{"tools", fmt.Sprintf("hyperfine %s, bubblewrap %s, crun %s, runc %s, %s", version("hyperfine"), version("bwrap"), version("crun"), version("runc"), version("nix-store"))},
	}
}
