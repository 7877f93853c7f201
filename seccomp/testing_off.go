//go:build !nixbox_testing

package seccomp

// PolicyTestingAllowAll is "" in every build without the nixbox_testing tag,
// release builds included: no profile can name the allow-all test policy
// there (see testing_on.go).
const PolicyTestingAllowAll = ""
