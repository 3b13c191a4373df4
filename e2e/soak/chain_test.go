package soak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/wire"
)

const (
	site, cabin = "soak", "a"
	// outboxMaxBytes is the least outbox.max_bytes the agent accepts
	// (agent.Config.Validate): the smaller, the sooner an outage fills it.
	outboxMaxBytes = 1 << 20
	// resendAfter is the least outbox.resend_after the agent accepts: a
	// batch lost with a killed receiver is sent again soon.
	resendAfter = time.Second
	// simSpeed is the simulator's time factor: as fast as the agent, polling
	// every 10 ms and believing a change seen in two polls, still sees every
	// door movement (the shortest, opening, lasts 2 s of simulated time).
	simSpeed = 40
)

// chain is the running chain and what the test did to it.
type chain struct {
	t     *testing.T
	dir   string
	rng   *rand.Rand
	start time.Time

	proxy                *linkProxy
	receiver, agent, sim *proc
	receiverCfg          string
	agentCfg, agentDrain string // agent configs: under faults, and for the drain (no heartbeat)
	agentRuns            string // the config the agent runs with now
	ptyLink              string
	busy, still          string // simulator scenarios
	outboxPath           string
	api                  api
	counts               counts
}

// counts are what the soak did and saw. The kills and cuts an outbox-full
// fault makes are counted with the others.
type counts struct {
	agentKills, receiverKills   int
	linkCuts                    map[linkMode]int
	outboxFills                 int    // outbox-full faults whose file showed new evictions
	backlog                     int    // health reports written as backlog
	evicted                     uint64 // entries evicted, as the outbox file counts them
	unexpectedExits             int
	agentStarts, receiverStarts int
	drainRounds                 int
	drainTime, trafficTime      time.Duration
}

// newChain prepares the directories, configurations and the link proxy;
// nothing runs yet. Every process still running when the test ends is
// killed, and on failure the end of each one's logs is printed.
func newChain(t *testing.T, seed uint64, binDir string) *chain {
	t.Helper()
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o750); err != nil {
		t.Fatal(err)
	}
	c := &chain{
		t:          t,
		dir:        dir,
		rng:        rand.New(rand.NewPCG(seed, 0x736f616b)),
		start:      time.Now(),
		ptyLink:    filepath.Join(dir, "ttySIM"),
		outboxPath: filepath.Join(dir, "agent", "outbox.db"),
		counts:     counts{linkCuts: map[linkMode]int{}},
	}
	c.proxy = newLinkProxy(nettest.Listen(t))
	c.receiver = newProc("receiver", filepath.Join(binDir, "receiver"), logDir, c.start)
	c.agent = newProc("agent", filepath.Join(binDir, "agent"), logDir, c.start)
	c.sim = newProc("elevatorsim", filepath.Join(binDir, "elevatorsim"), logDir, c.start)
	t.Cleanup(func() {
		for _, p := range []*proc{c.agent, c.sim, c.receiver} {
			p.kill()
		}
		c.proxy.close()
		if *logsFlag != "" {
			if err := copyLogs(logDir, *logsFlag); err != nil {
				t.Errorf("-soak.logs: %v", err)
			} else {
				t.Logf("the processes' logs are in %s", *logsFlag)
			}
		}
		if t.Failed() {
			for _, p := range []*proc{c.receiver, c.agent, c.sim} {
				t.Logf("%s logs (%d runs):\n%s", p.name, p.starts, p.tail(60))
			}
		}
	})
	c.writeConfigs(t)
	return c
}

// writeConfigs writes the receiver's and the agent's config files and the
// simulator's scenarios.
func (c *chain) writeConfigs(t *testing.T) {
	t.Helper()
	token := fmt.Sprintf("%016x%016x", c.rng.Uint64(), c.rng.Uint64())
	tokenFile := filepath.Join(c.dir, "token")
	write(t, tokenFile, token+"\n")
	c.api = api{token: token, hc: &http.Client{Timeout: 20 * time.Second}}

	// The embedded server takes free ports (-1) at each start; the test
	// reads them from the "receiver ready" line. ack_wait is short so that
	// what a killed receiver had fetched is delivered again within the
	// soak, not after the default 30 s.
	c.receiverCfg = filepath.Join(c.dir, "receiver.yaml")
	write(t, c.receiverCfg, fmt.Sprintf(`state_dir: %q
nats:
  embedded:
    port: -1
    mqtt_port: -1
stream:
  ack_wait: 5s
acks:
  resend_interval: 1s
http:
  listen: 127.0.0.1:0
  tokens:
    - name: soak
      role: admin
      file: %q
`, filepath.Join(c.dir, "receiver"), tokenFile))

	// The agent: the simulator's profile over the pty at its fastest line,
	// the least outbox bound and resend delay it accepts, a short
	// keep-alive so that a silent link is noticed, debounce off (the two
	// polls rule remains) since simulated time runs 40 times faster. The
	// keep-alive is 2 s, not the 1 s the agent accepts: nats-server
	// truncates 1.5 × 1 s to 1 s and closes an idle 1 s session before
	// paho's ping (sent after 1 to 1.25 s of silence) arrives.
	agentYAML := func(heartbeat time.Duration) string {
		return fmt.Sprintf(`site: %s
cabin: %s
state_dir: %q
controller:
  profile: %q
  port: %q
  baud: 115200
  parity: E
  poll_interval: 10ms
outbox:
  max_bytes: %d
  resend_after: %s
uplink:
  broker: tcp://%s
  protocol: "3.1.1"
  keep_alive: 2s
  backoff_min: 50ms
  backoff_max: 1s
screen:
  socket: %q
metrics:
  listen: ""
events:
  debounce: 0s
  heartbeat_interval: %s
  max_floors_per_second: 50
`, site, cabin, filepath.Join(c.dir, "agent"), filepath.Join(repoRoot(t), "sensors", "profiles", "palier-sim.yaml"),
			c.ptyLink, outboxMaxBytes, resendAfter, c.proxy.Addr(), filepath.Join(c.dir, "agent.sock"), heartbeat)
	}
	c.agentCfg = filepath.Join(c.dir, "agent.yaml")
	write(t, c.agentCfg, agentYAML(time.Second))
	// Draining, the agent appends nothing of its own (a heartbeat every
	// second would keep one event in flight at any moment).
	c.agentDrain = filepath.Join(c.dir, "agent-drain.yaml")
	write(t, c.agentDrain, agentYAML(24*time.Hour))

	c.busy = filepath.Join(c.dir, "busy.yaml")
	write(t, c.busy, busyScenario(c.rng, int((*duration+5*time.Minute).Seconds()*simSpeed/10)))
	c.still = filepath.Join(c.dir, "still.yaml")
	write(t, c.still, "name: still\ndescription: the car stands at floor 0, doors closed\nstart_floor: 0\nsteps:\n  - wait: 24h\n")
}

// copyLogs copies the log files of dir into to.
func copyLogs(dir, to string) error {
	if err := os.MkdirAll(to, 0o750); err != nil {
		return fmt.Errorf("copy logs: %w", err)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("copy logs: %w", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(to, f.Name()), b, 0o600)
		}
		if err != nil {
			return fmt.Errorf("copy logs: %w", err)
		}
	}
	return nil
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// busyScenario keeps the car busy: a call as soon as the car is idle,
// sometimes a reopened door, now and then a fault or the alarm (safety
// events, which the outbox never evicts).
func busyScenario(rng *rand.Rand, calls int) string {
	const floors = 9 // the simulator's default
	var b strings.Builder
	b.WriteString("name: soak-busy\ndescription: calls one after another, for the soak test\nstart_floor: 0\nsteps:\n  - wait: 1s\n")
	floor := 0
	for range calls {
		next := rng.IntN(floors - 1)
		if next >= floor {
			next++
		}
		fmt.Fprintf(&b, "  - call: %d\n", next)
		if rng.IntN(8) == 0 {
			b.WriteString("  - reopen: true\n")
		}
		b.WriteString("  - wait_idle: true\n")
		switch rng.IntN(30) {
		case 0:
			b.WriteString("  - fault_raise: 31\n  - wait: 4s\n  - fault_clear: 31\n")
		case 1:
			b.WriteString("  - alarm: true\n  - wait: 3s\n  - alarm: false\n")
		}
		floor = next
	}
	return b.String()
}

var (
	receiverReady = regexp.MustCompile(`msg="receiver ready" http=(\S+) .*mqtt=tcp://(\S+)`)
	agentStarted  = regexp.MustCompile(`msg="agent started"`)
)

// fatal stops the test; the cleanup prints the logs.
func (c *chain) fatal(err error) {
	c.t.Helper()
	c.t.Fatalf("+%s: %v", c.elapsed(), err)
}

func (c *chain) elapsed() time.Duration { return time.Since(c.start).Round(100 * time.Millisecond) }

func (c *chain) logf(format string, args ...any) {
	c.t.Helper()
	c.t.Logf("+%s: %s", c.elapsed(), fmt.Sprintf(format, args...))
}

// startReceiver starts the receiver on its state directory and points the
// proxy and the API at the ports it got.
func (c *chain) startReceiver() {
	c.t.Helper()
	if err := c.receiver.start("--config", c.receiverCfg); err != nil {
		c.fatal(err)
	}
	c.counts.receiverStarts++
	m, err := c.receiver.waitLog(receiverReady, time.Minute)
	if err != nil {
		c.fatal(err)
	}
	c.api.base = "http://" + m[1]
	c.proxy.setUpstream(m[2])
}

// killReceiver kills the receiver, embedded broker and all.
func (c *chain) killReceiver() {
	c.proxy.setUpstream("")
	c.receiver.kill()
	c.counts.receiverKills++
}

func (c *chain) startAgent(cfg string) {
	c.t.Helper()
	if err := c.agent.start("run", "--config", cfg); err != nil {
		c.fatal(err)
	}
	c.agentRuns = cfg
	c.counts.agentStarts++
	if _, err := c.agent.waitLog(agentStarted, 30*time.Second); err != nil {
		c.fatal(err)
	}
}

func (c *chain) killAgent() {
	c.agent.kill()
	c.counts.agentKills++
}

// startSimulator serves scenario on a new pty linked at c.ptyLink.
func (c *chain) startSimulator(scenario string) {
	c.t.Helper()
	_ = os.Remove(c.ptyLink) // a previous run's link points at a pty that is gone
	if err := c.sim.start("--pty", "--pty-link", c.ptyLink, "--baud", "115200", "--parity", "E",
		"--speed", fmt.Sprint(simSpeed), "--seed", fmt.Sprint(c.rng.Uint64()), "--scenario", scenario); err != nil {
		c.fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(c.ptyLink); err == nil {
			return
		}
		if !c.sim.running() || time.Now().After(deadline) {
			c.fatal(fmt.Errorf("the simulator's pty %s did not appear", c.ptyLink))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkAlive reports a process that ended without the test ending it and
// starts it again, as systemd would (the simulator stands for the
// elevator: losing it ends the test).
func (c *chain) checkAlive() {
	c.t.Helper()
	for _, p := range []*proc{c.receiver, c.agent, c.sim} {
		died, err := p.died()
		if !died {
			continue
		}
		c.counts.unexpectedExits++
		c.t.Errorf("+%s: %s exited by itself (%v); last lines:\n%s", c.elapsed(), p.name, err, p.tail(30))
		switch p {
		case c.receiver:
			c.proxy.setUpstream("")
			c.startReceiver()
		case c.agent:
			c.startAgent(c.agentRuns)
		default:
			c.fatal(fmt.Errorf("the simulator stopped"))
		}
	}
}

// sleep waits d, watching the processes.
func (c *chain) sleep(d time.Duration) {
	c.t.Helper()
	end := time.Now().Add(d)
	for {
		c.checkAlive()
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 200*time.Millisecond))
	}
}

// randDuration draws a duration in [lo, hi).
func (c *chain) randDuration(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)))
}

// inspectOutbox opens the stopped agent's outbox file as the agent does at
// its next start (agent.New: outbox.max_bytes bounds the file) and returns
// its statistics. With fill, it first appends health reports, dated over
// the past hours, until the outbox evicts to make room: an outbox at its
// bound, as an agent offline for long would hold. It returns how many it
// appended. A file that Open had to set aside is left for the agent to
// report (the reset is reported by the first event appended).
func (c *chain) inspectOutbox(fill bool) (outbox.Stats, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ob, err := outbox.Open(ctx, c.outboxPath, outbox.Options{MaxBytes: outboxMaxBytes, MaxFileBytes: outboxMaxBytes, ResendAfter: resendAfter})
	if err != nil {
		return outbox.Stats{}, 0, fmt.Errorf("inspect the agent's outbox: %w", err)
	}
	added := 0
	if r := ob.Reset(); r != nil {
		c.t.Errorf("+%s: the agent's outbox file was damaged (%s) and set aside to %s", c.elapsed(), r.Reason, r.MovedTo)
	} else if fill {
		added, err = fillOutbox(ctx, ob)
	}
	st := ob.Stats()
	if cerr := ob.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the agent's outbox: %w", cerr)
	}
	return st, added, err
}

// fillOutbox appends health reports until the outbox evicts one to make
// room. They go in rounds of concurrent appends, which share a commit,
// instead of one fsync each; a round overshoots the bound by a few entries
// at most.
func fillOutbox(ctx context.Context, ob *outbox.Outbox) (int, error) {
	const round, most = 64, 1 << 20
	start := ob.Stats().Evicted
	first := time.Now().Add(-24 * time.Hour)
	added := 0
	for ob.Stats().Evicted == start {
		if added >= most {
			return added, fmt.Errorf("fill the outbox: %d health reports appended and nothing evicted", added)
		}
		errs := make(chan error, round)
		var wg sync.WaitGroup
		for i := range round {
			n := uint64(added + i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := healthReport(first.Add(time.Duration(n)*5*time.Second), n)
				if err == nil {
					_, err = ob.Append(ctx, outbox.ClassTelemetry, b)
				}
				if err != nil {
					errs <- fmt.Errorf("fill the outbox: %w", err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return added, err
		}
		added += round
	}
	return added, nil
}

// healthReport is a health event as the agent stores it in its outbox.
func healthReport(at time.Time, i uint64) ([]byte, error) {
	ev, err := wire.NewEvent(at, wire.TypeHealth, wire.HealthData{UptimeSeconds: 3600 + 5*i, OutboxDepth: i, OldestPendingAgeS: float64(5 * i)})
	if err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}
