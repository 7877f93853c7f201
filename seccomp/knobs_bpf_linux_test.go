//go:build cgo && seccomp

package seccomp

import (
	"os"
	"testing"
)

// TestExportBPFKnobs: every knob combination compiles with the host's
// libseccomp (kill-process and log actions, the i386 architecture, which
// is assembled by multiarchProgram).
func TestExportBPFKnobs(t *testing.T) {
	for _, kc := range knobCases() {
		o := kc.opts
		o.Policy = kc.policy
		f, err := os.CreateTemp(t.TempDir(), "knob-*.bpf")
		if err != nil {
			t.Fatal(err)
		}
		err = ExportBPF(mustBuild(t, o), f)
		if err != nil {
			t.Errorf("%s/%s: ExportBPF: %v", kc.policy, kc.name, err)
		}
		st, _ := f.Stat()
		f.Close()
		if st.Size() == 0 || st.Size()%8 != 0 || st.Size()/8 > 4096 {
			t.Errorf("%s/%s: %d bytes of BPF", kc.policy, kc.name, st.Size())
		}
	}
}
