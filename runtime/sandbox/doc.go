// Package sandbox runs a finished OCI spec with runc's libcontainer,
// in-process. It is the only package that imports libcontainer.
package sandbox
