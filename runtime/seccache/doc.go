// Package seccache keeps compiled seccomp filters on disk, keyed by the
// hash of the policy they were compiled from.
package seccache
