package profiles

import (
	"errors"
	"testing"
)

func TestExpandPath(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_DOWNLOAD_DIR": "/data/dl", "XDG_CACHE_HOME": "cache", "XDG_MUSIC_DIR": "/x/../y"}
	tests := []struct {
		in, home, want string
		bad            bool
	}{
		{in: "~", home: "/home/u", want: "/home/u"},
		{in: "~/a/b", home: "/home/u", want: "/home/u/a/b"},
		{in: "$HOME/a", home: "/home/u", want: "/home/u/a"},
		{in: "${HOME}", home: "/home/u", want: "/home/u"},
		{in: "$XDG_CONFIG_HOME/app", home: "/home/u", want: "/home/u/.config/app"},
		{in: "$XDG_DATA_HOME", home: "/home/u", want: "/home/u/.local/share"},
		{in: "$XDG_STATE_HOME/x", home: "/home/u", want: "/home/u/.local/state/x"},
		{in: "${XDG_DOWNLOAD_DIR}/f", home: "/home/u", want: "/data/dl/f"},
		{in: "$XDG_PICTURES_DIR", home: "/home/u", want: "/home/u/Pictures"},
		{in: "$XDG_RUNTIME_DIR/pulse", home: "/home/u", want: "/run/user/1000/pulse"},
		{in: "/etc/fonts", home: "", want: "/etc/fonts"},
		{in: "/", home: "", want: "/"},
		{in: "$XDG_CACHE_HOME/x", home: "/home/u", bad: true}, // relative value
		{in: "$XDG_MUSIC_DIR", home: "/home/u", bad: true},    // ".." in value
		{in: "~/x", home: "home/u", bad: true},                // relative home
		{in: "~/x", home: "/home/u/", bad: true},              // unclean home
		{in: "~/x", home: "/home/../u", bad: true},            // ".." in home
		{in: "~/x", home: "/home/\x1bu", bad: true},           // control char
		{in: "$XDG_RUNTIME_DIR", home: "/home/u", bad: false, want: "/run/user/1000"},
		{in: "x", home: "/home/u", bad: true},
		{in: "~/../x", home: "/home/u", bad: true},
		{in: "$PATH", home: "/home/u", bad: true},
	}
	for _, tc := range tests {
		got, err := ExpandPath(tc.in, vars, tc.home)
		if tc.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ExpandPath(%q, home %q) = %q, %v; want ErrInvalid", tc.in, tc.home, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ExpandPath(%q, home %q) = %q, %v; want %q", tc.in, tc.home, got, err, tc.want)
		}
	}
	if _, err := ExpandPath("$XDG_RUNTIME_DIR/bus", nil, "/home/u"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ExpandPath with XDG_RUNTIME_DIR unset = %v, want ErrInvalid", err)
	}
}

// TestParseSize uses bubblewrap's --size test vectors.
func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "123bogus", "", "-1", " -1", "18446744073709551616", "9223372036854775809", "1m", "17G", "16385M", "01", "1 M"} {
		if n, err := ParseSize(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSize(%q) = %d, %v; want ErrInvalid", s, n, err)
		}
	}
	for s, want := range map[string]uint64{"1": 1, "64M": 64 << 20, "4K": 4096, "16G": 16 << 30, "16384M": 16 << 30} {
		if n, err := ParseSize(s); err != nil || n != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, n, err, want)
		}
	}
}

// TestErrorEscapes guards against terminal injection through error text
// (Flatpak CVE-2023-28101).
func TestErrorEscapes(t *testing.T) {
	t.Parallel()
	e := &Error{File: "a\x1b]0;x\x07.toml", Line: 3, Col: 1, Key: "env.set.A\u202eB", Msg: "bad \"\x1b[2J\" \xff"}
	want := `a\x1b]0;x\a.toml:3:1: env.set.A\u202eB: bad "\x1b[2J" \xff`
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := (&Error{Msg: "m"}).Error(); got != "m" {
		t.Errorf("Error() = %q, want %q", got, "m")
	}
	if got := (&Error{File: "f", Key: "k", Msg: "m"}).Error(); got != "f: k: m" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(&Error{Err: ErrUnsafe}, ErrInvalid) || !errors.Is(&Error{Err: ErrUnsafe}, ErrUnsafe) {
		t.Errorf("*Error does not match its sentinels")
	}
}

func TestEscapeEquivalent(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/": true, "~": true, "$HOME": true, "~/.ssh/config": true, "~/.config": true, "$XDG_DATA_HOME": true,
		"/run/user/1000": true, "/run/user/1000/pulse": false, "/nix/store": true, "/nix/store/abc": false,
		"/etc/nixos/configuration.nix": true, "/etc": true, "/etc/fonts": false, "~/Documents": false,
		"/run": true, "/var": true, "/srv": false,
	} {
		if got, _ := EscapeEquivalent(p); got != want {
			t.Errorf("EscapeEquivalent(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestIsReservedDest pins the reserved destinations and the exact parents
// of reserved ones (security suite §6.2): "/run" is refused because
// /run/nixbox is nixbox's, while other paths under /run stay allowed.
func TestIsReservedDest(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/": true, "/tmp": true, "/etc": true, "/run": true, "/nix": true,
		"/run/nixbox": true, "/run/nixbox/x": true, "/proc/sys": true, "/nix/store/x": true, "/etc/passwd": true,
		"/run/user/1000/pulse": false, "/run/user": false, "/runx": false, "/run2/nixbox": false,
		"/tmp/scratch": false, "/etc/ssl/certs": false, "/srv": false, "/nixos": false,
	} {
		if got := IsReservedDest(p); got != want {
			t.Errorf("IsReservedDest(%q) = %v, want %v", p, got, want)
		}
	}
}
