package outbox

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	crashKills = flag.Int("outbox.kills", 200, "SIGKILLs of the writer child in TestCrashKill")
	crashSeed  = flag.Uint64("outbox.seed", 0, "random seed for the crash and property tests; 0 picks one")
)

// The child process is this test binary re-executed with these variables.
const (
	envChild      = "OUTBOX_CRASH_CHILD" // "writer" or "open"
	envPath       = "OUTBOX_CRASH_PATH"
	envHook       = "OUTBOX_CRASH_HOOK"       // a Hook* point where the child kills itself
	envHookAfter  = "OUTBOX_CRASH_HOOK_AFTER" // ... on its nth visit
	envSeed       = "OUTBOX_CRASH_SEED"
	envCompactMin = "OUTBOX_CRASH_COMPACT_MIN"
)

func testSeed(t *testing.T) uint64 {
	s := *crashSeed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -outbox.seed=%d)", s, s)
	return s
}

// TestCrashChild is the child side of the crash tests; it does nothing in a
// normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" {
		t.Skip("child process of the crash tests")
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		// One write per line: the line is in the pipe before the next step,
		// so the parent knows everything that was acknowledged before a kill.
		line := fmt.Sprintf(format+"\n", args...)
		out.Lock()
		os.Stdout.WriteString(line)
		out.Unlock()
	}
	hook, _ := strconv.Atoi(os.Getenv(envHookAfter))
	var visits atomic.Int64
	opts := Options{ResendAfter: 20 * time.Millisecond}
	if point := os.Getenv(envHook); point != "" {
		opts.TestHook = func(p string) {
			if p == point && visits.Add(1) >= int64(hook) {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
	if n, err := strconv.ParseInt(os.Getenv(envCompactMin), 10, 64); err == nil {
		opts.CompactMinBytes = n
	}
	o, err := Open(context.Background(), os.Getenv(envPath), opts)
	if err != nil {
		say("error open: %v", err)
		os.Exit(3)
	}
	say("ready %s", o.Epoch())
	if mode == "open" {
		os.Exit(0)
	}
	seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
	ctx := context.Background()
	for g := range 8 {
		go func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := 0; ; i++ {
				p := fmt.Sprintf("s%d-g%d-i%d-%s", seed, g, i, strings.Repeat("x", r.IntN(300)))
				seq, err := o.Append(ctx, Class(r.IntN(numClasses)), []byte(p))
				if err != nil {
					say("error append: %v", err)
					os.Exit(3)
				}
				say("ack %s %d %s", o.Epoch(), seq, p)
			}
		}()
	}
	r := rand.New(rand.NewPCG(seed, 99))
	for {
		es, err := o.Lease(ctx, 1+r.IntN(50), 0)
		if err != nil {
			say("error lease: %v", err)
			os.Exit(3)
		}
		seqs := seqsOf(es)
		switch x := r.IntN(10); {
		case x == 0:
			o.Release(seqs)
		default:
			if err := o.MarkSent(seqs); err != nil {
				say("error mark sent: %v", err)
				os.Exit(3)
			}
			if x < 4 {
				// Announced before it happens: the parent must allow for it.
				hi := slices.Max(seqs)
				upTo := hi - min(hi, uint64(r.IntN(20)))
				say("confirm %s %d", o.Epoch(), upTo)
				if _, err := o.Confirm(o.Epoch(), upTo); err != nil {
					say("error confirm: %v", err)
					os.Exit(3)
				}
			}
		}
	}
}

// child runs one child process and returns its output lines once it exits.
type child struct {
	cmd   *exec.Cmd
	ready chan string
	done  chan struct{}
	all   []string
}

func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := selfCommand("-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, ready: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ready ") {
				c.ready <- strings.TrimPrefix(line, "ready ")
			}
			c.all = append(c.all, line)
		}
	}()
	return c
}

// wait reaps the child and reports whether it died of SIGKILL.
func (c *child) wait(t *testing.T) (killed bool) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		t.Fatal("child output did not end within 30 s")
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	for _, l := range c.all {
		if strings.HasPrefix(l, "error ") {
			t.Fatalf("child: %s", l)
		}
	}
	return false
}

// TestCrashKill SIGKILLs a writing child at random moments, and at the
// internal points where a crash matters, then checks after each kill that
// every acknowledged entry is in the file, that sequences have no gap and
// that the file passes bbolt's check.
func TestCrashKill(t *testing.T) {
	if os.Getenv(envChild) != "" {
		t.Skip("in a child")
	}
	kills := *crashKills
	if testing.Short() {
		kills = min(kills, 50)
	}
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "outbox.db")

	acked := map[uint64]string{} // every acknowledged entry ever
	var epoch string
	var maxConfirm, lastSeq uint64
	hookKills, ackTotal := 0, 0
	deadline := time.Now().Add(10 * time.Minute)
	for i := range kills {
		if time.Now().After(deadline) {
			t.Fatalf("only %d kills in 10 minutes", i)
		}
		env := []string{envChild + "=writer", envPath + "=" + path, envSeed + "=" + fmt.Sprint(r.Uint64())}
		usesHook := r.IntN(4) == 0
		if usesHook {
			point := []string{HookAppendCommitted, HookMarkedSent}[r.IntN(2)]
			env = append(env, envHook+"="+point, envHookAfter+"="+fmt.Sprint(1+r.IntN(20)))
		}
		c := startChild(t, env...)
		if r.IntN(10) == 0 {
			// Sometimes during start-up and recovery.
			time.Sleep(time.Duration(r.IntN(30)) * time.Millisecond)
		} else {
			select {
			case <-c.ready:
			case <-c.done:
			case <-time.After(20 * time.Second):
				t.Fatal("child not ready within 20 s")
			}
			time.Sleep(time.Duration(r.IntN(25)) * time.Millisecond)
		}
		c.cmd.Process.Signal(syscall.SIGKILL)
		if !c.wait(t) {
			t.Fatalf("kill %d: child exited on its own: %v", i, c.all)
		}
		for _, l := range c.all {
			f := strings.SplitN(l, " ", 4)
			switch f[0] {
			case "ready":
				if epoch == "" {
					epoch = f[1]
				} else if f[1] != epoch {
					t.Fatalf("kill %d: epoch changed from %s to %s: the file was reset", i, epoch, f[1])
				}
			case "ack":
				seq, _ := strconv.ParseUint(f[2], 10, 64)
				if _, dup := acked[seq]; dup {
					t.Fatalf("kill %d: sequence %d acknowledged twice", i, seq)
				}
				acked[seq] = f[3]
				ackTotal++
			case "confirm":
				up, _ := strconv.ParseUint(f[2], 10, 64)
				maxConfirm = max(maxConfirm, up)
			}
		}
		if usesHook && slices.ContainsFunc(c.all, func(l string) bool { return strings.HasPrefix(l, "ready") }) {
			hookKills++
		}
		lastSeq = verifyAfterCrash(t, i, path, epoch, acked, maxConfirm, lastSeq)
	}
	t.Logf("%d kills (%d with a crash-point hook armed), %d acknowledged appends, last sequence %d, confirmed up to %d",
		kills, hookKills, ackTotal, lastSeq, maxConfirm)
	if ackTotal == 0 {
		t.Fatal("no append was ever acknowledged: the test proved nothing")
	}
}

// verifyAfterCrash reopens the outbox and checks it against what the child
// acknowledged. It returns the file's last sequence.
func verifyAfterCrash(t *testing.T, kill int, path, epoch string, acked map[uint64]string, maxConfirm, prevLast uint64) uint64 {
	t.Helper()
	o, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("kill %d: reopen: %v", kill, err)
	}
	defer o.Close()
	if o.Reset() != nil {
		t.Fatalf("kill %d: file reset after a process kill: %+v", kill, *o.Reset())
	}
	if epoch != "" && o.Epoch() != epoch {
		t.Fatalf("kill %d: epoch %s, want %s", kill, o.Epoch(), epoch)
	}
	if err := o.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("kill %d: consistency check: %v", kill, err)
	}
	last := o.Stats().LastSeq
	if last < prevLast {
		t.Fatalf("kill %d: last sequence went back from %d to %d", kill, prevLast, last)
	}
	entries := dump(t, o)
	have := make(map[uint64]string, len(entries))
	for j, e := range entries {
		have[e.seq] = e.payload
		// Confirm deletes only what was sent, so unsent entries may stay
		// below a confirmed one; a gap above every confirmation is a loss.
		if j > 0 && e.seq != entries[j-1].seq+1 && e.seq-1 > maxConfirm {
			t.Fatalf("kill %d: gap between sequences %d and %d above the highest confirmation %d", kill, entries[j-1].seq, e.seq, maxConfirm)
		}
	}
	if len(entries) > 0 {
		if entries[len(entries)-1].seq != last {
			t.Fatalf("kill %d: highest stored sequence %d, last sequence %d", kill, entries[len(entries)-1].seq, last)
		}
		if entries[0].seq-1 > maxConfirm {
			t.Fatalf("kill %d: sequences below %d missing but only %d were confirmed", kill, entries[0].seq, maxConfirm)
		}
	} else if last > maxConfirm {
		t.Fatalf("kill %d: empty outbox, last sequence %d, confirmed only up to %d", kill, last, maxConfirm)
	}
	for seq, p := range acked {
		if seq > last {
			t.Fatalf("kill %d: acknowledged sequence %d beyond the file's last %d", kill, seq, last)
		}
		if seq <= maxConfirm {
			continue
		}
		got, ok := have[seq]
		if !ok {
			t.Fatalf("kill %d: acknowledged sequence %d lost", kill, seq)
		}
		if got != p {
			t.Fatalf("kill %d: sequence %d holds %.40q, acknowledged %.40q", kill, seq, got, p)
		}
	}
	return last
}

// TestCrashDuringCompaction kills Open at each step of compaction and checks
// that the next Open finds every entry.
func TestCrashDuringCompaction(t *testing.T) {
	if os.Getenv(envChild) != "" {
		t.Skip("in a child")
	}
	for _, point := range []string{HookCompactCopied, HookCompactRenamed} {
		t.Run(point, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			const compactMin = 128 << 10
			o, err := Open(context.Background(), path, Options{CompactMinBytes: 1 << 40})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := range 100 {
						if _, err := o.Append(context.Background(), Class(i%3), []byte(fmt.Sprintf("%d-%d-%s", g, i, strings.Repeat("c", 400)))); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			sendUpTo(t, o, o.Stats().LastSeq-40)
			if _, err := o.Confirm(o.Epoch(), o.Stats().LastSeq-40); err != nil {
				t.Fatal(err)
			}
			want, epoch, last := dump(t, o), o.Epoch(), o.Stats().LastSeq
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}

			c := startChild(t, envChild+"=open", envPath+"="+path, envHook+"="+point, envHookAfter+"=1",
				envCompactMin+"="+fmt.Sprint(compactMin))
			if !c.wait(t) {
				t.Fatalf("child was not killed at %s (did compaction run?): %v", point, c.all)
			}
			o, err = Open(context.Background(), path, Options{CompactMinBytes: compactMin})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				o.Close()
				checkFile(t, path)
			}()
			if o.Reset() != nil || o.Epoch() != epoch || o.Stats().LastSeq != last {
				t.Fatalf("after crash in compaction: reset %+v epoch %s last %d", o.Reset(), o.Epoch(), o.Stats().LastSeq)
			}
			if got := dump(t, o); !slices.Equal(got, want) {
				t.Fatalf("after crash in compaction: %d entries, want %d", len(got), len(want))
			}
			if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stale compaction copy: %v", err)
			}
		})
	}
}

// TestCrashDuringMoveAside kills Open at each step of setting a damaged file
// aside and checks that the next Open still reports the reset, keeps the
// damaged bytes, and leaves one new outbox.
func TestCrashDuringMoveAside(t *testing.T) {
	if os.Getenv(envChild) != "" {
		t.Skip("in a child")
	}
	for _, point := range []string{HookResetCreated, HookResetMovedAside} {
		t.Run(point, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			garbage := []byte(strings.Repeat("not an outbox ", 3000))
			writeFile(t, path, garbage)
			c := startChild(t, envChild+"=open", envPath+"="+path, envHook+"="+point, envHookAfter+"=1")
			if !c.wait(t) {
				t.Fatalf("child was not killed at %s: %v", point, c.all)
			}
			o, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatalf("Open after a crash in move-aside: %v", err)
			}
			defer func() {
				o.Close()
				checkFile(t, path)
			}()
			if o.Reset() == nil {
				t.Fatal("reset lost by a crash during move-aside")
			}
			matches, _ := filepath.Glob(path + ".damaged-*")
			if len(matches) != 1 {
				t.Fatalf("damaged copies %v, want one", matches)
			}
			if b, err := os.ReadFile(matches[0]); err != nil || string(b) != string(garbage) {
				t.Fatalf("damaged bytes not kept: %v", err)
			}
			if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stale new file: %v", err)
			}
			if seq := mustAppend(t, o, ClassSafety, "outbox_reset"); seq != 1 {
				t.Fatalf("first sequence %d", seq)
			}
		})
	}
}

// selfCommand re-executes the test binary. When the tests themselves run
// under an emulator (go test -exec qemu-aarch64-static, without binfmt_misc),
// PALIER_TEST_EXEC names it so the child runs under it too.
func selfCommand(args ...string) *exec.Cmd {
	if wrapper := os.Getenv("PALIER_TEST_EXEC"); wrapper != "" {
		return exec.Command(wrapper, append([]string{os.Args[0]}, args...)...)
	}
	return exec.Command(os.Args[0], args...)
}
