package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nixbox/nixbox/runtime/cgroups"
	"github.com/nixbox/nixbox/runtime/sandbox"
)

const enterUsage = "usage: nixbox enter ID [--] CMD [ARGS...] (CMD: an absolute path inside the sandbox)"

// cmdEnter runs a command inside one of the caller's running instances,
// with the app's namespaces, identity, seccomp filter, no capabilities and
// no_new_privs. The instance is looked up by id in the caller's own state
// root only; no pid is ever taken from the command line.
func cmdEnter(s *streams, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return errHelp
	}
	if len(args) < 1 || args[0] == "" || strings.HasPrefix(args[0], "-") {
		return usageErr(enterUsage, "enter: give an instance id (see nixbox ps)")
	}
	id, argv := args[0], args[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return usageErr(enterUsage, "enter: give a command to run")
	}
	if !filepath.IsAbs(argv[0]) {
		return usageErr(enterUsage+"; the command sees the app's closure, e.g. /nix/store/...-coreutils/bin/ls",
			"enter: %q is not an absolute path", argv[0])
	}
	for _, a := range argv {
		if strings.ContainsRune(a, 0) {
			return usageErr("", "an argument contains a NUL byte")
		}
	}
	root, env, err := userStateRoot()
	if err != nil {
		return err
	}
	live, err := sandbox.List(root)
	if err != nil {
		return err
	}
	var rec *record
	for _, l := range live {
		if l.ID != id {
			continue
		}
		r, err := readRecord(l.Dir)
		if err != nil {
			return fmt.Errorf("%w: %s is still starting", sandbox.ErrNotEnterable, id)
		}
		rec = &r
	}
	if rec == nil || rec.ID != id {
		return fmt.Errorf("%w %q: `nixbox ps` lists yours", errNoInstance, id)
	}
	if rec.UID != env.UID {
		return fmt.Errorf("%w %q: it belongs to uid %d", errNoInstance, id, rec.UID)
	}
	opts := sandbox.Options{Stdin: s.in, Stdout: s.outFile, Stderr: s.errFile}
	if rec.Cgroup != "" {
		// The entered process must be held by the instance's limits
		// like the app (security suite case 51): checked on the host,
		// and the process is killed if it is not in the cgroup.
		ctrls := rec.Limits.controllers()
		opts.Verify = func(pid int) error { return cgroups.DefaultHost().Verify(pid, rec.Cgroup, ctrls) }
	}
	code, err := sandbox.Enter(context.Background(), root, id, argv, sandbox.EnterOptions{
		Options:  opts,
		Terminal: env.Terminal,
		InitPid:  rec.Pid,
	})
	if err != nil {
		if errors.Is(err, sandbox.ErrNoInstance) {
			return fmt.Errorf("%w %q: `nixbox ps` lists yours", errNoInstance, id)
		}
		return err
	}
	return appExit(code)
}
