package soak_test

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// fault is one kind of fault the soak injects.
type fault string

const (
	faultAgentKill    fault = "agent-kill"
	faultReceiverKill fault = "receiver-kill"
	faultLinkCut      fault = "link-cut"
	faultOutboxFull   fault = "outbox-full"
)

// deckWeights is how many of each kind one deck holds: the short form plays
// one deck, the long form deals one after another.
var deckWeights = []weight{{faultAgentKill, 3}, {faultReceiverKill, 2}, {faultLinkCut, 2}, {faultOutboxFull, 1}}

type weight struct {
	f fault
	n int
}

// parseFaults reads -soak.faults: a comma-separated list, "all" or "none".
func parseFaults(s string) ([]fault, error) {
	switch s {
	case "all":
		out := make([]fault, 0, len(deckWeights))
		for _, w := range deckWeights {
			out = append(out, w.f)
		}
		return out, nil
	case "none", "":
		return nil, nil
	}
	var out []fault
	for _, name := range strings.Split(s, ",") {
		f := fault(strings.TrimSpace(name))
		if !slices.ContainsFunc(deckWeights, func(w weight) bool { return w.f == f }) {
			return nil, fmt.Errorf("-soak.faults: unknown fault %q (want agent-kill, receiver-kill, link-cut, outbox-full, all or none)", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// deal returns a shuffled deck of the enabled faults.
func (c *chain) deal(kinds []fault) []fault {
	var deck []fault
	for _, w := range deckWeights {
		if slices.Contains(kinds, w.f) {
			for range w.n {
				deck = append(deck, w.f)
			}
		}
	}
	c.rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
	return deck
}

// inject lets traffic flow for d, with a fault at random moments. The
// first deck is played whole however short d is; later ones stop at d.
func (c *chain) inject(kinds []fault, d time.Duration) {
	c.t.Helper()
	end := time.Now().Add(d)
	deck, first := c.deal(kinds), true
	for {
		c.sleep(c.randDuration(1500*time.Millisecond, 4500*time.Millisecond))
		over := !time.Now().Before(end)
		switch {
		case len(deck) == 0 && over, len(deck) > 0 && over && !first:
			return
		case len(deck) == 0:
			if deck, first = c.deal(kinds), false; len(deck) == 0 {
				continue // no faults: traffic only
			}
		}
		f := deck[0]
		deck = deck[1:]
		switch f {
		case faultAgentKill:
			c.agentKill()
		case faultReceiverKill:
			c.receiverKill()
		case faultLinkCut:
			c.linkCut()
		case faultOutboxFull:
			c.outboxFull()
		}
	}
}

// agentKill kills the agent wherever it is (polling, appending, publishing,
// confirming) and starts it again after a moment.
func (c *chain) agentKill() {
	c.t.Helper()
	c.killAgent()
	down := c.randDuration(0, 1500*time.Millisecond)
	c.logf("agent killed, down %s", down.Round(time.Millisecond))
	c.sleep(down)
	c.startAgent(c.agentCfg)
}

// receiverKill kills the receiver and its embedded broker (JetStream and
// SQLite mid-write, acknowledgements not yet sent) and starts it again on
// the same state directory.
func (c *chain) receiverKill() {
	c.t.Helper()
	c.killReceiver()
	down := c.randDuration(0, 3*time.Second)
	c.logf("receiver killed, down %s", down.Round(time.Millisecond))
	c.sleep(down)
	c.startReceiver()
}

// linkCut refuses the link, or lets it fall silent, for a few seconds.
func (c *chain) linkCut() {
	c.t.Helper()
	// The kind seen less so far, so that a short soak sees both.
	mode := linkRefused
	switch refused, silent := c.counts.linkCuts[linkRefused], c.counts.linkCuts[linkSilent]; {
	case silent < refused, silent == refused && c.rng.IntN(2) == 0:
		mode = linkSilent
	}
	hold := c.randDuration(2*time.Second, 6*time.Second)
	c.logf("link %s for %s", mode, hold.Round(time.Millisecond))
	c.proxy.cut(mode)
	c.counts.linkCuts[mode]++
	c.sleep(hold)
	c.proxy.restore()
}

// outboxFull cuts the link (the receiver down, or the proxy refusing),
// fills the stopped agent's outbox with a backlog up to its bound, and lets
// the agent run: its own events must push older entries out, which the
// file shows when the agent is stopped (SIGKILL) to look.
func (c *chain) outboxFull() {
	c.t.Helper()
	viaReceiver := c.rng.IntN(2) == 0
	if viaReceiver {
		c.killReceiver()
	} else {
		c.proxy.cut(linkRefused)
		c.counts.linkCuts[linkRefused]++
	}
	c.sleep(c.randDuration(0, time.Second))
	c.killAgent()
	filled, added, err := c.inspectOutbox(true)
	if err != nil {
		c.fatal(err)
	}
	c.counts.backlog += added
	c.logf("outbox full: link cut (receiver down: %v), %d health reports of backlog, %d entries, %d payload bytes, %d evicted since the file was made",
		viaReceiver, added, filled.Depth(), filled.Bytes, filled.Evicted)
	c.startAgent(c.agentCfg)
	for round := 1; ; round++ {
		c.sleep(6 * time.Second)
		c.killAgent()
		after, _, err := c.inspectOutbox(false)
		if err != nil {
			c.fatal(err)
		}
		if after.Evicted > filled.Evicted {
			c.counts.outboxFills++
			c.counts.evicted += after.Evicted - filled.Evicted
			c.logf("outbox full: the agent's events evicted %d entries; %d entries, %d payload bytes", after.Evicted-filled.Evicted, after.Depth(), after.Bytes)
			break
		}
		if round == 3 {
			c.t.Errorf("+%s: the agent ran %d times 6 s on a full outbox and evicted nothing: %s", c.elapsed(), round, describe(after))
			break
		}
		c.startAgent(c.agentCfg)
	}
	c.startAgent(c.agentCfg)
	c.sleep(c.randDuration(0, 2*time.Second))
	if viaReceiver {
		c.startReceiver()
	} else {
		c.proxy.restore()
	}
}
