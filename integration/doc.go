// Package integration holds tests that start real sandboxes on real Nix
// store paths, as root and as an unprivileged user. They are behind the
// "integration" build tag and run by `make integration`. Runners, fixtures,
// running nixbox and the skip-or-fail-under-CI policy come from
// integration/harness, which the escape suite (integration/escape) shares.
package integration
