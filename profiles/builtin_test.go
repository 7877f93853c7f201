package profiles

import (
	"errors"
	"io/fs"
	"testing"
)

// TestBuiltins loads and validates every embedded profile.
func TestBuiltins(t *testing.T) {
	t.Parallel()
	ents, err := fs.ReadDir(Builtins(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 4 {
		t.Fatalf("built-ins = %d files, want at least 4", len(ents))
	}
	l := &Loader{UID: 1000}
	for _, e := range ents {
		name, ok := profileFileName(e.Name())
		if !ok {
			t.Errorf("built-in file %q has no valid profile name", e.Name())
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := l.Load(name)
			if err != nil {
				t.Fatalf("Load(%q) = %v", name, err)
			}
			if p.Description == "" {
				t.Errorf("Load(%q).Description is empty", name)
			}
			if p.Seccomp.Policy != "strict" || p.Home.Mode != HomeEphemeral {
				t.Errorf("Load(%q): seccomp %q home %q, want strict and ephemeral", name, p.Seccomp.Policy, p.Home.Mode)
			}
		})
	}
}

// TestBuiltinChoices pins what each built-in grants.
func TestBuiltinChoices(t *testing.T) {
	t.Parallel()
	l := &Loader{UID: 1000}
	tests := []struct {
		name    string
		pkg     string
		network NetworkMode
		binds   int
		pass    int
		chain   int
	}{
		{"default", "", NetworkNone, 0, 0, 1},
		{"cli", "", NetworkNone, 0, 5, 2},
		{"jq", "jq", NetworkNone, 0, 5, 3},
		{"curl", "curl", NetworkHost, 0, 5, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := l.Load(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if p.App.Package != tc.pkg || p.Network.Mode != tc.network || len(p.Filesystem.Bind) != tc.binds || len(p.Env.Pass) != tc.pass || len(p.Chain) != tc.chain {
				t.Errorf("Load(%q) = package %q network %q binds %d pass %d chain %v, want %q %q %d %d %d",
					tc.name, p.App.Package, p.Network.Mode, len(p.Filesystem.Bind), len(p.Env.Pass), p.Chain, tc.pkg, tc.network, tc.binds, tc.pass, tc.chain)
			}
		})
	}
	if _, err := l.Load("no-such-profile"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(no-such-profile) = %v, want ErrNotFound", err)
	}
}
