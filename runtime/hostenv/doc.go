// Package hostenv detects host facts: identity, paths, user namespaces and
// seccomp support. It is the spec generator's only source of host facts.
package hostenv
