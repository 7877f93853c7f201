//go:build nixbox_testing

package seccomp

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestTestingPolicyAllowAll: in the nixbox_testing build the policy allows
// everything and takes no knobs.
func TestTestingPolicyAllowAll(t *testing.T) {
	t.Parallel()
	s := mustBuild(t, Options{Policy: PolicyTestingAllowAll, Network: true})
	if s.DefaultAction != specs.ActAllow || len(s.Syscalls) != 0 {
		t.Errorf("testing policy = %+v; want default ALLOW and no rules", s)
	}
	if _, err := Build(Options{Policy: PolicyTestingAllowAll, Deny: []string{"mount"}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("testing policy with a knob: err = %v; want ErrInvalidOptions", err)
	}
}
