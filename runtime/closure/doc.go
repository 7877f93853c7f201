// Package closure resolves the Nix store closure of an app: a read-only
// query of the Nix database, with nix-store and closureInfo fallbacks.
package closure
