package sandbox

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// nsenter's C constructor runs before the Go runtime of the re-exec'd
	// init and joins the namespaces.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// Device cgroup rules need the devices manager registered.
	_ "github.com/opencontainers/cgroups/devices"
)

// IsInit reports whether this process is libcontainer's re-exec'd init.
// The argument "init" is reserved: nixbox has no user-facing init command.
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == "init" }

// Init runs libcontainer's init. Call it from an init() hook of package
// main when IsInit is true; it never returns.
func Init() { libcontainer.Init() }
