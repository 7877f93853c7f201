package seccomp

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDescribeGolden compares Describe's rendering of each policy with
// testdata/<policy>.describe.golden; run with -update (the flag of
// policy_test.go) to rewrite them.
func TestDescribeGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"strict", Options{Policy: PolicyStrict}},
		{"strict-network", Options{Policy: PolicyStrict, Network: true}},
		{"compat", Options{Policy: PolicyCompat}},
		{"compat-network", Options{Policy: PolicyCompat, Network: true}},
		{"strict-multiarch", Options{Policy: PolicyStrict, AllowMultiarch: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Build(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			got := Describe(s)
			path := filepath.Join("testdata", tc.name+".describe.golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./seccomp -update)", err)
			}
			if got != string(want) {
				t.Errorf("Describe differs from %s (run go test ./seccomp -update and review the diff):\n%s", path, got)
			}
		})
	}
}
