package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/term"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/seccache"
	"github.com/nixbox/nixbox/runtime/specgen"
	"github.com/nixbox/nixbox/seccomp"
)

// errOutputExists is returned when --output names a file that exists:
// nixbox never overwrites user data.
var errOutputExists = errors.New("output file exists")

// cmdSeccomp dispatches `nixbox seccomp show|export`.
func cmdSeccomp(s *streams, args []string) error {
	if len(args) == 0 {
		return usageErr("nixbox seccomp show NAME, or nixbox seccomp export NAME --format oci|bpf", "seccomp: no subcommand given")
	}
	switch args[0] {
	case "-h", "--help", "help":
		return errHelp
	case "show":
		return cmdSeccompShow(s, args[1:])
	case "export":
		return cmdSeccompExport(s, args[1:])
	}
	hint := "the subcommands are show and export"
	if sug := suggest(args[0], []string{"show", "export"}); sug != "" {
		hint = fmt.Sprintf("did you mean %q?", sug)
	}
	return usageErr(hint, "seccomp: unknown subcommand %q", args[0])
}

// seccompFlags are the flags of show and export.
type seccompFlags struct {
	format onceString
	output onceString
	name   string
}

// parseSeccompFlags accepts flags before and after NAME (the only
// positional argument): `export NAME --format bpf` reads naturally.
func parseSeccompFlags(cmd string, args []string, withExport bool) (*seccompFlags, error) {
	f := &seccompFlags{}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if withExport {
		fs.Var(&f.format, "format", "oci or bpf")
		fs.Var(&f.output, "output", "write to FILE instead of standard output")
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagErr(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	hint := "give a profile name or a profile file (./app.toml)"
	switch {
	case len(pos) == 0:
		return nil, usageErr(hint, "seccomp %s: no profile given", cmd)
	case len(pos) > 1:
		return nil, usageErr(hint, "seccomp %s: one profile only, got %d arguments", cmd, len(pos))
	case pos[0] == "":
		return nil, usageErr(hint, "seccomp %s: empty profile name", cmd)
	case strings.HasPrefix(pos[0], "/nix/store/"):
		// A store path runs under --profile (default "default"); the
		// filter depends on that profile only.
		return nil, usageErr("a store path runs under its --profile: nixbox seccomp "+cmd+" default",
			"seccomp %s: %q is a store path, not a profile", cmd, pos[0])
	}
	f.name = pos[0]
	if withExport {
		if !f.format.set {
			return nil, usageErr("--format oci (the OCI JSON) or --format bpf (the compiled filter)", "seccomp export: --format is required")
		}
		if f.format.v != "oci" && f.format.v != "bpf" {
			return nil, usageErr("--format oci (the OCI JSON) or --format bpf (the compiled filter)", "seccomp export: unknown format %q", f.format.v)
		}
		if f.output.set && f.output.v == "" {
			return nil, usageErr("", "seccomp export: --output needs a file name")
		}
	}
	return f, nil
}

// loadSeccomp loads profile name and renders its seccomp policy, exactly
// as run does (specgen.SeccompPolicy); the app is not resolved.
func loadSeccomp(name string) (*profiles.Profile, hostenv.Env, *specs.LinuxSeccomp, error) {
	env, err := hostenv.Detect()
	if err != nil {
		return nil, env, nil, err
	}
	p, err := profileLoader(env).Load(name)
	if err != nil {
		return nil, env, nil, err
	}
	policy, err := specgen.SeccompPolicy(p)
	if err != nil {
		return nil, env, nil, err
	}
	return p, env, policy, nil
}

// cmdSeccompShow prints the effective policy of a profile.
func cmdSeccompShow(s *streams, args []string) error {
	f, err := parseSeccompFlags("show", args, false)
	if err != nil {
		return err
	}
	p, env, policy, err := loadSeccomp(f.name)
	if err != nil {
		return err
	}
	w := s.out
	name := p.Seccomp.Policy
	if name == "" {
		name = seccomp.PolicyStrict
	}
	net := "none: socket(AF_INET/AF_INET6) fails with EAFNOSUPPORT"
	if p.Network.Mode == profiles.NetworkHost {
		net = "host: socket(AF_INET/AF_INET6) allowed"
	}
	fmt.Fprintf(w, "profile: %s (%s)\n", sanitize(p.Name), sanitize(strings.Join(p.Chain, " <- ")))
	fmt.Fprintf(w, "policy: %s\n", name)
	fmt.Fprintf(w, "network: %s\n", net)
	if id := seccomp.CompilerID(); id != "" {
		key, err := seccache.Key(policy, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "compiler: %s\n", id)
		fmt.Fprintf(w, "cache key: %s\n", key)
		fmt.Fprintf(w, "cache file: %s\n", sanitize(filepath.Join(xdgDir(env, "XDG_CACHE_HOME", ".cache"), "nixbox", "seccomp", key+".bpf")))
		if nr, sys, ok := seccomp.EnosysAbove(policy); ok {
			fmt.Fprintf(w, "enosys stub: x86_64 numbers above %d (%s, the highest this policy names that\n  the linked libseccomp knows) fail with ENOSYS\n", nr, sys)
			for _, a := range policy.Architectures {
				if a == specs.ArchX86 {
					fmt.Fprintf(w, "  i386 likewise, above the highest i386 number the policy names\n")
				}
			}
		}
		if un := seccomp.Unresolved(policy); len(un) > 0 {
			fmt.Fprintf(w, "not enforced: the linked libseccomp does not know these names, so their rules are\n"+
				"  skipped, as runc does (the default action or the ENOSYS stub applies):\n")
			fmt.Fprintf(w, "    %s\n", strings.Join(un, " "))
		}
	} else {
		fmt.Fprintf(w, "cache key: none (this nixbox was built without libseccomp and cannot run apps)\n")
	}
	fmt.Fprintln(w)
	_, err = io.WriteString(w, seccomp.Describe(policy))
	return err
}

// cmdSeccompExport writes a profile's policy as OCI JSON or compiled BPF.
func cmdSeccompExport(s *streams, args []string) error {
	f, err := parseSeccompFlags("export", args, true)
	if err != nil {
		return err
	}
	// Refuse binary output to a terminal before any work.
	if f.format.v == "bpf" && !f.output.set && s.outFile != nil && term.IsTerminal(int(s.outFile.Fd())) {
		return usageErr("redirect standard output, or use --output FILE", "seccomp export: not writing a binary BPF program to a terminal")
	}
	_, _, policy, err := loadSeccomp(f.name)
	if err != nil {
		return err
	}
	var data []byte
	switch f.format.v {
	case "oci":
		if data, err = json.MarshalIndent(policy, "", "  "); err != nil {
			return err
		}
		data = append(data, '\n')
	case "bpf":
		// Exactly the bytes nixbox caches and nixbox-init loads.
		if data, err = seccomp.Compile(policy); err != nil {
			return fmt.Errorf("compiling the seccomp filter: %w", err)
		}
	}
	if !f.output.set {
		_, err = s.out.Write(data)
		return err
	}
	out, err := os.OpenFile(f.output.v, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s", errOutputExists, f.output.v)
	}
	if err != nil {
		return err
	}
	if _, err := out.Write(data); err != nil {
		out.Close()
		os.Remove(f.output.v)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(f.output.v)
		return err
	}
	return nil
}
