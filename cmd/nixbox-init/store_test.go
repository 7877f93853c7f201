package main

import (
	"strings"
	"testing"
)

const (
	nameA = "0c2dx1nqm2i6cv0l4cd8gbmr4qwm8b5m-glibc-2.36-host"
	nameB = "1a2b3c4d5f6g7h8i9j0k1l2m3n4p5q6r-hello-1.0"
	nameS = "9z8y7x6w5v4s3r2q1p0n9m8l7k6j5i4h-evil-symlink"
)

// mi is a mountinfo line for point with per-mount options opts.
func mi(id int, point, opts, fstype string) string {
	root := "/"
	if strings.HasPrefix(point, "/nix/store/") || point == stagingPath {
		root = "/nix/store" + strings.TrimPrefix(strings.TrimPrefix(point, "/nix/store"), stagingPath)
	}
	return strings.Join([]string{itoa(id), "1", "254:0", root, point, opts, "-", fstype, "src", "rw"}, " ")
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// TestCheckStoreView: the Go-side check of what the constructor assembled
// catches each way the store view could be wrong.
func TestCheckStoreView(t *testing.T) {
	t.Parallel()
	list := "nixbox-store 1\np " + nameA + "\np " + nameB + "\ns " + nameS + " /etc\n"
	good := []string{
		mi(10, "/", "ro,relatime", "ext4"),
		mi(11, "/proc", "rw,nosuid,nodev,noexec", "proc"),
		mi(12, "/nix/store", "ro,nosuid,nodev,noexec,relatime", "tmpfs"),
		mi(13, "/nix/store/"+nameA, "ro,nosuid,nodev,relatime", "ext4"),
		mi(14, "/nix/store/"+nameB, "ro,nosuid,nodev,relatime", "ext4"),
	}
	if err := checkStoreView([]byte(list), []byte(strings.Join(good, "\n")+"\n")); err != nil {
		t.Fatalf("good view: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func([]string) []string
	}{
		{"staging still mounted", func(m []string) []string {
			return append(m, mi(20, stagingPath, "ro,nosuid,nodev", "ext4"))
		}},
		{"below the staging path", func(m []string) []string {
			return append(m, mi(20, stagingPath+"/x", "ro,nosuid,nodev", "ext4"))
		}},
		{"store tmpfs writable", func(m []string) []string {
			m[2] = mi(12, "/nix/store", "rw,nosuid,nodev,noexec", "tmpfs")
			return m
		}},
		{"member without nosuid", func(m []string) []string {
			m[3] = mi(13, "/nix/store/"+nameA, "ro,nodev", "ext4")
			return m
		}},
		{"member without nodev", func(m []string) []string {
			m[4] = mi(14, "/nix/store/"+nameB, "ro,nosuid", "ext4")
			return m
		}},
		{"member missing", func(m []string) []string { return m[:4] }},
		{"symlink member mounted", func(m []string) []string {
			return append(m, mi(20, "/nix/store/"+nameS, "ro,nosuid,nodev", "ext4"))
		}},
		{"member mounted twice", func(m []string) []string {
			return append(m, mi(20, "/nix/store/"+nameA, "ro,nosuid,nodev", "ext4"))
		}},
		{"no store tmpfs", func(m []string) []string { return append(m[:2:2], m[3:]...) }},
		{"two store tmpfs", func(m []string) []string {
			return append(m, mi(20, "/nix/store", "ro,nosuid,nodev", "tmpfs"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := tc.mutate(append([]string(nil), good...))
			if err := checkStoreView([]byte(list), []byte(strings.Join(m, "\n")+"\n")); err == nil {
				t.Fatalf("checkStoreView = nil, want an error for:\n%s", strings.Join(m, "\n"))
			}
		})
	}
}
