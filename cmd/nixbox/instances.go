package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nixbox/nixbox/runtime/hostenv"
	"github.com/nixbox/nixbox/runtime/sandbox"
)

// record is nixbox's own record of a running instance, kept in the
// instance's private directory. Only nixbox writes it; commands that act
// on an instance find it in the caller's own state root, never by pid.
type record struct {
	ID      string    `json:"id"`
	Profile string    `json:"profile"`
	Source  string    `json:"source"`
	Argv    []string  `json:"argv"`
	Pid     int       `json:"pid"`
	UID     int       `json:"uid"`
	Started time.Time `json:"started"`
	Network string    `json:"network"`
	// Cgroup is the sandbox's own cgroup (its linux.cgroupsPath), set
	// when the profile has cgroup limits; stats and top read it.
	Cgroup string        `json:"cgroup,omitempty"`
	Limits *recordLimits `json:"limits,omitempty"`
}

const recordFile = "instance.json"

func writeRecord(dir string, r record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, recordFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, recordFile))
}

func readRecord(dir string) (record, error) {
	var r record
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// userStateRoot finds (and creates, mode 0700) the caller's state root.
func userStateRoot() (string, hostenv.Env, error) {
	env, err := hostenv.Detect()
	if err != nil {
		return "", env, err
	}
	root, err := sandbox.StateRoot(env.Vars["XDG_RUNTIME_DIR"], env.Vars["TMPDIR"], env.UID)
	return root, env, err
}

// liveRecords returns the records of the caller's running instances,
// sorted by start time.
func liveRecords() ([]record, error) {
	root, _, err := userStateRoot()
	if err != nil {
		return nil, err
	}
	live, err := sandbox.List(root)
	if err != nil {
		return nil, err
	}
	var out []record
	for _, l := range live {
		r, err := readRecord(l.Dir)
		if err != nil {
			continue // starting: no record yet
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// cmdPs lists the caller's running instances.
func cmdPs(s *streams, args []string) error {
	asJSON := false
	for _, a := range args {
		switch a {
		case "--json":
			asJSON = true
		default:
			return usageErr("usage: nixbox ps [--json]", "ps: unknown argument %q", a)
		}
	}
	recs, err := liveRecords()
	if err != nil {
		return err
	}
	if asJSON {
		if recs == nil {
			recs = []record{}
		}
		b, err := json.MarshalIndent(recs, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROFILE\tPID\tSTARTED\tCOMMAND")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", sanitize(r.ID), sanitize(r.Profile), r.Pid,
			r.Started.Local().Format("15:04:05"), sanitize(strings.Join(r.Argv, " ")))
	}
	return tw.Flush()
}

// errNoInstance is returned by kill and friends for an unknown id.
var errNoInstance = sandbox.ErrNoInstance

// cmdKill sends a signal (default TERM) to a running instance.
func cmdKill(s *streams, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usageErr("usage: nixbox kill ID [SIGNAL]", "kill: give an instance id (see nixbox ps)")
	}
	sig := unix.SIGTERM
	if len(args) == 2 {
		var err error
		if sig, err = parseSignal(args[1]); err != nil {
			return err
		}
	}
	root, _, err := userStateRoot()
	if err != nil {
		return err
	}
	if err := sandbox.Signal(root, args[0], sig); err != nil {
		if errors.Is(err, sandbox.ErrNoInstance) {
			return fmt.Errorf("%w %q: `nixbox ps` lists yours", errNoInstance, args[0])
		}
		return err
	}
	return nil
}

// parseSignal accepts a number or a name with or without SIG.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, usageErr("", "bad signal number %d", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, usageErr("use a name like TERM, KILL, HUP or a number", "unknown signal %q", s)
}
