// Package profiles parses, merges and validates nixbox profiles.
package profiles
