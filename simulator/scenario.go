package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is a scripted sequence of steps played in simulated time.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// StartFloor is where the car waits, doors closed, at time zero.
	StartFloor int    `yaml:"start_floor"`
	Steps      []Step `yaml:"steps"`
}

// Step is one action; exactly one field is set.
type Step struct {
	Call       *int           `yaml:"call"`        // register a call to floor N
	Wait       *time.Duration `yaml:"wait"`        // let simulated time pass
	WaitIdle   *bool          `yaml:"wait_idle"`   // wait until no call is pending, car stopped, doors closed
	Reopen     *bool          `yaml:"reopen"`      // the doors reopen once at their next closing
	FaultRaise *int           `yaml:"fault_raise"` // set the active fault code
	FaultClear *int           `yaml:"fault_clear"` // clear it (0 clears any)
	Alarm      *bool          `yaml:"alarm"`       // alarm button on/off
	Mode       *string        `yaml:"mode"`        // normal, inspection, fire_service, out_of_service, overload, emergency_power
	Stop       *bool          `yaml:"stop_between_floors"`
	Resume     *bool          `yaml:"resume"`     // leave a stop between floors
	PowerLoss  *time.Duration `yaml:"power_loss"` // the controller goes silent for D
	Load       *int           `yaml:"load"`       // load percent
	DoorBlock  *bool          `yaml:"door_blocked"`
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return ParseScenario(path, bytes.NewReader(b))
}

// ParseScenario decodes a scenario strictly: unknown keys are errors.
func ParseScenario(name string, r io.Reader) (*Scenario, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("scenario %s: empty file", name)
		}
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	if s.Name == "" {
		s.Name = name
	}
	return &s, nil
}

// Validate checks each step against the building: every problem is
// reported, naming the step.
func (s *Scenario) Validate(floors int) error {
	var probs []string
	if s.StartFloor < 0 || s.StartFloor >= floors {
		probs = append(probs, fmt.Sprintf("start_floor %d not in 0..%d", s.StartFloor, floors-1))
	}
	for i, st := range s.Steps {
		n := 0
		for _, set := range []bool{st.Call != nil, st.Wait != nil, st.WaitIdle != nil, st.Reopen != nil,
			st.FaultRaise != nil, st.FaultClear != nil, st.Alarm != nil, st.Mode != nil, st.Stop != nil,
			st.Resume != nil, st.PowerLoss != nil, st.Load != nil, st.DoorBlock != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			probs = append(probs, fmt.Sprintf("step %d: %d actions, want exactly one", i+1, n))
		}
		switch {
		case st.Call != nil && (*st.Call < 0 || *st.Call >= floors):
			probs = append(probs, fmt.Sprintf("step %d: call %d not in 0..%d", i+1, *st.Call, floors-1))
		case st.Wait != nil && *st.Wait < 0, st.PowerLoss != nil && *st.PowerLoss < 0:
			probs = append(probs, fmt.Sprintf("step %d: negative duration", i+1))
		case st.FaultRaise != nil && (*st.FaultRaise <= 0 || *st.FaultRaise > 0xFFFF):
			probs = append(probs, fmt.Sprintf("step %d: fault_raise %d not in 1..65535", i+1, *st.FaultRaise))
		case st.Load != nil && (*st.Load < 0 || *st.Load > 200):
			probs = append(probs, fmt.Sprintf("step %d: load %d not in 0..200", i+1, *st.Load))
		case st.Mode != nil:
			if _, ok := modeByName(*st.Mode); !ok {
				probs = append(probs, fmt.Sprintf("step %d: unknown mode %q", i+1, *st.Mode))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("scenario %s: %s", s.Name, strings.Join(probs, "; "))
	}
	return nil
}

// player plays a scenario against the car.
type player struct {
	s        *Scenario
	i        int
	waitLeft time.Duration
	waiting  bool
}

// advance runs the steps that are due; it reports whether the scenario
// is finished.
func (p *player) advance(c *car, dt time.Duration) bool {
	if p.waiting && p.waitLeft > 0 {
		p.waitLeft -= dt
	}
	for p.i < len(p.s.Steps) {
		st := p.s.Steps[p.i]
		switch {
		case st.Wait != nil:
			if !p.waiting {
				p.waiting, p.waitLeft = true, *st.Wait
			}
			if p.waitLeft > 0 {
				return false
			}
			p.waiting = false
		case st.WaitIdle != nil && *st.WaitIdle:
			if !c.idle() {
				return false
			}
		default:
			apply(c, st)
		}
		p.i++
	}
	return true
}

func apply(c *car, st Step) {
	switch {
	case st.Call != nil:
		c.call(*st.Call)
	case st.Reopen != nil:
		c.reopen = *st.Reopen
	case st.FaultRaise != nil:
		c.fault = uint16(*st.FaultRaise)
	case st.FaultClear != nil:
		if *st.FaultClear == 0 || uint16(*st.FaultClear) == c.fault {
			c.fault = 0
		}
	case st.Alarm != nil:
		c.alarm = *st.Alarm
	case st.Mode != nil:
		c.mode, _ = modeByName(*st.Mode)
	case st.Stop != nil && *st.Stop:
		c.stopBetweenFloors()
	case st.Resume != nil && *st.Resume:
		c.resume()
	case st.PowerLoss != nil:
		c.powerOff = *st.PowerLoss
		c.door, c.doorT = DoorClosed, 0
		c.moving = false // the car stops where it is; it resumes when power is back
	case st.Load != nil:
		c.load = uint16(*st.Load)
	case st.DoorBlock != nil:
		if *st.DoorBlock {
			c.door, c.doorT = DoorBlocked, 0
		} else if c.door == DoorBlocked {
			c.door, c.doorT = DoorClosing, 0
		}
	}
}
