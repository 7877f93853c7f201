package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// result is what one in-process CLI invocation produced.
type result struct {
	code        int
	stdout      string
	stderr      string
	stderrLines []string
}

// runCLI calls run(args) in-process with temp files for stdout and stderr
// and /dev/null as stdin. It never passes "init", so main.go's re-exec hook
// (sandbox.IsInit looks at os.Args) stays out of the way.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	code := run(args, stdin, stdout, stderr)

	out, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	errb, err := os.ReadFile(stderr.Name())
	if err != nil {
		t.Fatal(err)
	}
	r := result{code: code, stdout: string(out), stderr: string(errb)}
	if s := strings.TrimSuffix(r.stderr, "\n"); s != "" {
		r.stderrLines = strings.Split(s, "\n")
	}
	return r
}

// isolateHome points HOME and the XDG directories at a fresh temp dir so
// that hostenv.Detect and the profile loader see nothing of the real user.
// It returns the home directory.
func isolateHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	return home
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "--help", args: []string{"--help"}, want: usageText},
		{name: "-h", args: []string{"-h"}, want: usageText},
		{name: "help", args: []string{"help"}, want: usageText},
		{name: "version", args: []string{"version"}, want: "nixbox " + version + "\n"},
		{name: "--version", args: []string{"--version"}, want: "nixbox " + version + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tc.args...)
			if r.code != 0 {
				t.Errorf("run(%q) = %d, want 0", tc.args, r.code)
			}
			if r.stdout != tc.want {
				t.Errorf("run(%q) stdout = %q, want %q", tc.args, r.stdout, tc.want)
			}
			if r.stderr != "" {
				t.Errorf("run(%q) stderr = %q, want empty", tc.args, r.stderr)
			}
		})
	}
}

func TestUsageTextNamesEveryCommand(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"run", "spec", "explain", "profiles", "version"} {
		if !strings.Contains(usageText, "nixbox "+cmd) {
			t.Errorf("usageText does not mention %q", "nixbox "+cmd)
		}
	}
	for _, code := range []string{"125", "126", "127", "128+N"} {
		if !strings.Contains(usageText, code) {
			t.Errorf("usageText does not document exit status %s", code)
		}
	}
}

func TestNoArgs(t *testing.T) {
	t.Parallel()
	r := runCLI(t)
	if r.code != exitUsage {
		t.Errorf("run() = %d, want %d", r.code, exitUsage)
	}
	if r.stdout != "" || r.stderr != usageText {
		t.Errorf("run() stdout = %q, stderr = %q; want the usage on stderr only", r.stdout, r.stderr)
	}
}

// TestUsageErrors pins the exit code and the exact "nixbox: error:" and
// "nixbox: hint:" lines of every usage error that needs no sandbox, no
// profile and no Nix store. run's usage errors are 125 (style.md §5), the
// other subcommands' are 2.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		args      []string
		wantCode  int
		wantError string
		wantHint  string // "" means no hint line
	}{
		{
			name: "unknown command with suggestion", args: []string{"rnu"}, wantCode: exitUsage,
			wantError: `unknown command "rnu"`, wantHint: `did you mean "run"?`,
		},
		{
			name: "unknown command close to profiles", args: []string{"profile"}, wantCode: exitUsage,
			wantError: `unknown command "profile"`, wantHint: `did you mean "profiles"?`,
		},
		{
			name: "unknown command without suggestion", args: []string{"frobnicate"}, wantCode: exitUsage,
			wantError: `unknown command "frobnicate"`,
		},
		{
			name: "init is not a user command", args: []string{"init"}, wantCode: exitUsage,
			wantError: `unknown command "init"`,
		},
		{
			name: "spec without app", args: []string{"spec"}, wantCode: exitUsage,
			wantError: "spec: no app given", wantHint: "give a profile name, a profile file or a store path",
		},
		{
			name: "spec with empty app", args: []string{"spec", ""}, wantCode: exitUsage,
			wantError: "spec: empty app name", wantHint: "give a profile name, a profile file or a store path",
		},
		{
			name: "explain without app", args: []string{"explain"}, wantCode: exitUsage,
			wantError: "explain: no app given", wantHint: "give a profile name, a profile file or a store path",
		},
		{
			name: "run without app", args: []string{"run"}, wantCode: exitLauncher,
			wantError: "run: no app given", wantHint: "give a profile name, a profile file or a store path",
		},
		{
			name: "run -v without app", args: []string{"run", "-v"}, wantCode: exitLauncher,
			wantError: "run: no app given", wantHint: "give a profile name, a profile file or a store path",
		},
		{
			name: "run with repeated flag", args: []string{"run", "--profile", "a", "--profile", "b", "/nix/store/x"},
			wantCode: exitLauncher, wantError: "--profile: only allowed once", wantHint: "give each flag once",
		},
		{
			name: "spec with repeated flag", args: []string{"spec", "--bundle=a", "--bundle=b", "app"},
			wantCode: exitUsage, wantError: "--bundle: only allowed once", wantHint: "give each flag once",
		},
		{
			name: "spec with unknown flag and suggestion", args: []string{"spec", "--profil", "cli", "app"},
			wantCode: exitUsage, wantError: "unknown flag --profil", wantHint: "did you mean --profile?",
		},
		{
			name: "spec with single-dash unknown flag", args: []string{"spec", "-bundel", "dir", "app"},
			wantCode: exitUsage, wantError: "unknown flag --bundel", wantHint: "did you mean --bundle?",
		},
		{
			name: "run with unknown flag and suggestion", args: []string{"run", "--porfile", "cli", "app"},
			wantCode: exitLauncher, wantError: "unknown flag --porfile", wantHint: "did you mean --profile?",
		},
		{
			name: "run with unknown flag without suggestion", args: []string{"run", "--network=host", "app"},
			wantCode: exitLauncher, wantError: "unknown flag --network", wantHint: "run `nixbox --help` for the flags",
		},
		{
			name: "explain does not take --bundle", args: []string{"explain", "--bundle", "d", "app"},
			wantCode: exitUsage, wantError: "unknown flag --bundle", wantHint: "run `nixbox --help` for the flags",
		},
		{
			name: "flag without value", args: []string{"spec", "--profile"}, wantCode: exitUsage,
			wantError: "--profile needs a value",
		},
		{
			name: "NUL byte in app argument", args: []string{"spec", "app", "--", "a\x00b"}, wantCode: exitUsage,
			wantError: "an argument contains a NUL byte",
		},
		{
			name: "profiles takes no arguments", args: []string{"profiles", "extra"}, wantCode: exitUsage,
			wantError: "profiles takes no arguments",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tc.args...)
			if r.code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d", tc.args, r.code, tc.wantCode)
			}
			if r.stdout != "" {
				t.Errorf("run(%q) stdout = %q, want empty", tc.args, r.stdout)
			}
			want := []string{"nixbox: error: " + tc.wantError}
			if tc.wantHint != "" {
				want = append(want, "nixbox: hint: "+tc.wantHint)
			}
			if !slices.Equal(r.stderrLines, want) {
				t.Errorf("run(%q) stderr = %q, want %q", tc.args, r.stderrLines, want)
			}
		})
	}
}

// TestAppUsageErrorsAfterDetect covers usage errors found once host facts
// are read (hostenv.Detect), still before any profile, store path or
// sandbox is touched.
func TestAppUsageErrorsAfterDetect(t *testing.T) {
	isolateHome(t)
	for _, tc := range []struct {
		name     string
		cmd      string
		wantCode int
	}{
		{name: "run", cmd: "run", wantCode: exitLauncher},
		{name: "spec", cmd: "spec", wantCode: exitUsage},
		{name: "explain", cmd: "explain", wantCode: exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{tc.cmd, "--profile", "cli", "firefox"}
			if tc.cmd == "explain" {
				args = []string{tc.cmd, "--profile=cli", "firefox"}
			}
			r := runCLI(t, args...)
			if r.code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", args, r.code, tc.wantCode, r.stderr)
			}
			want := []string{
				`nixbox: error: --profile given, but "firefox" is not a store path`,
				"nixbox: hint: --profile goes with a store path: nixbox run --profile P /nix/store/…/bin/x",
			}
			if !slices.Equal(r.stderrLines, want) {
				t.Errorf("run(%q) stderr = %q, want %q", args, r.stderrLines, want)
			}
		})
	}
}

// TestProfilesListing lists the profiles with a user profile that shadows
// the built-in "default".
func TestProfilesListing(t *testing.T) {
	home := isolateHome(t)
	dir := filepath.Join(home, ".config", "nixbox", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(dir, "default.toml")
	const userProfile = "version = 1\ndescription = \"my own default\"\n"
	if err := os.WriteFile(user, []byte(userProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not a valid profile name: skipped.
	if err := os.WriteFile(filepath.Join(dir, "Not A Name.toml"), []byte(userProfile), 0o644); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, "profiles")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("run(profiles) = %d, stderr %q; want 0 and no stderr", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"NAME", "SOURCE", "DESCRIPTION"}) {
		t.Errorf("header = %q, want NAME SOURCE DESCRIPTION", lines[0])
	}
	var userLine, builtinLine string
	names := map[string]bool{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			t.Errorf("line %q has fewer than two columns", l)
			continue
		}
		names[f[0]] = true
		switch {
		case f[0] == "default" && f[1] == user:
			userLine = l
		case f[0] == "default" && f[1] == "builtin:default":
			builtinLine = l
		}
	}
	if userLine == "" {
		t.Errorf("no line for the user profile %s in:\n%s", user, r.stdout)
	} else if !strings.HasSuffix(userLine, "my own default") || strings.Contains(userLine, "(shadowed)") {
		t.Errorf("user profile line = %q, want its description and not shadowed", userLine)
	}
	if !regexp.MustCompile(`^default +builtin:default \(shadowed\) +Strict base`).MatchString(builtinLine) {
		t.Errorf("built-in default line = %q, want it marked (shadowed)", builtinLine)
	}
	if strings.Index(r.stdout, user) > strings.Index(r.stdout, "builtin:default") {
		t.Errorf("the user profile is listed after the built-in one it shadows:\n%s", r.stdout)
	}
	for _, n := range []string{"cli", "curl", "jq"} {
		if !names[n] {
			t.Errorf("built-in profile %q not listed:\n%s", n, r.stdout)
		}
	}
	if names["Not"] {
		t.Errorf("a file with an invalid profile name was listed:\n%s", r.stdout)
	}
}

// TestProfilesListingEscapesControlChars: a profile's description is shown
// with its control characters escaped (CVE-2023-28101).
func TestProfilesListingEscapesControlChars(t *testing.T) {
	home := isolateHome(t)
	dir := filepath.Join(home, ".config", "nixbox", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := "version = 1\ndescription = \"evil \\u001b]0;pwned\\u0007 \\u009b31m\"\n"
	if err := os.WriteFile(filepath.Join(dir, "evil.toml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "profiles")
	if r.code != 0 {
		t.Fatalf("run(profiles) = %d, stderr %q", r.code, r.stderr)
	}
	if strings.ContainsAny(r.stdout, "\x1b\x07\u009b") {
		t.Errorf("stdout holds raw control characters: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, `evil \x1b]0;pwned\x07 \x9b31m`) {
		t.Errorf("stdout = %q, want the escaped description", r.stdout)
	}
}

// TestErrorsEscapeControlChars: what the user typed is echoed escaped, so
// an argument cannot drive the terminal (CVE-2023-28101).
func TestErrorsEscapeControlChars(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "\x1b]0;pwned\x07\x1b[2J\r\nnixbox: hint: fake")
	if r.code != exitUsage {
		t.Errorf("code = %d, want %d", r.code, exitUsage)
	}
	if strings.ContainsAny(r.stderr, "\x1b\x07\r") {
		t.Errorf("stderr holds raw control characters: %q", r.stderr)
	}
	want := []string{`nixbox: error: unknown command "\x1b]0;pwned\a\x1b[2J\r\nnixbox: hint: fake"`}
	if !slices.Equal(r.stderrLines, want) {
		t.Errorf("stderr = %q, want %q", r.stderrLines, want)
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{name: "plain", in: "loading profile: ok", want: "loading profile: ok"},
		{name: "empty", in: "", want: ""},
		{name: "newline", in: "a\nb", want: `a\nb`},
		{name: "carriage return", in: "a\rb", want: `a\x0db`},
		{name: "tab", in: "a\tb", want: `a\x09b`},
		{name: "NUL", in: "a\x00b", want: `a\x00b`},
		{name: "ESC sequence", in: "\x1b[31mred", want: `\x1b[31mred`},
		{name: "OSC title", in: "\x1b]0;pwned\x07", want: `\x1b]0;pwned\x07`},
		{name: "DEL", in: "a\x7f", want: `a\x7f`},
		{name: "C1 CSI", in: "a\u009b31m", want: `a\x9b31m`},
		{name: "C1 range end", in: "\u0080\u009f", want: `\x80\x9f`},
		{name: "NBSP kept", in: "a\u00a0b", want: "a\u00a0b"},
		{name: "UTF-8 kept", in: "ünïcødé → ✓", want: "ünïcødé → ✓"},
		{name: "invalid UTF-8 replaced", in: "a\xffb", want: "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sanitize(tc.in); got != tc.want {
				t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"run", "run", 0},
		{"", "run", 3},
		{"run", "", 3},
		{"run", "rnu", 2},
		{"spec", "sepc", 2},
		{"profile", "profiles", 1},
		{"kitten", "sitting", 3},
		{"flaw", "lawn", 2},
		{"explain", "explian", 2},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (not symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	commands := func() []string { return []string{"run", "spec", "explain", "profiles", "version", "help"} }
	for _, tc := range []struct {
		name       string
		s          string
		candidates []string
		want       string
	}{
		{name: "transposition", s: "rnu", candidates: commands(), want: "run"},
		{name: "missing letter", s: "profile", candidates: commands(), want: "profiles"},
		{name: "typo", s: "expalin", candidates: commands(), want: "explain"},
		{name: "exact", s: "spec", candidates: commands(), want: "spec"},
		{name: "too far", s: "frobnicate", candidates: commands(), want: ""},
		{name: "distance 3 is too far", s: "abc", candidates: []string{"xyz"}, want: ""},
		{name: "empty input", s: "", candidates: commands(), want: ""},
		{name: "no candidates", s: "run", candidates: nil, want: ""},
		{name: "tie goes to the first in sort order", s: "ab", candidates: []string{"ac", "aa"}, want: "aa"},
		{name: "flag names", s: "profil", candidates: []string{"profile", "bundle", "v"}, want: "profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := suggest(tc.s, tc.candidates); got != tc.want {
				t.Errorf("suggest(%q, %q) = %q, want %q", tc.s, tc.candidates, got, tc.want)
			}
		})
	}
}
