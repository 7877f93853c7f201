package specgen

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixbox/nixbox/profiles"
)

// limitsCase builds testdata/limits/NAME.toml with a cgroupsPath when its
// limits need a cgroup.
func limitsCase(t *testing.T, name, cgroupsPath string) (*Plan, error) {
	t.Helper()
	file := filepath.Join("testdata", "limits", name+".toml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Parse(file, data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	p.Name = name
	return Build(Input{
		Profile: p, Env: testEnv(), Closure: testClosure(),
		Argv:        []string{app + "/bin/hello"},
		PathDirs:    []string{app + "/bin"},
		SeccompBPF:  "/home/alice/.cache/nixbox/seccomp/0123abcd.bpf",
		CgroupsPath: cgroupsPath,
	})
}

// TestLimitsGolden: the resources, rlimits and cgroupsPath of each
// testdata/limits/*.toml, against testdata/limits/NAME.golden.json (only
// the parts limits change: linux.resources, linux.cgroupsPath and
// process.rlimits). -update rewrites them.
func TestLimitsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/limits/*.toml")
	if len(files) < 3 {
		t.Fatal("missing limits cases")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		t.Run(name, func(t *testing.T) {
			plan, err := limitsCase(t, name, "/nixbox-alice/nixbox-"+name+"-0123abcd")
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, plan)
			s := plan.Spec
			got := marshal(t, map[string]any{
				"linux.resources":   s.Linux.Resources,
				"linux.cgroupsPath": s.Linux.CgroupsPath,
				"process.rlimits":   s.Process.Rlimits,
			})
			golden := filepath.Join("testdata", "limits", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(want) != string(got) {
				t.Fatalf("limits differ from %s (-want +got):\n%s", golden, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

// TestLimitsNeedCgroup: a cgroup limit without a cgroupsPath fails
// closed; without any cgroup limit the spec has no cgroupsPath and no
// resources beyond the device rules, whatever path is offered.
func TestLimitsNeedCgroup(t *testing.T) {
	if _, err := limitsCase(t, "all", ""); !errors.Is(err, ErrBuild) {
		t.Fatalf("limits without a cgroup: %v", err)
	}
	plan, err := limitsCase(t, "rlimits-only", "/nixbox-alice/x")
	if err != nil {
		t.Fatal(err)
	}
	r := plan.Spec.Linux.Resources
	if plan.Spec.Linux.CgroupsPath != "" || r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil || len(r.Devices) != 1 {
		t.Fatalf("rlimits only: cgroupsPath %q, resources %+v", plan.Spec.Linux.CgroupsPath, r)
	}
	if len(plan.Spec.Process.Rlimits) != 2 {
		t.Fatalf("rlimits: %+v", plan.Spec.Process.Rlimits)
	}
	p := &profiles.Profile{}
	if c := CgroupControllers(p); len(c) != 0 {
		t.Fatalf("no limits: controllers %v", c)
	}
}

// TestWeightsRoundTrip: every cpu_weight maps to the v1 shares that runc
// converts back to exactly that cpu.weight; io_weight to the blkio weight
// (10 to 1000, so about ten io.weight values share one) that runc converts
// to the io.weight nearest at or above it.
func TestWeightsRoundTrip(t *testing.T) {
	for w := int64(1); w <= 10000; w++ {
		ww := w
		p := &profiles.Profile{Limits: profiles.Limits{CPUWeight: &ww, IOWeight: &ww}}
		opts, err := limitOpts(p, "/x")
		if err != nil {
			t.Fatal(err)
		}
		s := Default("rootfs")
		if err := Compose(s, opts...); err != nil {
			t.Fatal(err)
		}
		sh := *s.Linux.Resources.CPU.Shares
		if got := 1 + ((sh-2)*9999)/262142; int64(got) != w {
			t.Fatalf("cpu_weight %d -> shares %d -> weight %d", w, sh, got)
		}
		b := uint64(*s.Linux.Resources.BlockIO.Weight)
		if got := 1 + (b-10)*9999/990; int64(got) < w || int64(got) > w+10 || b < 10 || b > 1000 {
			t.Fatalf("io_weight %d -> blkio %d -> io.weight %d", w, b, got)
		}
	}
}
