package main

import (
	"fmt"
	"strings"

	"github.com/nixbox/nixbox/profiles"
	"github.com/nixbox/nixbox/runtime/specgen"
)

// cmdExplain prints a readable summary of what a run would allow, with a
// warning line for every loosening. It uses the same plan as run.
func cmdExplain(s *streams, args []string) error {
	f, err := parseAppFlags("explain", args, false, false)
	if err != nil {
		return err
	}
	pr, plan, err := preparePlan(f)
	if err != nil {
		return err
	}
	p := pr.profile
	w := s.out
	fmt.Fprintf(w, "profile:   %s (%s)\n", p.Name, strings.Join(p.Chain, " <- "))
	fmt.Fprintf(w, "program:   %s\n", sanitize(strings.Join(pr.input.Argv, " ")))
	fmt.Fprintf(w, "closure:   %d store paths, read-only (symlink members recreated, never followed)\n", len(pr.closure.Paths))
	fmt.Fprintf(w, "user:      uid %d gid %d mapped to itself, no capabilities, no_new_privs\n", pr.env.UID, pr.env.GID)
	home := "ephemeral tmpfs (empty at every run)"
	if p.Home.Mode == profiles.HomePersistent {
		home = "persistent: " + pr.homeDir
	}
	fmt.Fprintf(w, "home:      %s at %s\n", home, pr.env.Home)
	net := "none (loopback only)"
	if p.Network.Mode == profiles.NetworkHost {
		net = "host"
	}
	fmt.Fprintf(w, "network:   %s\n", net)
	policy := p.Seccomp.Policy
	if policy == "" {
		policy = "strict"
	}
	fmt.Fprintf(w, "seccomp:   %s (x86_64 only)\n", policy)
	if len(pr.input.Binds) == 0 && len(p.Filesystem.Tmpfs) == 0 {
		fmt.Fprintf(w, "files:     no host files\n")
	}
	for _, b := range pr.input.Binds {
		mode := "ro"
		if b.RW {
			mode = "rw"
		}
		fmt.Fprintf(w, "bind %s:   %s -> %s\n", mode, sanitize(b.Source), sanitize(b.Dest))
	}
	for _, r := range pr.requests {
		if !contains(pr.input.Binds, r.Bind) {
			fmt.Fprintf(w, "skipped:   %s (%s missing; optional or created at run time)\n", r.Key, sanitize(r.Source))
		}
	}
	for _, t := range p.Filesystem.Tmpfs {
		size := t.Size
		if size == "" {
			size = "64M"
		}
		inodes := ""
		if t.NrInodes > 0 {
			inodes = fmt.Sprintf(", %d inodes", t.NrInodes)
		}
		fmt.Fprintf(w, "tmpfs:     %s (%s%s)\n", sanitize(t.Dest), sanitize(size), inodes)
	}
	for _, e := range plan.Spec.Process.Env {
		name, _, _ := strings.Cut(e, "=")
		fmt.Fprintf(w, "env:       %s\n", sanitize(name))
	}
	for _, wr := range plan.Warnings {
		fmt.Fprintf(w, "warning:   %s\n", sanitize(wr.String()))
	}
	return nil
}

func contains(bs []specgen.Bind, b specgen.Bind) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}
