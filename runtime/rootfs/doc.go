// Package rootfs writes the skeleton of a sandbox's root directory: the
// synthesized /etc files, mountpoint directories and store symlinks.
package rootfs
