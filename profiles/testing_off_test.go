//go:build !nixbox_testing

package profiles

import (
	"errors"
	"testing"
)

// TestTestingPolicyRefused: a profile naming the no-seccomp test build's
// policy is refused, like any unknown policy, in builds without the
// nixbox_testing tag (release builds included).
func TestTestingPolicyRefused(t *testing.T) {
	t.Parallel()
	_, err := parseAndValidate("p.toml", []byte(v1+"[seccomp]\npolicy = \"testing-allow-all\"\n"))
	var pe *Error
	if err == nil || !errors.As(err, &pe) || pe.Key != "seccomp.policy" {
		t.Errorf("policy testing-allow-all: err = %v; want an error at seccomp.policy", err)
	}
}
