package main

import (
	"slices"
	"testing"
)

// TestParseArgs: the init argument layout that specgen writes and the
// stage-1 constructor reads at fixed positions (store.go allows_userns).
func TestParseArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		ok    bool
		allow bool
		argv  []string
	}{
		{"plain", []string{"--uid", "1000", "--gid", "100", "--", "/bin/app", "x"}, true, false, []string{"/bin/app", "x"}},
		{"allow-userns", []string{"--uid", "1000", "--gid", "100", "--allow-userns", "--", "/bin/app"}, true, true, []string{"/bin/app"}},
		// After "--" it is the app's argument, not a flag.
		{"app's own flag", []string{"--uid", "1", "--gid", "2", "--", "/bin/app", "--allow-userns"}, true, false, []string{"/bin/app", "--allow-userns"}},
		{"no program", []string{"--uid", "1", "--gid", "2", "--"}, false, false, nil},
		{"no program after the flag", []string{"--uid", "1", "--gid", "2", "--allow-userns", "--"}, false, false, nil},
		{"flag without separator", []string{"--uid", "1", "--gid", "2", "--allow-userns", "/bin/app"}, false, false, nil},
		{"unknown flag", []string{"--uid", "1", "--gid", "2", "--no-cap", "--", "/bin/app"}, false, false, nil},
		{"flag twice", []string{"--uid", "1", "--gid", "2", "--allow-userns", "--allow-userns", "--", "/bin/app"}, false, false, nil},
		{"flag first", []string{"--allow-userns", "--uid", "1", "--gid", "2", "--", "/bin/app"}, false, false, nil},
		{"negative uid", []string{"--uid", "-1", "--gid", "2", "--", "/bin/app"}, false, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, ok := parseArgs(tc.args)
			if ok != tc.ok {
				t.Fatalf("parseArgs(%q) ok = %v, want %v", tc.args, ok, tc.ok)
			}
			if ok && (a.allowUserns != tc.allow || !slices.Equal(a.argv, tc.argv)) {
				t.Errorf("parseArgs(%q) = %+v, want allowUserns %v, argv %q", tc.args, a, tc.allow, tc.argv)
			}
		})
	}
}
