//go:build integration

// Package harness is the shared Go harness of both integration suites:
// the functional tests in integration and the adversarial escape suite in
// integration/escape (security suite §3). It holds the runners (root and
// the unprivileged nixbox-test, see Runners and ForEach), Run with a
// Result, profiles, fixtures, the skip-or-fail-under-CI policy
// (SkipOrFail) and, for the escape suite, canaries, sentinel processes
// and host mountinfo snapshots: every escape case pairs its in-sandbox
// assertion with a host invariant checked by Matrix. Each suite's
// TestMain calls Main (escape) or Suite.Main (the functional suite, with
// no global canaries).
package harness
