//go:build nixbox_testing

package seccomp

// PolicyTestingAllowAll exists only in binaries built with the
// nixbox_testing build tag, which the integration harness builds for the
// "no-seccomp test build" of the security suite (§3, cases 21, 27 and 33):
// with the syscall filter out of the way, the other layers (no capabilities
// in the initial namespaces, a fresh session keyring, ...) must still hold.
// Release builds (`make build`) never set the tag, so there this constant
// is "" and Build and the profile validator refuse the name as unknown
// (testing_off.go; TestTestingPolicyRefused).
//
// The policy's default action is ALLOW and it has no rules, but it is
// still compiled and loaded by nixbox-init like any other, so the app runs
// with Seccomp: 2 and no_new_privs, and the probes' guards accept it.
const PolicyTestingAllowAll = "testing-allow-all"
