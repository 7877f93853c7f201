//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	h "github.com/nixbox/nixbox/integration/harness"
)

// When nixbox's stdin is a terminal, the app gets a pty of its own: a new
// devpts instance inside the sandbox, with the host terminal's size,
// resized along with it, and ^C and the exit status coming through.

// ptyRun is nixbox running on a host pty the test holds the master of.
type ptyRun struct {
	master    *os.File
	slaveName string
	slaveDev  uint64 // st_dev of the host slave: its devpts instance

	mu  sync.Mutex
	out bytes.Buffer

	cmd  *exec.Cmd
	done chan error // the Wait result
}

// openPTY opens a host pty pair and sets its size.
func openPTY(t *testing.T, rows, cols uint16) (master, slave *os.File, name string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		h.SkipOrFail(t, "no /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("ptsname: %v", err)
	}
	name = "/dev/pts/" + strconv.Itoa(n)
	s, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		t.Fatalf("open %s: %v", name, err)
	}
	setSize(t, m, rows, cols)
	return m, s, name
}

func setSize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatalf("TIOCSWINSZ: %v", err)
	}
}

// startOnPTY starts nixbox as r with a new pty as its controlling terminal
// and stdin, stdout and stderr.
func startOnPTY(t *testing.T, r *h.Runner, rows, cols uint16, args ...string) *ptyRun {
	t.Helper()
	m, s, name := openPTY(t, rows, cols)
	var st unix.Stat_t
	if err := unix.Fstat(int(s.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if r.UID != os.Getuid() {
		if err := os.Chown(name, r.UID, r.GID); err != nil {
			t.Fatalf("chown %s: %v", name, err)
		}
	}
	p := &ptyRun{master: m, slaveName: name, slaveDev: st.Dev, done: make(chan error, 1)}
	// The context only bounds the run; waitExit kills on its own timeout.
	c := r.Cmd(context.Background(), args...)
	c.Env = append(c.Env, "TERM=xterm")
	c.Stdin, c.Stdout, c.Stderr = s, s, s
	attr := &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if c.SysProcAttr != nil {
		attr.Credential = c.SysProcAttr.Credential
	}
	c.SysProcAttr = attr
	if err := c.Start(); err != nil {
		m.Close()
		s.Close()
		t.Fatalf("starting nixbox on a pty: %v", err)
	}
	s.Close() // only nixbox holds the slave now: EIO on the master at the end
	p.cmd = c
	// Read the master continuously: a full pty blocks the writer.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			if n > 0 {
				p.mu.Lock()
				p.out.Write(buf[:n])
				p.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { p.done <- c.Wait() }()
	t.Cleanup(func() {
		if c.ProcessState == nil {
			_ = c.Process.Kill()
		}
		m.Close()
		select {
		case <-readDone:
		case <-time.After(5 * time.Second):
		}
	})
	return p
}

func (p *ptyRun) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitOutput waits until the output matches re, or fails after timeout.
func (p *ptyRun) waitOutput(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		select {
		case err := <-p.done:
			p.done <- err
			// Let the reader drain what is left, then look a last time.
			time.Sleep(200 * time.Millisecond)
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m
			}
			t.Fatalf("nixbox exited (%v) before printing %v; output:\n%q", err, re, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %v within %v; output:\n%q", re, timeout, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits for nixbox to exit and returns its status.
func (p *ptyRun) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("nixbox itself was killed by %v; output:\n%q", ws.Signal(), p.output())
			}
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("waiting for nixbox: %v", err)
		}
		return 0
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		t.Fatalf("nixbox did not exit within %v; output:\n%q", timeout, p.output())
	}
	return -1
}

// TestTTYIsSandboxPty: the app's stdin is a pty of a devpts instance of its
// own, not the host's, with the host terminal's size; output and exit
// status come back through the pty.
func TestTTYIsSandboxPty(t *testing.T) {
	py := h.Bin(t, "PYTHON3", "python3")
	script := `import os
st = os.fstat(0)
sz = os.get_terminal_size(0)
print("TTY %s dev=%d size=%dx%d isatty1=%s isatty2=%s" % (os.ttyname(0), st.st_dev, sz.lines, sz.columns, os.isatty(1), os.isatty(2)), flush=True)
`
	re := regexp.MustCompile(`TTY (\S+) dev=(\d+) size=(\d+)x(\d+) isatty1=(\w+) isatty2=(\w+)`)
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		p := startOnPTY(t, r, 37, 123, "run", "--profile", "default", py, "-c", script)
		m := p.waitOutput(t, re, 60*time.Second)
		code := p.waitExit(t, 30*time.Second)
		t.Logf("host slave %s (dev %d); inside: %s", p.slaveName, p.slaveDev, m[0])
		if code != 0 {
			t.Errorf("exit %d; output %q", code, p.output())
		}
		if !strings.HasPrefix(m[1], "/dev/pts/") {
			t.Errorf("stdin inside is %s, not a /dev/pts pty", m[1])
		}
		if m[2] == strconv.FormatUint(p.slaveDev, 10) {
			t.Errorf("stdin inside is on the host's devpts (dev %s): the host pty was passed in, not a new one", m[2])
		}
		if p.slaveName != "/dev/pts/0" && m[1] == p.slaveName {
			t.Errorf("stdin inside has the host pty's name %s", m[1])
		}
		if m[3] != "37" || m[4] != "123" {
			t.Errorf("size inside %sx%s, want 37x123 (the host pty's)", m[3], m[4])
		}
		if m[5] != "True" || m[6] != "True" {
			t.Errorf("stdout/stderr inside are not the terminal: %s", m[0])
		}
	})
}

// TestTTYResize: resizing the host terminal while the app runs reaches the
// app as SIGWINCH with the new size.
func TestTTYResize(t *testing.T) {
	py := h.Bin(t, "PYTHON3", "python3")
	script := `import os, signal, sys, time
want = (int(sys.argv[1]), int(sys.argv[2]))
def winch(sig, frame):
    sz = os.get_terminal_size(0)
    print("WINCH %dx%d" % (sz.lines, sz.columns), flush=True)
    if (sz.lines, sz.columns) == want:
        sys.exit(0)
signal.signal(signal.SIGWINCH, winch)
sz = os.get_terminal_size(0)
print("READY %dx%d" % (sz.lines, sz.columns), flush=True)
deadline = time.time() + 60
while time.time() < deadline:
    time.sleep(0.1)
print("NO-WINCH", flush=True)
sys.exit(3)
`
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		p := startOnPTY(t, r, 24, 80, "run", "--profile", "default", py, "-c", script, "51", "142")
		m := p.waitOutput(t, regexp.MustCompile(`READY (\d+x\d+)`), 60*time.Second)
		if m[1] != "24x80" {
			t.Errorf("initial size inside %s, want 24x80", m[1])
		}
		setSize(t, p.master, 51, 142)
		p.waitOutput(t, regexp.MustCompile(`WINCH 51x142`), 30*time.Second)
		if code := p.waitExit(t, 30*time.Second); code != 0 {
			t.Errorf("exit %d; output %q", code, p.output())
		}
	})
}

// TestTTYCtrlC: ^C typed on the terminal interrupts the app (a shell
// waiting for sleep 100) and nixbox exits with its status, 130.
func TestTTYCtrlC(t *testing.T) {
	sh := h.Bin(t, "BASH", "bash")
	sleep := h.Bin(t, "COREUTILS", "sleep")
	prof := h.WriteProfile(t, "withsleep", "version = 1\nextends = \"default\"\n[app]\npackages = [\""+h.Fixture(t, "COREUTILS")+"\"]\n")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		marker := strconv.Itoa(800000 + int(time.Now().UnixNano()%99999))
		p := startOnPTY(t, r, 24, 80, "run", "--profile", prof, sh, "-c",
			"echo READY; "+sleep+" "+marker+"; echo NOT-INTERRUPTED")
		p.waitOutput(t, regexp.MustCompile(`READY`), 60*time.Second)
		// ^C once sleep runs (seen from the host), so that it is sleep,
		// not the shell before it, that the ^C interrupts.
		deadline := time.Now().Add(30 * time.Second)
		for len(h.PidsWith(sleep+" "+marker)) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the sandboxed sleep never started; output %q", p.output())
			}
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		if _, err := p.master.Write([]byte{0x03}); err != nil {
			t.Fatalf("writing ^C: %v", err)
		}
		code := p.waitExit(t, 30*time.Second)
		t.Logf("exited %v after ^C", time.Since(start).Round(time.Millisecond))
		if code != 130 {
			t.Errorf("exit %d after ^C, want 130; output %q", code, p.output())
		}
		if strings.Contains(p.output(), "NOT-INTERRUPTED") {
			t.Errorf("the shell went on after ^C: %q", p.output())
		}
	})
}

// TestTTYOutputAndStatus: output and the exit status come back through the
// pty.
func TestTTYOutputAndStatus(t *testing.T) {
	sh := h.Bin(t, "BASH", "bash")
	h.ForEach(t, func(t *testing.T, r *h.Runner) {
		marker := fmt.Sprintf("through-the-pty-%d", time.Now().UnixNano())
		p := startOnPTY(t, r, 24, 80, "run", "--profile", "default", sh, "-c",
			"echo "+marker+"; echo err-"+marker+" >&2; [ -t 0 ] && [ -t 1 ] && echo IS-A-TTY; exit 7")
		code := p.waitExit(t, 60*time.Second)
		p.waitOutput(t, regexp.MustCompile(regexp.QuoteMeta(marker)+`\r?\n`), 10*time.Second)
		out := p.output()
		if code != 7 {
			t.Errorf("exit %d, want 7; output %q", code, out)
		}
		for _, want := range []string{marker + "\r\n", "err-" + marker + "\r\n", "IS-A-TTY\r\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("output %q lacks %q (with the terminal's CRLF)", out, want)
			}
		}
		if strings.Contains(out, "nixbox: error") {
			t.Errorf("nixbox reported an error: %q", out)
		}
	})
}
