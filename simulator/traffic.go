package simulator

import (
	"math/rand/v2"
	"time"
)

// dayStart is the time of day the procedural day begins: the demo starts
// with the morning rush rather than with an empty night.
const dayStart = 6 * time.Hour

// traffic is the procedural "day of traffic": calls arrive at random with a
// rate following the hour of the day (morning, lunch and evening peaks),
// with now and then a reopened door and a self-clearing fault. The same
// seed gives the same day.
type traffic struct {
	rng       *rand.Rand
	now       time.Duration // since dayStart
	nextCall  time.Duration
	faultLeft time.Duration // time until the active fault clears
	alarmRate float64       // probability per call of an alarm press
	alarmLeft time.Duration // time until the pressed alarm is released
	day       time.Duration
}

func newTraffic(seed uint64) *traffic {
	t := &traffic{rng: rand.New(rand.NewPCG(seed, 0x7472616666696321)), day: 24 * time.Hour}
	t.nextCall = t.gap()
	return t
}

// meanGap is the mean time between calls at the current hour.
func (t *traffic) meanGap() time.Duration {
	h := int((dayStart+t.now)/time.Hour) % 24
	switch {
	case h == 7 || h == 8 || h == 12 || h == 18 || h == 19:
		return 40 * time.Second
	case h >= 6 && h < 22:
		return 2 * time.Minute
	default:
		return 15 * time.Minute
	}
}

func (t *traffic) gap() time.Duration {
	return time.Duration(t.rng.ExpFloat64() * float64(t.meanGap()))
}

// advance plays dt of the day; it reports whether a full day has passed.
func (t *traffic) advance(c *car, dt time.Duration) bool {
	t.now += dt
	if t.faultLeft > 0 {
		t.faultLeft -= dt
		if t.faultLeft <= 0 {
			c.fault = 0
		}
	}
	if t.alarmLeft > 0 {
		t.alarmLeft -= dt
		if t.alarmLeft <= 0 {
			c.alarm = false
		}
	}
	for t.now >= t.nextCall {
		t.nextCall += t.gap()
		if c.powerOff > 0 {
			continue
		}
		// Half the trips start or end at the ground floor.
		f := t.rng.IntN(c.floors)
		if t.rng.IntN(2) == 0 && c.floor() != 0 {
			f = 0
		}
		c.call(f)
		if t.rng.Float64() < 0.05 {
			c.reopen = true
		}
		if c.fault == 0 && t.rng.Float64() < 0.01 {
			c.fault = 31 // a self-clearing fault of the sim profile
			t.faultLeft = time.Duration(30+t.rng.IntN(90)) * time.Second
		}
		// Drawn only when asked for: without alarms, a seed's day stays
		// the day it always was.
		if t.alarmRate > 0 && !c.alarm && t.rng.Float64() < t.alarmRate {
			c.alarm = true
			t.alarmLeft = time.Duration(5+t.rng.IntN(16)) * time.Second
		}
	}
	return t.now >= t.day
}
