//go:build integration

package harness

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PidsWith returns the host pids whose command line (arguments joined by
// spaces) starts with prefix, so nixbox's own command line, which holds
// the app's later, does not count. Zombies are left out.
func PidsWith(prefix string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(strings.ReplaceAll(string(cmd), "\x00", " "), prefix) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// Accepted accepts connections on ln until it is closed, closing each
// at once, and sends one value per connection on the returned channel
// (buffered n; beyond that, accepting waits for the reader).
func Accepted(ln net.Listener, n int) <-chan struct{} {
	accepted := make(chan struct{}, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	return accepted
}
