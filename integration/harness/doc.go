//go:build integration

// Package harness is the shared Go harness of the adversarial suites
// (security suite §3): runners (root and the unprivileged nixbox-test),
// Run with a Result, profiles, fixtures, canaries, sentinel processes and
// host mountinfo snapshots. Every escape case pairs its in-sandbox
// assertion with a host invariant checked by Matrix.
package harness
