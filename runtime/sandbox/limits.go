package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"
)

// Exit is what Run learned about the sandbox's end besides its status,
// read from its cgroup before the cgroup is destroyed.
type Exit struct {
	// OOMKills counts processes the kernel's OOM killer killed in the
	// sandbox's cgroup (v1 memory.oom_control, v2 memory.events). Always
	// 0 for a sandbox without a cgroup of its own (no cgroupsPath).
	OOMKills uint64
}

// verifyStarted runs o.Verify on the started sandbox; on failure the
// sandbox is killed before the app can do anything that matters, and the
// error is returned: libcontainer ignores some cgroup failures in rootless
// mode, so the launcher checks the result itself (host-facts §4).
func verifyStarted(o Options, proc *libcontainer.Process) error {
	if o.Verify == nil {
		return nil
	}
	pid, err := proc.Pid()
	if err == nil {
		err = o.Verify(pid)
	}
	if err != nil {
		_ = proc.Signal(unix.SIGKILL)
		_, _ = proc.Wait()
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	return nil
}

// reportExit calls o.OnExit with the OOM kill count of the sandbox's own
// cgroup. It must run before the container is destroyed.
func reportExit(o Options, c *libcontainer.Container, hasCgroup bool) {
	if o.OnExit == nil {
		return
	}
	var e Exit
	if hasCgroup {
		if st, err := c.State(); err == nil {
			if p := st.CgroupPaths["memory"]; p != "" {
				e.OOMKills = keyValue(filepath.Join(p, "memory.oom_control"), "oom_kill")
			} else if p := st.CgroupPaths[""]; p != "" {
				e.OOMKills = keyValue(filepath.Join(p, "memory.events"), "oom_kill")
			}
		}
	}
	o.OnExit(e)
}

// keyValue reads "key N" from a flat-keyed cgroup file; 0 if absent.
func keyValue(file, key string) uint64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// SeccompSupported reports whether this binary can apply seccomp filters
// (built with cgo and -tags seccomp), for `nixbox doctor`.
func SeccompSupported() bool { return lcseccomp.Enabled }
