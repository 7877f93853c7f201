// Command nixbox runs Nix-packaged apps in unprivileged sandboxes.
package main

import (
	"os"

	"github.com/nixbox/nixbox/runtime/sandbox"
)

func init() {
	// libcontainer re-executes this binary as "nixbox init" inside the
	// new namespaces; "init" is reserved and never a user command.
	if sandbox.IsInit() {
		sandbox.Init()
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
