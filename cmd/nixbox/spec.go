package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nixbox/nixbox/runtime/rootfs"
	"github.com/nixbox/nixbox/runtime/specgen"
)

// cmdSpec prints the OCI config.json nixbox would run, or writes a bundle
// (config.json + rootfs skeleton) that any OCI runtime can start.
func cmdSpec(s *streams, args []string) error {
	f, err := parseAppFlags("spec", args, true, false)
	if err != nil {
		return err
	}
	pr, plan, err := preparePlan(f)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(plan.Spec, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if !f.bundle.set {
		_, err = s.out.Write(data)
		return err
	}
	dir := f.bundle.v
	if !filepath.IsAbs(dir) {
		if dir, err = filepath.Abs(dir); err != nil {
			return err
		}
	}
	// Never overwrite: a bundle goes into a new or empty directory.
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating bundle: %w", err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		return usageErr("give a new or empty directory", "bundle directory %q is not empty", f.bundle.v)
	}
	if pr.input.HomeSource != "" {
		if err := pr.checkBinds(true); err != nil {
			return err
		}
	}
	// The bundle carries its own copy of the compiled filter, so it keeps
	// working when the cache is cleaned.
	bpf, err := os.ReadFile(pr.input.SeccompBPF)
	if err != nil {
		return err
	}
	pr.input.SeccompBPF = filepath.Join(dir, "seccomp.bpf")
	if err := os.WriteFile(pr.input.SeccompBPF, bpf, 0o600); err != nil {
		return err
	}
	if plan, err = specgen.Build(pr.input); err != nil {
		return err
	}
	if data, err = json.MarshalIndent(plan.Spec, "", "  "); err != nil {
		return err
	}
	if err := rootfs.Write(filepath.Join(dir, "rootfs"), plan.Rootfs); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(data, '\n'), 0o600)
}
