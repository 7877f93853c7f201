// Package specgen turns a validated profile, host facts and a closure into
// an OCI runtime spec. It is deterministic and reads nothing from the host.
package specgen
