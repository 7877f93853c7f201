// Package cgroups finds and prepares the delegated parent cgroup a sandbox
// with resource limits is created in, and reads a sandbox's statistics.
//
// The sandbox's own cgroup belongs to libcontainer (runtime/sandbox): it is
// created from the spec's linux.cgroupsPath and linux.resources. This
// package never creates, changes or removes it (style.md §2: never two
// owners for one cgroup). It only checks, or as root creates, the parent,
// and reads the sandbox's counters through containerd/cgroups/v3.
//
// Everything reads the cgroup file systems through a Host, whose paths a
// test points at a fake tree in a temporary directory.
package cgroups
