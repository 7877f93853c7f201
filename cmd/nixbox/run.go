package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nixbox/nixbox/runtime/hostfs"

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
	trace("run: arguments parsed")
	pr, err := prepare(ctx, f)
	if err != nil {
		return err
	}
	trace("run: prepared (profile, closure, seccomp filter)")
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
	trace("run: host checks, binds, state root")
	// State left by a crashed or killed run is cleaned here.
	sandbox.GC(root)
	trace("run: state GC")

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
	trace("run: cgroup, instance")
	plan, err := specgen.Build(pr.input)
	if err != nil {
		return err
	}
	trace("run: spec built")
	if f.verbose {
		for _, w := range plan.Warnings {
			fmt.Fprintf(s.err, "nixbox: warning: %s\n", sanitize(w.String()))
		}
	}
	if err := rootfs.Write(inst.RootfsDir(), plan.Rootfs); err != nil {
		return err
	}
	trace("run: rootfs written")
	sources, err := pinSources(pr.input.Binds, pr.env.UID)
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range sources {
			p.file.Close()
		}
	}()
	rec := record{ID: inst.ID, Profile: pr.profile.Name, Source: pr.profile.Source, Argv: pr.input.Argv,
		UID: pr.env.UID, Network: string(pr.profile.Network.Mode), Cgroup: cgPath, Limits: limitsOf(pr.profile)}
	onStart := func(pid int) {
		rec.Pid, rec.Started = pid, time.Now().UTC()
		if err := writeRecord(inst.Dir(), rec); err != nil {
			fmt.Fprintf(s.err, "nixbox: warning: writing the instance record: %s\n", sanitize(err.Error()))
		}
	}
	opts := sandbox.Options{Stdin: s.in, Stdout: s.outFile, Stderr: s.errFile, OnStart: onStart}
	if traceOn {
		opts.Trace = trace
	}
	// Checked after the mounts are made and before the app starts.
	opts.Verify = func(pid int) error {
		if err := verifyPinned(pid, sources); err != nil {
			return err
		}
		if cgPath == "" {
			return nil
		}
		return cgroups.DefaultHost().Verify(pid, cgPath, cgCtrls)
	}
	var exit sandbox.Exit
	if cgPath != "" {
		opts.OnExit = func(e sandbox.Exit) { exit = e }
	}
	code, err := inst.Run(ctx, plan.Spec, opts)
	trace("run: sandbox removed")
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

// pinned is a profile bind whose source was opened before the sandbox
// started, and where it must appear inside.
type pinned struct {
	file *os.File
	dest string
}

// pinSources opens every profile bind source as an O_PATH descriptor
// before the sandbox is built (security suite case 7, runc
// CVE-2021-30465). libcontainer mounts sources by path and cannot take a
// descriptor from another mount namespace, so after the mounts are made
// and before the app starts (nixbox-init waits for the go-ahead),
// verifyPinned checks that each destination inside holds exactly the
// object that was opened: a source swapped for a symlink in between makes
// the run fail instead.
func pinSources(binds []specgen.Bind, uid int) ([]pinned, error) {
	var out []pinned
	for _, b := range binds {
		f, _, err := hostfs.OpenSource(b.Source, uid)
		if err != nil {
			for _, p := range out {
				p.file.Close()
			}
			return nil, fmt.Errorf("%s: %w", b.Key, err)
		}
		out = append(out, pinned{file: f, dest: b.Dest})
	}
	return out, nil
}

// verifyPinned compares each pinned source with what the sandbox's init
// (host pid) sees at its destination.
func verifyPinned(pid int, ps []pinned) error {
	for _, p := range ps {
		var want, got unix.Stat_t
		if err := unix.Fstat(int(p.file.Fd()), &want); err != nil {
			return err
		}
		inside := fmt.Sprintf("/proc/%d/root%s", pid, p.dest)
		if err := unix.Stat(inside, &got); err != nil {
			return fmt.Errorf("checking the bind at %s: %w", p.dest, err)
		}
		if got.Dev != want.Dev || got.Ino != want.Ino {
			return fmt.Errorf("%w: the bind at %s is not the source nixbox checked (it was replaced while the sandbox started)",
				hostfs.ErrSymlink, p.dest)
		}
	}
	return nil
}
