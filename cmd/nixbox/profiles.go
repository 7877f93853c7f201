package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/nixbox/nixbox/runtime/hostenv"
)

// cmdProfiles lists the profiles and where each comes from.
func cmdProfiles(s *streams, args []string) error {
	if len(args) > 0 {
		return usageErr("", "profiles takes no arguments")
	}
	env, err := hostenv.Detect()
	if err != nil {
		return err
	}
	entries, err := profileLoader(env).List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tDESCRIPTION")
	for _, e := range entries {
		src := e.Source
		if e.Shadowed {
			src += " (shadowed)"
		}
		desc := e.Description
		if e.Err != nil {
			// Broken entries are listed, with why they cannot be used.
			desc = "BROKEN: " + e.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", sanitize(e.Name), sanitize(src), sanitize(desc))
	}
	return tw.Flush()
}
