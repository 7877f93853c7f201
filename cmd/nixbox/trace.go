package main

import (
	"fmt"
	"os"
	"time"
)

// NIXBOX_TRACE=1 makes a run print when each of its start-up phases ends,
// in milliseconds since the launcher's main package was initialised, to
// stderr: for people finding where the start-up time goes (make bench,
// docs/benchmarks.md), never parsed by anything.
var (
	traceStart = time.Now()
	traceOn    = os.Getenv("NIXBOX_TRACE") == "1"
)

// trace marks the end of phase; with tracing off it does nothing.
func trace(phase string) {
	if !traceOn {
		return
	}
	fmt.Fprintf(os.Stderr, "nixbox: trace %8.3f ms  %s\n", float64(time.Since(traceStart).Microseconds())/1000, phase)
}
