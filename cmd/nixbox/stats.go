package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/nixbox/nixbox/runtime/cgroups"
)

// instanceStats is one line of `nixbox stats`.
type instanceStats struct {
	ID      string `json:"id"`
	Profile string `json:"profile"`
	Cgroup  string `json:"cgroup,omitempty"`
	// CPUCores is the CPU used since the instance started, in cores
	// (CPU time / wall time).
	CPUCores float64 `json:"cpu_cores"`
	cgroups.Stats
	// Error says why there are no counters: the profile sets no cgroup
	// limit, so the sandbox has no cgroup of its own.
	Error string `json:"error,omitempty"`
}

func collectStats(id string) ([]instanceStats, error) {
	recs, err := liveRecords()
	if err != nil {
		return nil, err
	}
	h := cgroups.DefaultHost()
	out := []instanceStats{}
	for _, r := range recs {
		if id != "" && r.ID != id {
			continue
		}
		st := instanceStats{ID: r.ID, Profile: r.Profile, Cgroup: r.Cgroup}
		if r.Cgroup == "" {
			st.Error = "no cgroup of its own (the profile sets no cgroup limit)"
		} else if s, err := h.ReadStats(r.Cgroup); err != nil {
			st.Error = err.Error()
		} else {
			st.Stats = s
			if el := time.Since(r.Started); el > 0 {
				st.CPUCores = float64(s.CPUNanos) / float64(el.Nanoseconds())
			}
		}
		out = append(out, st)
	}
	if id != "" && len(out) == 0 {
		return nil, fmt.Errorf("%w %q: `nixbox ps` lists yours", errNoInstance, id)
	}
	return out, nil
}

func parseStatsArgs(name string, args []string) (id string, asJSON bool, n int, err error) {
	usage := "usage: nixbox stats [ID] [--json]"
	if name == "top" {
		usage = "usage: nixbox top [-n COUNT]"
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--json" && name == "stats":
			asJSON = true
		case a == "-n" && name == "top" && i+1 < len(args):
			i++
			if n, err = strconv.Atoi(args[i]); err != nil || n < 1 {
				return "", false, 0, usageErr(usage, "top: -n needs a positive count")
			}
		case len(a) > 0 && a[0] != '-' && id == "" && name == "stats":
			id = a
		default:
			return "", false, 0, usageErr(usage, "%s: unknown argument %q", name, a)
		}
	}
	return id, asJSON, n, nil
}

// cmdStats prints memory, cpu, pids and OOM kills of one or all of the
// caller's instances.
func cmdStats(s *streams, args []string) error {
	id, asJSON, _, err := parseStatsArgs("stats", args)
	if err != nil {
		return err
	}
	sts, err := collectStats(id)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(sts, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "%s\n", b)
		return err
	}
	return statsTable(s.out, sts)
}

func statsTable(w io.Writer, sts []instanceStats) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROFILE\tMEM\tPEAK\tLIMIT\tCPU\tCPU TIME\tPIDS\tOOM")
	for _, x := range sts {
		if x.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t(%s)\n", sanitize(x.ID), sanitize(x.Profile), sanitize(x.Error))
			continue
		}
		limit := "-"
		if x.MemoryLimitBytes > 0 {
			limit = humanBytes(x.MemoryLimitBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%d\t%d\n", sanitize(x.ID), sanitize(x.Profile),
			humanBytes(x.MemoryBytes), humanBytes(x.MemoryPeakBytes), limit, x.CPUCores,
			(time.Duration(x.CPUNanos) / time.Millisecond * time.Millisecond).String(), x.Pids, x.OOMKills)
	}
	return tw.Flush()
}

// cmdTop redraws the stats table every second until Ctrl-C or q (or
// COUNT times with -n). The CPU column is the last second's use.
func cmdTop(s *streams, args []string) error {
	_, _, n, err := parseStatsArgs("top", args)
	if err != nil {
		return err
	}
	quit := make(chan struct{}, 1)
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(sigc)
	if s.in != nil && term.IsTerminal(int(s.in.Fd())) {
		if old, err := term.MakeRaw(int(s.in.Fd())); err == nil {
			defer term.Restore(int(s.in.Fd()), old)
			go func() {
				b := make([]byte, 1)
				for {
					if _, err := s.in.Read(b); err != nil || b[0] == 'q' || b[0] == 3 {
						quit <- struct{}{}
						return
					}
				}
			}()
		}
	}
	prev := map[string]uint64{}
	last := time.Now()
	for i := 0; n == 0 || i < n; i++ {
		sts, err := collectStats("")
		if err != nil {
			return err
		}
		now := time.Now()
		for j := range sts {
			if p, ok := prev[sts[j].ID]; ok && sts[j].Error == "" {
				sts[j].CPUCores = float64(sts[j].CPUNanos-p) / float64(now.Sub(last).Nanoseconds())
			}
			prev[sts[j].ID] = sts[j].CPUNanos
		}
		last = now
		fmt.Fprint(s.out, "\x1b[H\x1b[2J")
		fmt.Fprintf(s.out, "nixbox top: %d instances, %s (q or Ctrl-C quits)\r\n", len(sts), now.Format("15:04:05"))
		if err := statsTable(crlf{s.out}, sts); err != nil {
			return err
		}
		if n != 0 && i == n-1 {
			break
		}
		select {
		case <-quit:
			return nil
		case <-sigc:
			return nil
		case <-time.After(time.Second):
		}
	}
	return nil
}

// crlf ends lines with \r\n, for a terminal in raw mode.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	var out []byte
	for _, b := range p {
		if b == '\n' {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	_, err := c.w.Write(out)
	return len(p), err
}
