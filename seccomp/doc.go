// Package seccomp turns a named nixbox seccomp policy ("strict" or "compat") into OCI runtime-spec seccomp data.
package seccomp
