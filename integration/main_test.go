//go:build integration

package integration

import (
	"os"
	"testing"

	h "github.com/nixbox/nixbox/integration/harness"
)

// The functional suite runs on integration/harness, like the escape suite,
// but without the escape suite's global canaries: runners, fixtures, the
// nixbox binary under test and the skip-or-fail-under-CI policy are the
// harness's.
func TestMain(m *testing.M) { os.Exit(h.Suite{Name: "it"}.Main(m)) }
