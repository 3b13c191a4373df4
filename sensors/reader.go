package sensors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/palier-lifts/palier/hal/modbus"
	"github.com/palier-lifts/palier/wire"
)

// Bus runs Modbus read requests; *modbus.Master is one.
type Bus interface {
	Do(ctx context.Context, req modbus.Request) (modbus.Response, error)
}

var _ Bus = (*modbus.Master)(nil)

// ErrUnknownState means a register held a value the profile's enum does
// not map: the reading is refused rather than guessed.
var ErrUnknownState = errors.New("register value not in the profile's enum")

// ProfileReader polls a controller through a profile and decodes Samples.
type ProfileReader struct {
	p   *Profile
	bus Bus
	// Now stamps the samples; tests may replace it.
	Now func() time.Time

	// Read's scratch, reused from poll to poll: a poll every 100 ms
	// should not leave garbage behind. Values returns fresh maps.
	mu    sync.Mutex
	resps []modbus.Response
	vals  map[string]Value
}

// NewProfileReader reads the signals of p over bus.
func NewProfileReader(p *Profile, bus Bus) *ProfileReader {
	return &ProfileReader{p: p, bus: bus, Now: time.Now}
}

// Profile returns the profile the reader decodes with.
func (r *ProfileReader) Profile() *Profile { return r.p }

// Read runs the profile's requests and decodes one Sample. Any failed
// request fails the whole reading: a Sample is always consistent.
func (r *ProfileReader) Read(ctx context.Context) (Sample, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vals == nil {
		r.resps = make([]modbus.Response, len(r.p.requests))
		r.vals = make(map[string]Value, len(r.p.Signals))
	}
	clear(r.vals)
	if err := r.values(ctx, r.resps, r.vals); err != nil {
		return Sample{}, err
	}
	return r.sample(r.vals)
}

// Value is one decoded signal: Number for numbers, Bool for yes/no
// signals, State for enum signals.
type Value struct {
	Number float64
	Bool   bool
	State  string
	Raw    uint32 // the register value(s) as read
}

// Values runs the requests and decodes every mapped signal by name; the
// installer's probe shows them as they are.
func (r *ProfileReader) Values(ctx context.Context) (map[string]Value, error) {
	vals := make(map[string]Value, len(r.p.Signals))
	if err := r.values(ctx, make([]modbus.Response, len(r.p.requests)), vals); err != nil {
		return nil, err
	}
	return vals, nil
}

// values runs the requests into resps and decodes the signals into vals.
func (r *ProfileReader) values(ctx context.Context, resps []modbus.Response, vals map[string]Value) error {
	for i, req := range r.p.requests {
		resp, err := r.bus.Do(ctx, req)
		if err != nil {
			return fmt.Errorf("poll profile %s: %w", r.p.Name, err)
		}
		resps[i] = resp
	}
	for name, s := range r.p.Signals {
		v, err := decodeSignal(s, resps[s.req])
		if err != nil {
			return fmt.Errorf("profile %s signal %s: %w", r.p.Name, name, err)
		}
		vals[name] = v
	}
	return nil
}

func decodeSignal(s *Signal, resp modbus.Response) (Value, error) {
	if s.Table.bits() {
		if s.off >= len(resp.Bits) {
			return Value{}, fmt.Errorf("bit %d missing from the response", s.off)
		}
		b := resp.Bits[s.off]
		v := Value{Bool: b}
		if b {
			v.Raw, v.Number = 1, 1
		}
		return v, nil
	}
	regs := resp.Registers
	if s.off+s.Type.words() > len(regs) {
		return Value{}, fmt.Errorf("register %d missing from the response", int(s.Address)+s.Type.words()-1)
	}
	var raw uint32
	var num float64
	switch s.Type {
	case TypeU16:
		raw = uint32(regs[s.off])
		num = float64(raw)
	case TypeI16:
		raw = uint32(regs[s.off])
		num = float64(int16(regs[s.off]))
	default:
		hi, lo := regs[s.off], regs[s.off+1]
		if s.WordOrder == LowWordFirst {
			hi, lo = lo, hi
		}
		raw = uint32(hi)<<16 | uint32(lo)
		switch s.Type {
		case TypeU32:
			num = float64(raw)
		case TypeI32:
			num = float64(int32(raw))
		case TypeF32:
			num = float64(math.Float32frombits(raw))
			if math.IsNaN(num) || math.IsInf(num, 0) {
				return Value{}, fmt.Errorf("f32 register holds %v", num)
			}
		}
	}
	v := Value{Raw: raw}
	kind, _, _ := signalKindOf(s.Name)
	switch kind {
	case kindBool:
		if s.Bit >= 0 {
			v.Bool = raw>>s.Bit&1 == 1
		} else {
			v.Bool = raw != 0
		}
		if v.Bool {
			v.Number = 1
		}
	case kindEnum:
		key := int(num)
		st, ok := s.Enum[key]
		if !ok {
			return Value{}, fmt.Errorf("value %d: %w", key, ErrUnknownState)
		}
		v.State, v.Number = st, num
	default:
		v.Number = num*s.Scale + s.Offset
	}
	return v, nil
}

func (r *ProfileReader) sample(vals map[string]Value) (Sample, error) {
	s := Sample{Time: r.Now(), Direction: wire.DirectionNone, Mode: wire.ModeNormal}
	if v, ok := vals[SigFloor]; ok {
		s.Floor = int(math.Round(v.Number))
	}
	if v, ok := vals[SigPositionMM]; ok {
		s.PositionMM = int64(math.Round(v.Number))
		s.Has |= HasPosition
	}
	if v, ok := vals[SigDirection]; ok {
		s.Direction = v.State
	} else {
		up, down := vals[SigDirectionUp].Bool, vals[SigDirectionDown].Bool
		switch {
		case up && !down:
			s.Direction = wire.DirectionUp
		case down && !up:
			s.Direction = wire.DirectionDown
		}
	}
	if v, ok := vals[SigMoving]; ok {
		s.Moving = v.Bool
	} else {
		// Without a moving signal, a direction means the car runs.
		s.Moving = s.Direction != wire.DirectionNone
	}
	if v, ok := vals[SigDoorZone]; ok {
		s.DoorZone = v.Bool
		s.Has |= HasDoorZone
	}
	if v, ok := vals[SigDoorA]; ok {
		s.Doors = append(s.Doors, v.State)
		if v, ok := vals[SigDoorB]; ok {
			s.Doors = append(s.Doors, v.State)
		}
	}
	if v, ok := vals[SigMode]; ok {
		s.Mode = v.State
	}
	if v, ok := vals[SigFaultCode]; ok {
		s.FaultCode = int(math.Round(v.Number))
		s.Has |= HasFault
	}
	if v, ok := vals[SigAlarm]; ok {
		s.Alarm = v.Bool
		s.Has |= HasAlarm
	}
	if v, ok := vals[SigCallsPending]; ok {
		s.CallsPending = v.Bool
		s.Has |= HasCalls
	}
	if v, ok := vals[SigLoadPercent]; ok {
		s.LoadPercent = int(math.Round(v.Number))
		s.Has |= HasLoad
	}
	return s, nil
}
