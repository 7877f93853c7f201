package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nixbox/nixbox/runtime/seccache"
	"github.com/nixbox/nixbox/seccomp"
)

func TestSeccompUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		args            []string
		wantErr, wantHt string
	}{
		{"no subcommand", []string{"seccomp"}, "seccomp: no subcommand given",
			"nixbox seccomp show NAME, or nixbox seccomp export NAME --format oci|bpf"},
		{"misspelled subcommand", []string{"seccomp", "shwo", "default"}, `seccomp: unknown subcommand "shwo"`, `did you mean "show"?`},
		{"show without profile", []string{"seccomp", "show"}, "seccomp show: no profile given",
			"give a profile name or a profile file (./app.toml)"},
		{"show with two profiles", []string{"seccomp", "show", "a", "b"}, "seccomp show: one profile only, got 2 arguments",
			"give a profile name or a profile file (./app.toml)"},
		{"show takes no --format", []string{"seccomp", "show", "--format", "oci", "default"}, "unknown flag --format",
			"run `nixbox --help` for the flags"},
		{"show of a store path", []string{"seccomp", "show", "/nix/store/x-y/bin/z"},
			`seccomp show: "/nix/store/x-y/bin/z" is a store path, not a profile`,
			"a store path runs under its --profile: nixbox seccomp show default"},
		{"export without format", []string{"seccomp", "export", "default"}, "seccomp export: --format is required",
			"--format oci (the OCI JSON) or --format bpf (the compiled filter)"},
		{"export with unknown format", []string{"seccomp", "export", "default", "--format", "yaml"},
			`seccomp export: unknown format "yaml"`, "--format oci (the OCI JSON) or --format bpf (the compiled filter)"},
		{"export with repeated format", []string{"seccomp", "export", "--format", "oci", "default", "--format=bpf"},
			"--format: only allowed once", "give each flag once"},
		{"export with misspelled flag", []string{"seccomp", "export", "default", "--fromat", "oci"},
			"unknown flag --fromat", "did you mean --format?"},
		{"export with empty output", []string{"seccomp", "export", "default", "--format", "oci", "--output="},
			"seccomp export: --output needs a file name", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tc.args...)
			if r.code != exitUsage || r.stdout != "" {
				t.Errorf("run(%q) = %d, stdout %q; want %d and no output", tc.args, r.code, r.stdout, exitUsage)
			}
			want := []string{"nixbox: error: " + tc.wantErr}
			if tc.wantHt != "" {
				want = append(want, "nixbox: hint: "+tc.wantHt)
			}
			if !slices.Equal(r.stderrLines, want) {
				t.Errorf("run(%q) stderr = %q, want %q", tc.args, r.stderrLines, want)
			}
		})
	}
}

// compatProfileFile writes a compat profile with host network into a
// fresh directory, mode 0644 (owned by the test's user).
func compatProfileFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.toml")
	body := "version = 1\nextends = \"default\"\n[seccomp]\npolicy = \"compat\"\n[network]\nmode = \"host\"\nunsafe = \"the test needs INET sockets\"\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSeccompShow(t *testing.T) {
	isolateHome(t)
	strict, err := seccomp.Build(seccomp.Options{Policy: "strict"})
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "seccomp", "show", "default")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("seccomp show default: %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"profile: default (", "policy: strict\n", "network: none",
		seccomp.Describe(strict),
		"clone: allowed only when flags & 0x7e020000 == 0 (no namespace flags)\n",
		"ioctl: EPERM when arg1 & 0xffffffff == 0x5412 (TIOCSTI) or 0x541c (TIOCLINUX)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("seccomp show default does not contain %q:\n%s", want, r.stdout)
		}
	}
	if id := seccomp.CompilerID(); id != "" {
		key, _ := seccache.Key(strict, id)
		if !strings.Contains(r.stdout, "cache key: "+key+"\n") {
			t.Errorf("seccomp show default does not print the cache key %s:\n%s", key, r.stdout)
		}
	}

	// A profile file: compat with network. Describe the same policy.
	compat, err := seccomp.Build(seccomp.Options{Policy: "compat", Network: true})
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "seccomp", "show", compatProfileFile(t))
	if r.code != 0 || !strings.Contains(r.stdout, "policy: compat\n") || !strings.Contains(r.stdout, "network: host") ||
		!strings.HasSuffix(r.stdout, seccomp.Describe(compat)) {
		t.Errorf("seccomp show FILE: %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
	}
}

func TestSeccompExportOCI(t *testing.T) {
	isolateHome(t)
	want, err := seccomp.Build(seccomp.Options{Policy: "strict"})
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "seccomp", "export", "default", "--format", "oci")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("export: %d, stderr %q", r.code, r.stderr)
	}
	var got specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(&got)
	if !bytes.Equal(a, b) {
		t.Errorf("exported OCI JSON is not specgen.SeccompPolicy(default)")
	}
	// Deterministic, and --output writes the same bytes to a new file.
	out := filepath.Join(t.TempDir(), "strict.json")
	if r2 := runCLI(t, "seccomp", "export", "--output", out, "--format=oci", "default"); r2.code != 0 {
		t.Fatalf("export --output: %d %q", r2.code, r2.stderr)
	}
	if data, err := os.ReadFile(out); err != nil || string(data) != r.stdout {
		t.Errorf("--output file differs from stdout (err %v)", err)
	}
	// An existing file is never overwritten.
	r3 := runCLI(t, "seccomp", "export", "default", "--format", "oci", "--output", out)
	if r3.code != exitFailure || r3.stdout != "" || len(r3.stderrLines) != 2 ||
		r3.stderrLines[0] != "nixbox: error: output file exists: "+out {
		t.Errorf("export over an existing file: %d, stderr %q", r3.code, r3.stderr)
	}
	if data, _ := os.ReadFile(out); string(data) != r.stdout {
		t.Error("the existing file was changed")
	}
	// Neither is a dangling symlink followed.
	link := filepath.Join(t.TempDir(), "link")
	target := filepath.Join(t.TempDir(), "target")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if r4 := runCLI(t, "seccomp", "export", "default", "--format", "oci", "--output", link); r4.code != exitFailure {
		t.Errorf("export to a dangling symlink: %d", r4.code)
	}
	if _, err := os.Lstat(target); err == nil {
		t.Error("export followed a dangling symlink")
	}
}

func TestSeccompExportBPF(t *testing.T) {
	isolateHome(t)
	pol, err := seccomp.Build(seccomp.Options{Policy: "strict"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := seccomp.Compile(pol)
	r := runCLI(t, "seccomp", "export", "default", "--format", "bpf")
	if err != nil {
		// No libseccomp in this build: export fails cleanly.
		if r.code != exitFailure || !strings.Contains(r.stderr, "not supported by this build") {
			t.Errorf("export bpf without libseccomp: %d %q", r.code, r.stderr)
		}
		return
	}
	if r.code != 0 || r.stdout != string(want) {
		t.Errorf("export bpf: %d, %d bytes, want the %d bytes of seccomp.Compile", r.code, len(r.stdout), len(want))
	}
	// The same bytes nixbox caches for a run.
	path, err := seccache.Get(t.TempDir(), os.Getuid(), pol, seccomp.CompilerID(), seccomp.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if cached, _ := os.ReadFile(path); string(cached) != r.stdout {
		t.Error("exported BPF differs from the cached filter")
	}
}

func TestUsageTextNamesSeccomp(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"nixbox seccomp show NAME", "nixbox seccomp export NAME --format oci|bpf [--output FILE]"} {
		if !strings.Contains(usageText, s) {
			t.Errorf("usageText does not mention %q", s)
		}
	}
}
