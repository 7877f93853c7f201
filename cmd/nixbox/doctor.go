package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nixbox/nixbox/runtime/cgroups"
	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/sandbox"
)

// errDoctor is returned when something a default run needs is missing.
var errDoctor = errors.New("this host cannot run a default sandbox (see above)")

// cmdDoctor reports what this host gives nixbox and how to fix what is
// missing. Exit 0 when a default run (no limits) works, 1 otherwise.
func cmdDoctor(s *streams, args []string) error {
	if len(args) > 0 {
		return usageErr("usage: nixbox doctor", "doctor: unknown argument %q", args[0])
	}
	env, err := hostenv.Detect()
	if err != nil {
		return err
	}
	ok := true
	line := func(status, what, detail string) {
		fmt.Fprintf(s.out, "%-4s %-17s %s\n", status, what, sanitize(detail))
	}
	fix := func(hint string) { fmt.Fprintf(s.out, "     %-17s fix: %s\n", "", sanitize(hint)) }
	hostErr := func(what string, err error) {
		line("FAIL", what, err.Error())
		var he *hostenv.HostError
		if errors.As(err, &he) && he.Hint != "" {
			fix(he.Hint)
		}
	}

	if err := hostenv.UsernsUsable(env.UID); err != nil {
		ok = false
		hostErr("user namespaces", err)
	} else {
		line("ok", "user namespaces", "usable by uid "+strconv.Itoa(env.UID))
	}
	if err := hostenv.SeccompUsable(); err != nil {
		ok = false
		hostErr("seccomp (kernel)", err)
	} else {
		line("ok", "seccomp (kernel)", "filters supported")
	}
	if sandbox.SeccompSupported() {
		line("ok", "seccomp (nixbox)", "built with seccomp support")
	} else {
		ok = false
		line("FAIL", "seccomp (nixbox)", "this binary was built without seccomp support")
		fix("rebuild nixbox with cgo and -tags seccomp (make build)")
	}
	if env.InitPath == "" {
		ok = false
		line("FAIL", "nixbox-init", "not found next to nixbox")
		fix("install nixbox-init next to nixbox, or set NIXBOX_INIT")
	} else {
		line("ok", "nixbox-init", env.InitPath)
	}

	h := cgroups.DefaultHost()
	if l, err := h.Detect(); err != nil {
		line("--", "cgroups", err.Error())
	} else {
		detail := string(l.Mode)
		switch l.Mode {
		case cgroups.Legacy, cgroups.Hybrid:
			detail = fmt.Sprintf("%s (%d v1 hierarchies", l.Mode, len(l.V1))
			if l.Unified != "" {
				detail += ", cgroup2 at " + l.Unified
			}
			detail += ")"
		case cgroups.Unified:
			detail = "v2 (unified, at " + l.Unified + ")"
		}
		line("ok", "cgroup version", detail)
		par, err := h.PrepareParent(cgroups.Request{UID: env.UID, User: env.User, Name: "nixbox-doctor",
			Parent: env.Vars[cgroupParentVar], Controllers: []string{"cpu", "memory", "pids"}})
		if err != nil {
			// Not needed for a default run: only profiles with limits.
			line("--", "limits", "not available: profiles with [limits] are refused (exit 125)")
			line("", "", err.Error())
			var ce *cgroups.Error
			if errors.As(err, &ce) && ce.Hint != "" {
				fix(ce.Hint)
			}
		} else {
			line("ok", "limits", "sandboxes get their cgroup below "+par.Dir)
		}
	}

	if abi, err := hostenv.LandlockABI(); err != nil {
		why := err.Error()
		hint := "boot with lsm=landlock,... (CONFIG_SECURITY_LANDLOCK=y); nixbox does not need it yet"
		if errors.Is(err, unix.ENOSYS) {
			why = "not in this kernel (ENOSYS)"
		} else if errors.Is(err, unix.EOPNOTSUPP) {
			why = "built in but not enabled (EOPNOTSUPP)"
		}
		line("--", "landlock", why)
		fix(hint)
	} else {
		line("ok", "landlock", "ABI version "+strconv.Itoa(abi))
	}
	if !ok {
		return errDoctor
	}
	fmt.Fprintln(s.out, "nixbox can run sandboxes on this host.")
	return nil
}

// cmdSetupCgroups delegates a cgroup subtree to a user (root only).
func cmdSetupCgroups(s *streams, args []string) error {
	const usage = "usage: nixbox setup-cgroups --user NAME"
	if len(args) != 2 || (args[0] != "--user" && args[0] != "-user") {
		if len(args) == 1 && strings.HasPrefix(args[0], "--user=") {
			args = []string{"--user", strings.TrimPrefix(args[0], "--user=")}
		} else {
			return usageErr(usage, "setup-cgroups: give --user NAME")
		}
	}
	if os.Geteuid() != 0 {
		return cgroups.ErrNotRoot
	}
	u, err := user.Lookup(args[1])
	if err != nil {
		return usageErr(usage, "setup-cgroups: no user %q", args[1])
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return cgroups.DefaultHost().Delegate(u.Username, uid, gid, func(msg string) {
		fmt.Fprintf(s.out, "nixbox: setup-cgroups: %s\n", sanitize(msg))
	})
}
