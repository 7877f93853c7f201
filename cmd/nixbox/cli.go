package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

const usageText = `nixbox runs Nix-packaged apps in unprivileged sandboxes.

Usage:
  nixbox run [-v] [--profile NAME] APP [--] [ARGS...]
  nixbox spec [--bundle DIR] [--profile NAME] APP [--] [ARGS...]
  nixbox explain [--profile NAME] APP
  nixbox profiles
  nixbox ps [--json]
  nixbox kill ID [SIGNAL]
  nixbox stats [ID] [--json]
  nixbox top [-n COUNT]
  nixbox doctor
  nixbox setup-cgroups --user NAME     (root)
  nixbox enter ID [--] CMD [ARGS...]
  nixbox seccomp show NAME
  nixbox seccomp export NAME --format oci|bpf [--output FILE]
  nixbox version

APP is a profile name (looked up in $XDG_CONFIG_HOME/nixbox/profiles,
/etc/nixbox/profiles, then the built-in library), a profile file path
containing a slash (./app.toml), or a program in the Nix store
(/nix/store/...-pkg/bin/prog), run under --profile (default: "default").
Everything after APP is passed to the app verbatim.

seccomp show prints the effective system call filter of profile NAME (a
name or a file, as for APP); seccomp export writes it as OCI JSON or as the
compiled BPF program nixbox-init loads, to standard output or to a new FILE.

enter runs CMD (an absolute path in the app's closure) inside the running
instance ID (see ps), with the app's namespaces, uid, seccomp filter, no
capabilities and no_new_privs. Its exit status is CMD's; 1 if nixbox failed.

stats prints memory (now, peak, limit), CPU, pids and OOM kills of your
running instances whose profile sets limits; top redraws it every second.
doctor checks user namespaces, seccomp, cgroups (limits) and Landlock, and
names the fix for what is missing (exit 1 if a default run cannot work).
setup-cgroups delegates a cgroup subtree to user NAME, for limits on hosts
without systemd (docs/limits.md).

Exit status of run: the app's status; 128+N if it was killed by signal N;
125 if nixbox failed before the app started; 126 if the command cannot be
executed; 127 if the command is not in the app's closure.
`

// streams are the command's standard files.
type streams struct {
	in       *os.File
	out, err io.Writer
	outFile  *os.File
	errFile  *os.File
}

func run(args []string, stdin, stdout, stderr *os.File) int {
	s := &streams{in: stdin, out: stdout, err: stderr, outFile: stdout, errFile: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return 0
	case "--version", "version":
		fmt.Fprintln(stdout, "nixbox", version)
		return 0
	case "run":
		return report(s, cmdRun(s, rest), true)
	case "spec":
		return report(s, cmdSpec(s, rest), false)
	case "explain":
		return report(s, cmdExplain(s, rest), false)
	case "profiles":
		return report(s, cmdProfiles(s, rest), false)
	case "ps":
		return report(s, cmdPs(s, rest), false)
	case "kill":
		return report(s, cmdKill(s, rest), false)
	case "stats":
		return report(s, cmdStats(s, rest), false)
	case "top":
		return report(s, cmdTop(s, rest), false)
	case "doctor":
		return report(s, cmdDoctor(s, rest), false)
	case "setup-cgroups":
		return report(s, cmdSetupCgroups(s, rest), false)
	case "enter":
		return report(s, cmdEnter(s, rest), false)
	case "seccomp":
		return report(s, cmdSeccomp(s, rest), false)
	}
	hint := ""
	if sug := suggest(cmd, []string{"run", "spec", "explain", "profiles", "ps", "kill", "enter", "seccomp", "version", "help", "stats", "top", "doctor", "setup-cgroups"}); sug != "" {
		hint = fmt.Sprintf("did you mean %q?", sug)
	}
	return report(s, usageErr(hint, "unknown command %q", cmd), false)
}

// appFlags are the flags shared by run, spec and explain.
type appFlags struct {
	profile onceString
	bundle  onceString
	verbose bool
	app     string
	args    []string
}

// parseAppFlags parses flags up to the first argument that is not a flag:
// the app. Everything after the app (or after "--") is app argv.
func parseAppFlags(name string, args []string, withBundle, withVerbose bool) (*appFlags, error) {
	f := &appFlags{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&f.profile, "profile", "profile to run a store path under")
	if withBundle {
		fs.Var(&f.bundle, "bundle", "write an OCI bundle to DIR")
	}
	if withVerbose {
		fs.BoolVar(&f.verbose, "v", false, "print warnings")
	}
	if err := fs.Parse(args); err != nil {
		return nil, flagErr(fs, err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, usageErr("give a profile name, a profile file or a store path", "%s: no app given", name)
	}
	f.app = rest[0]
	if f.app == "" {
		return nil, usageErr("give a profile name, a profile file or a store path", "%s: empty app name", name)
	}
	f.args = rest[1:]
	if len(f.args) > 0 && f.args[0] == "--" {
		f.args = f.args[1:]
	}
	for _, a := range f.args {
		if strings.ContainsRune(a, 0) {
			return nil, usageErr("", "an argument contains a NUL byte")
		}
	}
	return f, nil
}

// onceString is a flag that may be given only once.
type onceString struct {
	v   string
	set bool
}

func (o *onceString) String() string { return o.v }
func (o *onceString) Set(s string) error {
	if o.set {
		return errOnce
	}
	o.v, o.set = s, true
	return nil
}

var errOnce = errors.New("only allowed once")

// errHelp is returned when a subcommand is asked for -h/--help: the usage
// is printed and the exit status is 0.
var errHelp = errors.New("help requested")

func flagErr(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := "run `nixbox --help` for the flags"
		if sug := suggest(strings.TrimLeft(name, "-"), names); sug != "" {
			hint = fmt.Sprintf("did you mean --%s?", sug)
		}
		return usageErr(hint, "unknown flag --%s", strings.TrimLeft(name, "-"))
	}
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	if strings.HasSuffix(msg, ": "+errOnce.Error()) { // flag wraps with %v
		// "invalid value "b" for flag -profile: only allowed once"
		if i := strings.Index(msg, "for flag -"); i >= 0 {
			name, _, _ := strings.Cut(msg[i+len("for flag -"):], ":")
			return usageErr("give each flag once", "--%s: only allowed once", name)
		}
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return usageErr("", "--%s needs a value", name)
	}
	return usageErr("", "%s", msg)
}

// suggest returns the candidate closest to s by edit distance, if close.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
