// Package hostfs prepares host directories a sandbox uses: the per-profile
// persistent home and bind sources, refusing symlinks where the app could
// have planted them.
package hostfs
