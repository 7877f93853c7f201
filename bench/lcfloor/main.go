// Command lcfloor is the floor of an in-process libcontainer launcher, for
// `make bench` (issue 6): the least a program built on libcontainer must
// do to run PROG rootless in new namespaces on a read-only closure. It
// parses no profile, resolves no closure, builds no filter, makes no
// cgroup, masks no /proc path and has no nixbox-init; it only converts a
// minimal OCI spec and calls libcontainer's Create, Run and Wait. Whatever
// it costs, nixbox (which must also do all of those) cannot start faster
// while it runs its sandboxes through libcontainer.
//
// Usage (as an unprivileged user):
//
//	lcfloor STATE_DIR ROOTFS_DIR PROG [STORE_PATH...]
//
// STATE_DIR is libcontainer's state root and ROOTFS_DIR an empty directory
// the caller owns; each STORE_PATH is bind-mounted read-only at its own
// path. It exits with PROG's status.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	// Device cgroup rules need the devices manager registered.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	// nsenter's C constructor joins the namespaces in the re-exec'd init.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func init() {
	// libcontainer re-executes this binary as "init" in the new
	// namespaces; Init never returns.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
		libcontainer.Init()
	}
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: lcfloor STATE_DIR ROOTFS_DIR PROG [STORE_PATH...]")
		os.Exit(2)
	}
	code, err := run(os.Args[1], os.Args[2], os.Args[3], os.Args[4:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "lcfloor:", err)
		os.Exit(125)
	}
	os.Exit(code)
}

func run(state, rootfs, prog string, store []string) (int, error) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	// /proc and a /dev tmpfs (libcontainer fills it with its default
	// nodes), as bwrap's --proc and --dev.
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
	}
	for _, p := range store {
		mounts = append(mounts, specs.Mount{Destination: p, Type: "bind", Source: p, Options: []string{"rbind", "ro", "nosuid", "nodev"}})
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs},
		Process: &specs.Process{Args: []string{prog}, Cwd: "/", Env: []string{"PATH=/"}},
		Mounts:  mounts,
		Linux: &specs.Linux{
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}},
			// No device access beyond libcontainer's default /dev nodes,
			// as in nixbox's spec (the rule libcontainer needs rootless).
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			// The namespaces of bwrap --unshare-all.
			Namespaces: []specs.LinuxNamespace{{Type: "user"}, {Type: "mount"}, {Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "network"}, {Type: "cgroup"}},
		},
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: "lcfloor-" + strconv.Itoa(os.Getpid()), Spec: spec, RootlessEUID: true, RootlessCgroups: true,
	})
	if err != nil {
		return 0, err
	}
	c, err := libcontainer.Create(state, "lcfloor-"+strconv.Itoa(os.Getpid()), cfg)
	if err != nil {
		return 0, err
	}
	defer c.Destroy()
	proc := &libcontainer.Process{
		Args: spec.Process.Args, Env: spec.Process.Env, Cwd: "/",
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Init: true,
	}
	if err := c.Run(proc); err != nil {
		return 0, err
	}
	st, err := proc.Wait()
	if st == nil {
		return 0, err
	}
	return st.ExitCode(), nil
}
