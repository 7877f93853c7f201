// Package archtest holds the architecture tests: every package has a doc
// comment, and imports follow the direction of style.md §2 and §3.
package archtest
