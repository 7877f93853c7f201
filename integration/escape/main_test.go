//go:build integration

package escape

import (
	"os"
	"testing"

	"github.com/nixbox/nixbox/integration/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
