// Package integration holds tests that start real sandboxes on real Nix
// store paths, as root and as an unprivileged user. They are behind the
// "integration" build tag and run by `make integration`.
package integration
