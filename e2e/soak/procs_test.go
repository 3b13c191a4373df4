package soak_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the module's root, where the binaries are built from.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildBinaries builds the three commands once into dir, without the race
// detector: the soak is about the processes' behaviour under faults, and
// plain binaries start faster and leave the machine's CPU to the traffic.
func buildBinaries(t *testing.T, dir string) {
	t.Helper()
	start := time.Now()
	// As scripts/package.sh builds them (-trimpath, no cgo): scripts/test.sh
	// vets the same way first, so these compile from its cache.
	cmd := exec.Command("go", "build", "-trimpath", "-o", dir+string(filepath.Separator), "./cmd/agent", "./cmd/receiver", "./cmd/elevatorsim")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built agent, receiver and elevatorsim in %s", time.Since(start).Round(100*time.Millisecond))
}

// proc is one of the chain's processes, started again after each kill. Its
// stdout and stderr are appended to one file each, with a line marking
// every start and kill, so that the end of a file shows what the process
// said around the last fault.
type proc struct {
	name       string
	bin        string
	stdoutPath string
	stderrPath string
	epoch      time.Time // the soak's start, for the markers

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current run has ended
	waitErr error
	ended   bool  // the test ended the current run (kill or stop)
	starts  int   // runs started
	logFrom int64 // size of the stderr file when the current run started
}

func newProc(name, bin, logDir string, epoch time.Time) *proc {
	return &proc{
		name:       name,
		bin:        bin,
		stdoutPath: filepath.Join(logDir, name+".stdout"),
		stderrPath: filepath.Join(logDir, name+".stderr"),
		epoch:      epoch,
	}
}

// mark appends a line to both log files.
func (p *proc) mark(format string, args ...any) {
	line := fmt.Sprintf("=== soak +%s: %s ===\n", time.Since(p.epoch).Round(time.Millisecond), fmt.Sprintf(format, args...))
	for _, path := range []string{p.stdoutPath, p.stderrPath} {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			continue // the marker is a help for reading, never a reason to fail
		}
		_, _ = f.WriteString(line)
		_ = f.Close()
	}
}

// start runs the binary with args. The process writes straight into the
// log files (opened for appending), so nothing in the test has to keep up
// with its output.
func (p *proc) start(args ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.exited) {
		return fmt.Errorf("start %s: already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	p.starts++
	p.mark("start #%d: %s %s", p.starts, filepath.Base(p.bin), strings.Join(args, " "))
	stdout, err := os.OpenFile(p.stdoutPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(p.stderrPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	defer stderr.Close()
	info, err := stderr.Stat()
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.waitErr, p.ended, p.logFrom = cmd, exited, nil, false, info.Size()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// kill ends the current run with SIGKILL, as a power cut or the OOM killer
// would, and waits for it.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	if cmd == nil || isClosed(exited) {
		p.mu.Unlock()
		return
	}
	p.ended = true
	p.mu.Unlock()
	p.mark("SIGKILL (pid %d)", cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop ends the current run with SIGTERM and returns an error if it does
// not exit within timeout (it is then killed) or exits non-zero.
func (p *proc) stop(timeout time.Duration) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	if cmd == nil || isClosed(exited) {
		p.mu.Unlock()
		return nil
	}
	p.ended = true
	p.mu.Unlock()
	p.mark("SIGTERM (pid %d)", cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return fmt.Errorf("%s after SIGTERM: %w", p.name, p.waitErr)
	}
	return nil
}

// died reports a run that ended without the test ending it, with how.
func (p *proc) died() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !isClosed(p.exited) || p.ended {
		return false, nil
	}
	p.ended = true // reported once
	return true, p.waitErr
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.exited)
}

// waitLog waits until the current run's stderr has a line matching re and
// returns the match, or fails when the run ends or timeout passes.
func (p *proc) waitLog(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	p.mu.Lock()
	from, exited := p.logFrom, p.exited
	p.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		b, err := readFrom(p.stderrPath, from)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m, nil
		}
		if isClosed(exited) {
			return nil, fmt.Errorf("%s exited before logging %q", p.name, re)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not log %q within %s", p.name, re, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the last n lines of both log files.
func (p *proc) tail(n int) string {
	var b strings.Builder
	for _, path := range []string{p.stderrPath, p.stdoutPath} {
		data, err := readFrom(path, 0)
		if err != nil {
			fmt.Fprintf(&b, "--- %s: %v\n", path, err)
			continue
		}
		lines := strings.SplitAfter(string(data), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		shown := lines[max(0, len(lines)-n):]
		fmt.Fprintf(&b, "--- last %d of %d lines of %s:\n%s", len(shown), len(lines), path, strings.Join(shown, ""))
		if len(shown) > 0 && !strings.HasSuffix(shown[len(shown)-1], "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// levelMsg finds the level and message of a log line (slog's text format).
var levelMsg = regexp.MustCompile(`level=(WARN|ERROR) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// complaints counts the warnings and errors the process logged over all
// its runs, by level and message, most frequent first.
func (p *proc) complaints() []string {
	data, err := readFrom(p.stderrPath, 0)
	if err != nil {
		return []string{err.Error()}
	}
	counts := map[string]int{}
	for _, m := range levelMsg.FindAllStringSubmatch(string(data), -1) {
		counts[m[1]+" "+m[2]]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d× %s", counts[k], k)
	}
	return out
}

// readFrom reads a file from offset; a file not yet created reads empty.
func readFrom(path string, offset int64) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(f)
	return b.Bytes(), err
}

func isClosed(ch chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
