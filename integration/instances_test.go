//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	h "github.com/nixbox/nixbox/integration/harness"
)

// TestPsAndKill: two instances of one profile run side by side, `nixbox ps`
// lists both, `nixbox kill` ends the one named, and the status comes back.
func TestPsAndKill(t *testing.T) {
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		sleep := h.Bin(t, "COREUTILS", "sleep")
		var cmds []*exec.Cmd
		for i := 0; i < 2; i++ {
			c := r.Cmd(ctx, "run", "--profile", "default", sleep, "300")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, c)
		}
		defer func() {
			for _, c := range cmds {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}()
		type rec struct {
			ID      string   `json:"id"`
			Profile string   `json:"profile"`
			Pid     int      `json:"pid"`
			Argv    []string `json:"argv"`
		}
		var recs []rec
		deadline := time.Now().Add(20 * time.Second)
		for {
			res := r.Run(t, "", "ps", "--json")
			if res.Code != 0 {
				t.Fatalf("ps: %s", res)
			}
			recs = nil
			if err := json.Unmarshal([]byte(res.Stdout), &recs); err != nil {
				t.Fatalf("ps --json: %v: %q", err, res.Stdout)
			}
			if len(recs) == 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(recs) != 2 {
			t.Fatalf("ps lists %d instances, want 2: %+v", len(recs), recs)
		}
		for _, x := range recs {
			if x.Profile != "default" || x.Pid <= 0 || len(x.Argv) == 0 || x.Argv[0] != sleep {
				t.Fatalf("bad record: %+v", x)
			}
		}
		if res := r.Run(t, "", "kill", recs[0].ID, "TERM"); res.Code != 0 {
			t.Fatalf("kill: %s", res)
		}
		done := make(chan int, 2)
		for _, c := range cmds {
			go func(c *exec.Cmd) {
				err := c.Wait()
				if ee, ok := err.(*exec.ExitError); ok {
					done <- ee.ExitCode()
					return
				}
				done <- 0
			}(c)
		}
		select {
		case code := <-done:
			if code != 128+15 {
				t.Fatalf("killed instance exited %d, want 143", code)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no instance ended after kill")
		}
		res := r.Run(t, "", "ps")
		if strings.Contains(res.Stdout, recs[0].ID) || !strings.Contains(res.Stdout, recs[1].ID) {
			t.Fatalf("ps after kill: %s", res)
		}
		if res := r.Run(t, "", "kill", "no-such-instance"); res.Code != 1 {
			t.Fatalf("kill of an unknown id: %s", res)
		}
		cmds = cmds[:0]
		for _, c := range []string{recs[1].ID} {
			_ = r.Run(t, "", "kill", c, "KILL")
		}
		<-done
	})
}
