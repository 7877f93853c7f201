package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/nixbox/nixbox/runtime/cgroups"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/rootfs"
	"github.com/nixbox/nixbox/runtime/sandbox"
	"github.com/nixbox/nixbox/runtime/specgen"
)

func cmdRun(s *streams, args []string) error {
	f, err := parseAppFlags("run", args, false, true)
	if err != nil {
		return err
	}
	ctx := context.Background()
	pr, err := prepare(ctx, f)
	if err != nil {
		return err
	}
	// Fail closed before anything is created.
	if err := hostenv.SeccompUsable(); err != nil {
		return err
	}
	if err := hostenv.UsernsUsable(pr.env.UID); err != nil {
		return err
	}
	if err := pr.checkBinds(true); err != nil {
		return err
	}
	root, err := sandbox.StateRoot(pr.env.Vars["XDG_RUNTIME_DIR"], pr.env.Vars["TMPDIR"], pr.env.UID)
	if err != nil {
		return err
	}
	// State left by a crashed or killed run is cleaned here.
	sandbox.GC(root)

	id := pr.profile.Name + "-" + randomID()
	// Limits need a delegated cgroup: refuse before anything is created.
	// Without limits there is no cgroupsPath and no cgroup cost (as root
	// libcontainer still makes a nixbox-ID cgroup under its own, as
	// before; host-facts §7.5).
	cgPath, cgCtrls, err := prepareCgroup(pr.env, pr.profile, id)
	if err != nil {
		return err
	}
	inst, err := sandbox.NewInstance(root, id)
	if err != nil {
		return err
	}
	defer inst.Close()
	pr.input.Rootfs = inst.RootfsDir()
	pr.input.CgroupsPath = cgPath
	plan, err := specgen.Build(pr.input)
	if err != nil {
		return err
	}
	if f.verbose {
		for _, w := range plan.Warnings {
			fmt.Fprintf(s.err, "nixbox: warning: %s\n", sanitize(w.String()))
		}
	}
	if err := rootfs.Write(inst.RootfsDir(), plan.Rootfs); err != nil {
		return err
	}
	rec := record{ID: inst.ID, Profile: pr.profile.Name, Source: pr.profile.Source, Argv: pr.input.Argv,
		UID: pr.env.UID, Network: string(pr.profile.Network.Mode), Cgroup: cgPath, Limits: limitsOf(pr.profile)}
	onStart := func(pid int) {
		rec.Pid, rec.Started = pid, time.Now().UTC()
		if err := writeRecord(inst.Dir(), rec); err != nil {
			fmt.Fprintf(s.err, "nixbox: warning: writing the instance record: %s\n", sanitize(err.Error()))
		}
	}
	opts := sandbox.Options{Stdin: s.in, Stdout: s.outFile, Stderr: s.errFile, OnStart: onStart}
	var exit sandbox.Exit
	if cgPath != "" {
		opts.Verify = func(pid int) error { return cgroups.DefaultHost().Verify(pid, cgPath, cgCtrls) }
		opts.OnExit = func(e sandbox.Exit) { exit = e }
	}
	code, err := inst.Run(ctx, plan.Spec, opts)
	if err != nil {
		if uerr := hostenv.UsernsUsable(pr.env.UID); uerr != nil {
			return uerr
		}
		return err
	}
	if exit.OOMKills > 0 && code > 128 {
		return &oomKilled{profile: pr.profile.Name, limit: pr.profile.Limits.Memory, code: code}
	}
	return appExit(code)
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
