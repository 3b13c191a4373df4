package sensors

import (
	"time"

	"github.com/palier-lifts/palier/wire"
)

// LostAfterFailedPolls is how many failed polls in a row mean the link to
// the controller is lost: one failed poll is line noise.
const LostAfterFailedPolls = 3

// Poller applies the outcome of each poll to a Machine the way the agent
// does: a good sample is stepped, a failed poll counts toward a lost link,
// and the timers tick either way. The agent and the scenario replays share
// it, so what the tests check is what the agent does.
type Poller struct {
	M        *Machine
	failures int
}

// Apply records one poll at now (s is ignored when err is not nil) and
// appends the events it causes to dst. lostNow is true on the poll that
// made the link lost.
func (p *Poller) Apply(dst []wire.Event, now time.Time, s Sample, err error) (events []wire.Event, lostNow bool) {
	if err != nil {
		p.failures++
		if p.failures == LostAfterFailedPolls {
			p.M.LinkLost(now)
			lostNow = true
		}
		return p.M.AppendTick(dst, now), lostNow
	}
	p.failures = 0
	dst = p.M.AppendStep(dst, s)
	return p.M.AppendTick(dst, now), false
}

// Lost reports whether the last polls failed often enough to lose the link.
func (p *Poller) Lost() bool { return p.failures >= LostAfterFailedPolls }
