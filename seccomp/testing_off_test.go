//go:build !nixbox_testing

package seccomp

import (
	"errors"
	"testing"
)

// TestTestingPolicyRefused: without the nixbox_testing tag (release builds
// included) the allow-all policy of the no-seccomp test build does not
// exist: its name is an unknown policy like any other.
func TestTestingPolicyRefused(t *testing.T) {
	t.Parallel()
	if PolicyTestingAllowAll != "" {
		t.Fatalf("PolicyTestingAllowAll = %q in a build without nixbox_testing", PolicyTestingAllowAll)
	}
	s, err := Build(Options{Policy: "testing-allow-all"})
	if !errors.Is(err, ErrUnknownPolicy) || s != nil {
		t.Errorf(`Build(Policy: "testing-allow-all") = %v, %v; want nil, ErrUnknownPolicy`, s, err)
	}
	if Names("testing-allow-all") != nil {
		t.Errorf(`Names("testing-allow-all") != nil`)
	}
}
